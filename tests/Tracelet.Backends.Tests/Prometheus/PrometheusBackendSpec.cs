using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Tracelet.Abstractions;
using Tracelet.Backends.Prometheus;
using Xunit;

namespace Tracelet.Backends.Tests.Prometheus;

public sealed class PrometheusBackendSpec : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
    private readonly PrometheusBackend _backend;
    private readonly string _nodeId = "spec-node-" + Guid.NewGuid().ToString("N")[..8];

    public PrometheusBackendSpec() => _backend = new PrometheusBackend(_clock);

    public Task InitializeAsync() => Start("""{ "stale-after": "1m" }""");

    public async Task DisposeAsync() => await _backend.StopAsync(CancellationToken.None);

    [Fact]
    public async Task Exposes_samples_as_gauges_with_sanitised_names_and_node_and_source_labels()
    {
        await Write(Sample("gpu.power-usage", 123.5, ("gpu.uuid", "GPU-1"), ("index", "0")));

        var text = await Text();

        Assert.Contains("# TYPE gpu_power_usage gauge", text);
        Assert.Contains("gpu_power_usage{node=\"n1\",source=\"gpu\",gpu_uuid=\"GPU-1\",index=\"0\"} 123.5", text);
    }

    [Fact]
    public async Task Names_starting_with_a_digit_or_holding_odd_characters_follow_prometheus_rules()
    {
        await Write(Sample("9lives/µs", 1, ("__secret", "x"), ("0rank", "3")));

        var text = await Text();

        Assert.Contains("_9lives__s{node=\"n1\",source=\"gpu\",_0rank=\"3\",_secret=\"x\"} 1", text);
    }

    [Fact]
    public async Task Prefix_goes_before_every_metric_name()
    {
        await _backend.StopAsync(CancellationToken.None);
        var backend = new PrometheusBackend(_clock);
        await backend.InitializeAsync(new PluginContext(_nodeId, Path.GetTempPath(), PluginConfig.Parse("""{ "prefix": "tracelet_" }""")), CancellationToken.None);
        await backend.WriteAsync(new MetricBatch("n1", "gpu", [Sample("gpu.temperature", 61)]), CancellationToken.None);

        Assert.Contains("tracelet_gpu_temperature{node=\"n1\",source=\"gpu\"} 61", await backend.Exposition.ToTextAsync());
    }

    [Fact]
    public async Task NaN_and_infinities_are_exposed_and_counted()
    {
        await Write(Sample("a.nan", double.NaN), Sample("a.pos", double.PositiveInfinity), Sample("a.neg", double.NegativeInfinity));

        var text = await Text();

        Assert.Contains("a_nan{node=\"n1\",source=\"gpu\"} NaN", text);
        // prometheus-net writes .NET's "Infinity" in the 0.0.4 text format; Prometheus reads it as +Inf (PrometheusScrapeSpec checks).
        Assert.Contains("a_pos{node=\"n1\",source=\"gpu\"} Infinity", text);
        Assert.Contains("a_neg{node=\"n1\",source=\"gpu\"} -Infinity", text);
        Assert.Equal(3L, Status("non_finite_values"));
        Assert.Contains("a.neg", Problems()["non_finite"]);
    }

    [Fact]
    public async Task Label_values_with_newlines_quotes_and_backslashes_are_escaped_and_newlines_counted()
    {
        await Write(Sample("job.info", 1, ("cmd", "line1\nline2 \"quoted\" C:\\path")));

        var text = await Text();

        Assert.Contains("job_info{node=\"n1\",source=\"gpu\",cmd=\"line1\\nline2 \\\"quoted\\\" C:\\\\path\"} 1", text);
        Assert.Equal(1L, Status("label_values_with_newlines"));
        Assert.Contains("'cmd' holds a newline", Problems()["label_newline"]);
    }

    [Fact]
    public async Task Two_names_that_sanitise_alike_keep_the_first_and_report_both_names()
    {
        await Write(Sample("gpu.power_usage", 100), Sample("gpu.power-usage", 200), Sample("gpu.power-usage", 300));

        var text = await Text();

        Assert.Contains("gpu_power_usage{node=\"n1\",source=\"gpu\"} 100", text);
        Assert.DoesNotContain(" 200", text);
        Assert.DoesNotContain(" 300", text);
        Assert.Equal(2L, Status("collisions"));
        var listed = Assert.Single((string[])_backend.GetStatus()["collision_names"]!);
        Assert.Contains("'gpu.power-usage'", listed);
        Assert.Contains("'gpu.power_usage'", listed);
        Assert.Contains("'gpu_power_usage'", listed);
        Assert.Equal(1L, Status("samples_exposed"));
    }

    [Fact]
    public async Task Samples_of_one_metric_with_different_label_keys_become_series_of_one_family()
    {
        await Write(Sample("disk.io", 1, ("device", "sda")), Sample("disk.io", 2, ("device", "sdb"), ("direction", "read")), Sample("disk.io", 3));

        var text = await Text();

        Assert.Single(text.Split('\n'), l => l == "# TYPE disk_io gauge");
        Assert.Contains("disk_io{node=\"n1\",source=\"gpu\",device=\"sda\"} 1", text);
        Assert.Contains("disk_io{node=\"n1\",source=\"gpu\",device=\"sdb\",direction=\"read\"} 2", text);
        Assert.Contains("disk_io{node=\"n1\",source=\"gpu\"} 3", text);
        Assert.Equal(3, Status("series"));
    }

    [Fact]
    public async Task Labels_in_another_order_update_the_same_series()
    {
        await Write(Sample("m", 1, ("b", "2"), ("a", "1")));
        await Write(Sample("m", 5, ("a", "1"), ("b", "2")));

        Assert.Contains("m{node=\"n1\",source=\"gpu\",a=\"1\",b=\"2\"} 5", await Text());
        Assert.Equal(1, Status("series"));
    }

    [Fact]
    public async Task A_sample_label_named_node_is_kept_as_exported_node_and_duplicate_label_names_keep_the_first()
    {
        await Write(Sample("m", 1, ("node", "other"), ("gpu.uuid", "A"), ("gpu_uuid", "B")));

        var text = await Text();

        Assert.Contains("m{node=\"n1\",source=\"gpu\",exported_node=\"other\",gpu_uuid=\"A\"} 1", text);
        Assert.Equal(1L, Status("label_collisions"));
        Assert.Contains("'gpu_uuid'", Problems()["label_collision"]);
    }

    [Fact]
    public async Task Text_samples_are_not_exposed_and_are_counted()
    {
        await Write(Sample("run.note", double.NaN) with { Text = "hello" }, Sample("run.loss", 0.25));

        var text = await Text();

        Assert.DoesNotContain("run_note", text);
        Assert.Contains("run_loss{node=\"n1\",source=\"gpu\"} 0.25", text);
        Assert.Equal(1L, Status("text_skipped"));
        Assert.Contains("run.note", Problems()["text"]);
    }

    [Fact]
    public async Task Series_not_updated_for_stale_after_disappear_while_fresh_ones_stay()
    {
        await Write(Sample("old", 1), Sample("fresh", 2));
        _clock.Advance(TimeSpan.FromSeconds(40));
        await Write(Sample("fresh", 3));
        _clock.Advance(TimeSpan.FromSeconds(30));

        var text = await Text();

        Assert.DoesNotContain("old{", text);
        Assert.Contains("fresh{node=\"n1\",source=\"gpu\"} 3", text);
        Assert.Equal(1L, Status("series_expired"));
        Assert.Equal(1, Status("series"));
    }

    [Fact]
    public async Task An_expired_series_comes_back_when_its_metric_is_written_again()
    {
        await Write(Sample("gpu.temp", 50));
        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.DoesNotContain("gpu_temp{", await Text());

        await Write(Sample("gpu.temp", 51));

        Assert.Contains("gpu_temp{node=\"n1\",source=\"gpu\"} 51", await Text());
    }

    [Fact]
    public async Task Writes_expire_stale_series_even_when_nobody_scrapes()
    {
        await Write(Sample("old", 1));
        _clock.Advance(TimeSpan.FromMinutes(2));

        await Write(Sample("other", 1));

        Assert.Equal(1L, Status("series_expired"));
        Assert.Equal(1, Status("series"));
    }

    [Fact]
    public async Task Metric_names_beyond_max_families_are_refused_and_counted_even_after_older_names_expire()
    {
        await _backend.StopAsync(CancellationToken.None);
        var backend = new PrometheusBackend(_clock);
        await backend.InitializeAsync(new PluginContext(_nodeId, Path.GetTempPath(), PluginConfig.Parse("""{ "max-families": 2, "stale-after": "1m" }""")), CancellationToken.None);

        await backend.WriteAsync(new MetricBatch("n1", "train", [Sample("epoch1.loss", 1), Sample("epoch2.loss", 2)]), CancellationToken.None);
        _clock.Advance(TimeSpan.FromMinutes(2)); // both series expire; their families cannot be removed from the registry
        await backend.Exposition.ToTextAsync();
        await backend.WriteAsync(new MetricBatch("n1", "train", [Sample("epoch3.loss", 3), Sample("epoch1.loss", 4)]), CancellationToken.None);

        var text = await backend.Exposition.ToTextAsync();
        Assert.Contains("epoch1_loss{node=\"n1\",source=\"gpu\"} 4", text); // a known name comes back
        Assert.DoesNotContain("epoch2_loss{", text); // expired: its family prints only HELP and TYPE
        Assert.DoesNotContain("epoch3_loss", text);
        Assert.Equal(1L, backend.GetStatus()["families_refused"]);
        Assert.Equal(2, backend.GetStatus()["families"]);
        Assert.Contains("max-families", ((Dictionary<string, string>)backend.GetStatus()["problems"]!)["max_families"]);
    }

    [Fact]
    public async Task Series_beyond_max_series_are_refused_and_counted()
    {
        await _backend.StopAsync(CancellationToken.None);
        var backend = new PrometheusBackend(_clock);
        await backend.InitializeAsync(new PluginContext(_nodeId, Path.GetTempPath(), PluginConfig.Parse("""{ "max-series": 2 }""")), CancellationToken.None);

        await backend.WriteAsync(new MetricBatch("n1", "gpu", [Sample("m", 1, ("i", "1")), Sample("m", 2, ("i", "2")), Sample("m", 3, ("i", "3")), Sample("other", 4), Sample("m", 5, ("i", "1"))]), CancellationToken.None);

        var text = await backend.Exposition.ToTextAsync();
        Assert.Contains("m{node=\"n1\",source=\"gpu\",i=\"1\"} 5", text);
        Assert.Contains("m{node=\"n1\",source=\"gpu\",i=\"2\"} 2", text);
        Assert.DoesNotContain("i=\"3\"", text);
        Assert.DoesNotContain("other", text);
        Assert.Equal(2L, backend.GetStatus()["series_refused"]);
        Assert.Contains("max-series", ((Dictionary<string, string>)backend.GetStatus()["problems"]!)["max_series"]);
    }

    [Fact]
    public async Task Samples_from_several_nodes_are_told_apart_by_the_node_label()
    {
        await _backend.WriteAsync(new MetricBatch("n1", "gpu", [Sample("gpu.util", 0.5)]), CancellationToken.None);
        await _backend.WriteAsync(new MetricBatch("n2", "gpu", [Sample("gpu.util", 0.75)]), CancellationToken.None);

        var text = await Text();

        Assert.Contains("gpu_util{node=\"n1\",source=\"gpu\"} 0.5", text);
        Assert.Contains("gpu_util{node=\"n2\",source=\"gpu\"} 0.75", text);
    }

    [Fact]
    public async Task The_node_endpoint_serves_the_backend_while_it_is_started_and_not_after_it_stops()
    {
        await Write(Sample("up.check", 7));
        using (var body = new MemoryStream())
        {
            Assert.True(await PrometheusEndpoints.TryWriteAsync(_nodeId, body, CancellationToken.None));
            Assert.Contains("up_check{node=\"n1\",source=\"gpu\"} 7", System.Text.Encoding.UTF8.GetString(body.ToArray()));
        }

        await _backend.StopAsync(CancellationToken.None);

        using var after = new MemoryStream();
        Assert.False(await PrometheusEndpoints.TryWriteAsync(_nodeId, after, CancellationToken.None));
        Assert.Equal(0, after.Length);
    }

    [Fact]
    public async Task A_listen_address_already_in_use_fails_start_naming_the_key()
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var taken = $"127.0.0.1:{((System.Net.IPEndPoint)holder.LocalEndpoint).Port}";
        var backend = new PrometheusBackend(_clock);
        await backend.InitializeAsync(new PluginContext(_nodeId + "-listen", Path.GetTempPath(), PluginConfig.Parse($$"""{ "listen": "{{taken}}" }""")), CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => backend.StartAsync(CancellationToken.None).AsTask());

        Assert.Contains("'listen'", error.Message);
        Assert.Contains(taken, error.Message);
        using var body = new MemoryStream();
        Assert.False(await PrometheusEndpoints.TryWriteAsync(_nodeId + "-listen", body, CancellationToken.None));
    }

    [Fact]
    public void Only_numeric_metric_types_are_accepted()
    {
        Assert.True(_backend.CanHandle(MetricType.Scalar));
        Assert.True(_backend.CanHandle(MetricType.System));
        Assert.False(_backend.CanHandle(MetricType.Image));
        Assert.False(_backend.CanHandle(MetricType.Text));
        Assert.False(_backend.CanHandle(MetricType.Tensor));
    }

    private async Task Start(string config)
    {
        await _backend.InitializeAsync(new PluginContext(_nodeId, Path.GetTempPath(), PluginConfig.Parse(config)), CancellationToken.None);
        await _backend.StartAsync(CancellationToken.None);
    }

    private ValueTask Write(params MetricSample[] samples) =>
        _backend.WriteAsync(new MetricBatch("n1", "gpu", [.. samples]), CancellationToken.None);

    private Task<string> Text() => _backend.Exposition.ToTextAsync();

    private object? Status(string key) => _backend.GetStatus()[key];

    private Dictionary<string, string> Problems() => (Dictionary<string, string>)_backend.GetStatus()["problems"]!;

    private MetricSample Sample(string name, double value, params (string Key, string Value)[] labels) =>
        new(name, MetricType.System, value, _clock.GetUtcNow(), "gpu", Labels: [.. labels.Select(l => new MetricLabel(l.Key, l.Value))]);
}
