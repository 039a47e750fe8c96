using Tracelet.Abstractions;
using Tracelet.Backends.Prometheus;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Backends.Tests.Prometheus;

/// <summary>
/// A real Prometheus server (Debian's package, installed by ./test.sh) scrapes the backend's own
/// listen endpoint on 127.0.0.1; its query API must return what the backend was given.
/// </summary>
[Trait("Category", "Prometheus")]
public sealed class PrometheusScrapeSpec : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly PrometheusBackend _backend = new();
    private readonly string _nodeId = "scrape-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _listen = $"127.0.0.1:{NodeBuild.FreeLoopbackPort()}";

    public async Task InitializeAsync()
    {
        await _backend.InitializeAsync(new PluginContext(_nodeId, Path.GetTempPath(), PluginConfig.Parse($$"""{ "listen": "{{_listen}}" }""")), CancellationToken.None);
        await _backend.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await _backend.StopAsync(CancellationToken.None);

    [Fact]
    public async Task Prometheus_scrapes_the_samples_with_their_values_and_labels()
    {
        await _backend.WriteAsync(new MetricBatch("node-a", "gpu",
        [
            new("gpu.power-usage", MetricType.System, 123.25, DateTimeOffset.UtcNow, "gpu", Labels: [new("gpu.uuid", "GPU-42"), new("index", "3")]),
            new("gpu.nan", MetricType.System, double.NaN, DateTimeOffset.UtcNow, "gpu"),
            new("gpu.inf", MetricType.System, double.PositiveInfinity, DateTimeOffset.UtcNow, "gpu"),
            new("gpu.neginf", MetricType.System, double.NegativeInfinity, DateTimeOffset.UtcNow, "gpu"),
            new("job.info", MetricType.System, 1, DateTimeOffset.UtcNow, "gpu", Labels: [new("cmd", "python train.py \\\n  --lr \"0.1\"")]),
        ]), CancellationToken.None);

        await using var prometheus = await PrometheusServer.StartAsync([_listen]);

        var power = Assert.Single(await prometheus.WaitForAsync("gpu_power_usage{node=\"node-a\"}", Deadline));
        Assert.Equal(123.25, PrometheusServer.NumberOf(power));
        Assert.Equal("gpu", PrometheusServer.LabelOf(power, "source"));
        Assert.Equal("GPU-42", PrometheusServer.LabelOf(power, "gpu_uuid"));
        Assert.Equal("3", PrometheusServer.LabelOf(power, "index"));

        // Everything came in the same scrape, so the rest is there already.
        Assert.Equal("NaN", PrometheusServer.ValueOf(Assert.Single(await prometheus.QueryAsync("gpu_nan{node=\"node-a\"}"))));
        Assert.Equal("+Inf", PrometheusServer.ValueOf(Assert.Single(await prometheus.QueryAsync("gpu_inf{node=\"node-a\"}"))));
        Assert.Equal("-Inf", PrometheusServer.ValueOf(Assert.Single(await prometheus.QueryAsync("gpu_neginf{node=\"node-a\"}"))));
        var job = Assert.Single(await prometheus.QueryAsync("job_info{node=\"node-a\"}"));
        Assert.Equal("python train.py \\\n  --lr \"0.1\"", PrometheusServer.LabelOf(job, "cmd"));
    }

    [Fact]
    public async Task Prometheus_sees_a_new_value_after_the_backend_is_written_again()
    {
        await _backend.WriteAsync(new MetricBatch("node-b", "heartbeat", [new("tracelet.heartbeat.sequence", MetricType.System, 1, DateTimeOffset.UtcNow, "heartbeat")]), CancellationToken.None);
        await using var prometheus = await PrometheusServer.StartAsync([_listen]);
        await prometheus.WaitForAsync("tracelet_heartbeat_sequence{node=\"node-b\"} == 1", Deadline);

        await _backend.WriteAsync(new MetricBatch("node-b", "heartbeat", [new("tracelet.heartbeat.sequence", MetricType.System, 2, DateTimeOffset.UtcNow, "heartbeat")]), CancellationToken.None);

        var row = Assert.Single(await prometheus.WaitForAsync("tracelet_heartbeat_sequence{node=\"node-b\"} == 2", Deadline));
        Assert.Equal("heartbeat", PrometheusServer.LabelOf(row, "source"));
    }
}
