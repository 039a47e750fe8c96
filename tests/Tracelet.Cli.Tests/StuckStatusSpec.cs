using Xunit;

namespace Tracelet.Cli.Tests;

/// <summary>tracelet status and a plugin whose call is stuck past its node's call timeout.</summary>
public sealed class StuckStatusSpec : IDisposable
{
    private readonly ContractNode _node = new();

    public void Dispose() => _node.Dispose();

    [Fact]
    public async Task Status_with_an_active_plugin_stuck_in_a_call_exits_1_and_exits_0_once_it_returns()
    {
        var stuck = ClusterJson.Collector("gpu");
        stuck["stuck"] = new System.Text.Json.Nodes.JsonObject { ["call"] = "collect", ["since"] = "2026-11-26T16:59:00Z" };
        _node.On("GET /status/cluster", 200, new ClusterJson().Node("node-a", plugins: [ClusterJson.Collector("system"), stuck]).Build());
        var hanging = await CliRun.RunAsync("status", "--url", _node.Url);

        var returned = ClusterJson.Collector("gpu");
        returned["stuck"] = null;
        _node.On("GET /status/cluster", 200, new ClusterJson().Node("node-a", plugins: [ClusterJson.Collector("system"), returned]).Build());
        var healthy = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(hanging.ExitCode == 1, hanging.ToString());
        Assert.True(healthy.ExitCode == 0, healthy.ToString());
    }
}
