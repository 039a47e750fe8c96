using Akka.Actor;
using Tracelet.Actors.Status;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Cluster.Tests;

/// <summary>A node that dies abruptly and comes back on the same address (same host and port, new uid), as a restarted process does.</summary>
public sealed class ClusterRestartSpec : IAsyncLifetime
{
    private const string FastFailureDetector = """
        akka.cluster.failure-detector { heartbeat-interval = 200ms, acceptable-heartbeat-pause = 1s, expected-response-after = 200ms }
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """;

    private readonly List<ClusterNode> _nodes = [];
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in Enumerable.Reverse(_nodes)) await node.DisposeAsync();
        foreach (var node in _nodes) node.DeleteData();
    }

    [Fact]
    public async Task A_node_back_on_the_same_address_is_reachable_again_in_the_view_not_stuck_with_its_old_incarnations_flag()
    {
        var port = NodeBuild.FreeLoopbackPort();
        var fixedPort = $"{FastFailureDetector}\nakka.remote.dot-netty.tcp.port = {port}";
        var a = Start($"a-{_run}", FastFailureDetector);
        await a.JoinAsync(null);
        var b = Start($"b-{_run}", fixedPort);
        await b.JoinAsync(a);
        await Eventually.Holds(() => View(a), v => Assert.True(v.Nodes.Any(n => n.Node == b.NodeId && n.Reachable)), TimeSpan.FromSeconds(20));

        // Abrupt, as under SIGKILL: A flags it unreachable.
        await b.System.Terminate();
        await Eventually.Holds(() => View(a), v => Assert.False(v.Nodes.Single(n => n.Node == b.NodeId).Reachable), TimeSpan.FromSeconds(15));

        // Same address, new uid: Akka removes the old incarnation and lets the new one join.
        var b2 = Start(b.NodeId, fixedPort, b.DataDirectory);
        await b2.JoinAsync(a);
        Assert.Equal(b.Cluster.SelfAddress, b2.Cluster.SelfAddress);
        var view = await Eventually.Holds(() => View(a), v =>
        {
            var back = Assert.Single(v.Nodes, n => n.Node == b.NodeId);
            Assert.True(back.Reachable, $"{back.Node}: {back.MemberStatus}, reachable = false");
            Assert.Equal("up", back.MemberStatus);
        }, TimeSpan.FromSeconds(30));
        Assert.Equal(2, view.Nodes.Count(n => n.Reachable));
    }

    private ClusterNode Start(string nodeId, string hocon, string? dataDirectory = null)
    {
        var node = ClusterNode.Start(nodeId, hocon, dataDirectory);
        _nodes.Add(node);
        return node;
    }

    private static async Task<CurrentClusterStatus> View(ClusterNode node) =>
        await node.Status.Ask<CurrentClusterStatus>(GetClusterStatus.Instance, TimeSpan.FromSeconds(1));
}
