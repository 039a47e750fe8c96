using System.Text.Json;
using Xunit;

namespace Tracelet.Cli.Tests;

public sealed class WatchAndPluginsCommandSpec : IDisposable
{
    private readonly ContractNode _node = new();

    public void Dispose() => _node.Dispose();

    [Fact]
    public async Task Watch_with_a_count_prints_that_many_refreshed_tables_and_exits_with_the_last_ones_code()
    {
        var answers = 0;
        _node.On("GET /status/cluster", () =>
        {
            // The second refresh sees the backend fail: watch must show the new state, not the first one again.
            var state = Interlocked.Increment(ref answers) == 1 ? "active" : "error";
            return (200, new ClusterJson().Node("node-a", plugins: [ClusterJson.Backend("sql", state, state == "error" ? "disk full" : null)]).Build());
        });

        var run = await CliRun.RunAsync("watch", "--count", "2", "--interval", "50ms", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        var frames = run.Out.Split("----\n");
        Assert.Equal(2, frames.Length);
        Assert.Contains("1 active, 0 error", frames[0]);
        Assert.Contains("disk full", frames[1]);
        Assert.DoesNotContain('\u001b', run.Out);
    }

    [Fact]
    public async Task Watch_keeps_going_when_the_node_stops_answering_and_shows_why()
    {
        var answers = 0;
        _node.On("GET /status/cluster", () => Interlocked.Increment(ref answers) == 1
            ? (200, new ClusterJson().Node("node-a", plugins: [ClusterJson.Collector("system")]).Build())
            : (503, "starting"));

        var run = await CliRun.RunAsync("watch", "--count", "2", "--interval", "10ms", "--url", _node.Url);

        Assert.True(run.ExitCode == 2, run.ToString());
        var frames = run.Out.Split("----\n");
        Assert.Equal(2, frames.Length);
        Assert.Contains("system", frames[0]);
        Assert.Contains("answered 503", frames[1]);
    }

    [Fact]
    public async Task Watch_ends_with_0_when_cancelled()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson().Node("node-a", plugins: [ClusterJson.Backend("sql", "error", "x")]).Build());
        using var cancel = new CancellationTokenSource();
        var output = new StringWriter();
        var environment = new CliEnvironment(output, new StringWriter(), new Dictionary<string, string>(), false);

        var watching = CliApp.RunAsync(["watch", "--interval", "1m", "--url", _node.Url], environment, cancel.Token);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!output.ToString().Contains("sql") && DateTime.UtcNow < deadline) await Task.Delay(20);
        cancel.Cancel();

        Assert.Equal(0, await watching);
        Assert.Contains("sql", output.ToString());
    }

    [Fact]
    public async Task Plugins_groups_by_type_and_counts_the_nodes_where_each_is_active_or_in_error()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system"), ClusterJson.Backend("sql")])
            .Node("node-b", plugins: [ClusterJson.Collector("system"), ClusterJson.Collector("gpu", "error", "no driver")])
            .Node("node-c", plugins: [ClusterJson.Collector("system", "stopped"), ClusterJson.Collector("gpu")])
            .Build());

        var run = await CliRun.RunAsync("plugins", "--url", _node.Url);
        var json = await CliRun.RunAsync("plugins", "--json", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        var lines = run.Out.Split('\n');
        var backendHeader = Array.IndexOf(lines, "backend");
        var collectorHeader = Array.IndexOf(lines, "collector");
        Assert.True(backendHeader >= 0 && collectorHeader > backendHeader, run.Out);
        Assert.Contains(lines, l => l.Contains("gpu") && l.Contains("node-b"));
        using var doc = JsonDocument.Parse(json.Out);
        var system = doc.RootElement.GetProperty("plugins").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "system");
        Assert.Equal((3, 2, 0, 1), (system.GetProperty("nodes").GetInt32(), system.GetProperty("active").GetInt32(),
            system.GetProperty("error").GetInt32(), system.GetProperty("stopped").GetInt32()));
        var gpu = doc.RootElement.GetProperty("plugins").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "gpu");
        Assert.Equal(["node-b"], gpu.GetProperty("error_nodes").EnumerateArray().Select(n => n.GetString()));
    }
}
