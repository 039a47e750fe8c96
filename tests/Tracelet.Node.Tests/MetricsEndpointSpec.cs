using System.Globalization;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>The node's GET /metrics, scraped by a real Prometheus (Debian's package, installed by ./test.sh).</summary>
public sealed class MetricsEndpointSpec : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly string _dataDir = Directory.CreateTempSubdirectory("tracelet-metrics-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // a killed node may still hold a file for a moment; the temp folder is cleaned by the OS
        }
    }

    [Fact]
    [Trait("Category", "Prometheus")]
    public async Task Prometheus_scrapes_the_heartbeat_of_a_node_with_the_prometheus_backend()
    {
        var config = Path.Combine(_dataDir, "prometheus.conf");
        await File.WriteAllTextAsync(config, """
            tracelet.plugins {
              heartbeat { enabled = on, config { interval = 1s } }
              prometheus { enabled = on }
            }
            """);
        var port = NodeBuild.FreeLoopbackPort();
        await using var node = StartNode(port, "--config", config);
        await node.RequireStatusAsync(s => NodeProcess.PluginStates(s).GetValueOrDefault("prometheus") == "active", StartTimeout);

        await using var prometheus = await PrometheusServer.StartAsync([$"127.0.0.1:{port}"]);
        var row = Assert.Single(await prometheus.WaitForAsync("tracelet_heartbeat_sequence{node=\"metrics-test\"}", TimeSpan.FromSeconds(30)));

        var scraped = PrometheusServer.NumberOf(row);
        var status = await node.RequireStatusAsync(_ => true, StartTimeout);
        var sequence = status.GetProperty("plugins").GetProperty("heartbeat").GetProperty("status").GetProperty("sequence").GetInt64();
        Assert.InRange(scraped, 1, sequence); // the heartbeat counts 1, 2, 3...; Prometheus has one of those already sent
        Assert.Equal(Math.Floor(scraped), scraped);
        Assert.Equal("heartbeat", PrometheusServer.LabelOf(row, "source"));
        Assert.Equal("tracelet", PrometheusServer.LabelOf(row, "job"));
    }

    [Fact]
    [Trait("Category", "Process")]
    public async Task Metrics_answers_503_with_a_hint_when_the_prometheus_backend_is_off()
    {
        // The default role enables it: switch it off.
        var config = Path.Combine(_dataDir, "no-prometheus.conf");
        await File.WriteAllTextAsync(config, "tracelet.plugins.prometheus.enabled = off\n");
        var port = NodeBuild.FreeLoopbackPort();
        await using var node = StartNode(port, "--config", config);
        await node.RequireStatusAsync(s => s.GetProperty("ready").GetBoolean(), StartTimeout);

        using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));

        Assert.Equal(503, (int)response.StatusCode);
        Assert.Contains("tracelet.plugins.prometheus", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private NodeProcess StartNode(int port, params string[] extraArgs) =>
        NodeProcess.Start(null, new NodeLaunch(NodeBuild.NodeDll, _dataDir, port, "metrics-test", _dataDir,
            Path.Combine(_dataDir, $"node-{port.ToString(CultureInfo.InvariantCulture)}.log"), extraArgs));
}
