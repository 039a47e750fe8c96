using Akka.Actor;
using Tracelet.Actors.Plugins;
using Tracelet.Actors.Status;
using Xunit;

namespace Tracelet.Cluster.Tests;

/// <summary>
/// The cluster status view across real nodes on loopback: every node's view converges on every
/// node's plugins, follows their changes, flags dead nodes, and runs start/stop on other nodes.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class ClusterStatusSpec : IAsyncLifetime
{
    /// <summary>A view query must come back within this: it is answered from memory.</summary>
    private static readonly TimeSpan ViewAskTimeout = TimeSpan.FromSeconds(1);

    /// <summary>A fast failure detector, so a dead node is flagged in about a second; Terminate() without leaving, as under SIGKILL.</summary>
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
        foreach (var node in _nodes)
        {
            RecordingBackend.Forget(node.NodeId);
            node.DeleteData();
        }
    }

    private async Task<ClusterNode[]> StartCluster(string? hocon, params string[] names)
    {
        var started = new List<ClusterNode>();
        foreach (var name in names)
        {
            var node = ClusterNode.Start($"{name}-{_run}", hocon);
            _nodes.Add(node);
            await node.JoinAsync(started.FirstOrDefault());
            started.Add(node);
        }
        return [.. started];
    }

    private static async Task<CurrentClusterStatus> View(ClusterNode node) =>
        await node.Status.Ask<CurrentClusterStatus>(GetClusterStatus.Instance, ViewAskTimeout);

    private static NodeView NodeOf(CurrentClusterStatus view, ClusterNode node) =>
        view.Nodes.SingleOrDefault(n => n.Node == node.NodeId) ?? throw new Xunit.Sdk.XunitException($"{view.Node}'s view has no {node.NodeId} (has {string.Join(", ", view.Nodes.Select(n => n.Node))})");

    private static PluginView PluginOf(CurrentClusterStatus view, ClusterNode node, string plugin) =>
        NodeOf(view, node).Plugins.SingleOrDefault(p => p.Name == plugin) ?? throw new Xunit.Sdk.XunitException($"{view.Node}'s view of {node.NodeId} has no plugin {plugin}");

    private static async Task<PluginControlResults> Control(ClusterNode via, string plugin, PluginAction action, string? node) =>
        await via.Status.Ask<PluginControlResults>(new ControlPluginInCluster(plugin, action, node, TimeSpan.FromSeconds(20)), TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Three_nodes_converge_on_every_nodes_plugins_and_backend_counters_are_summed_over_producers()
    {
        var nodes = await StartCluster(null, "a", "b", "c");
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        await c.StartPluginAsync(RecordingBackend.PluginName);
        await Eventually.Holds(a.PipelineStatusAsync, s => Assert.Contains(s.Links, l => l.BackendNode == c.NodeId));
        await Eventually.Holds(b.PipelineStatusAsync, s => Assert.Contains(s.Links, l => l.BackendNode == c.NodeId));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 100, "limit": 500, "interval": "20ms" }""");
        await b.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 100, "limit": 300, "interval": "20ms" }""");

        foreach (var viewer in nodes)
        {
            await Eventually.Holds(() => View(viewer), view =>
            {
                Assert.Equal(viewer.NodeId, view.Node);
                Assert.Equal(3, view.Nodes.Length);
                Assert.All(view.Nodes, n => Assert.True(n.Reachable && n.MemberStatus == "up" && n.LastSeen is not null, $"{n.Node}: {n.MemberStatus}, reachable {n.Reachable}"));
                Assert.Equal((PluginStatusState.Active, 500L), (PluginOf(view, a, SequenceCollector.PluginName).State, PluginOf(view, a, SequenceCollector.PluginName).Delivered));
                Assert.Equal((PluginStatusState.Active, 300L), (PluginOf(view, b, SequenceCollector.PluginName).State, PluginOf(view, b, SequenceCollector.PluginName).Delivered));
                // rec on a is another backend@node: nothing of rec@c is counted for it.
                var idle = PluginOf(view, a, RecordingBackend.PluginName);
                Assert.Equal((PluginStatusState.Discovered, 0L, (double?)null), (idle.State, idle.Delivered, idle.BufferFill));
                var rec = PluginOf(view, c, RecordingBackend.PluginName);
                // Every sample of both producers (and of c itself: none) delivered to rec@c, summed over the links.
                Assert.Equal((PluginStatusState.Active, 800L, 0L, 0.0), (rec.State, rec.Delivered, rec.InFlight, rec.BufferFill ?? -1));
                Assert.Empty(rec.Dropped);
                Assert.Null(PluginOf(view, a, SequenceCollector.PluginName).BufferFill);
            });
        }
    }

    [Fact]
    public async Task A_plugin_stopped_through_the_cluster_shows_stopped_everywhere_and_stays_stopped_after_its_node_restarts()
    {
        var nodes = await StartCluster(null, "a", "b");
        var (a, b) = (nodes[0], nodes[1]);
        await b.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 1, "interval": "100ms" }""");
        await b.StartPluginAsync(OtherCollector.PluginName);
        await Eventually.Holds(() => View(a), view => Assert.Equal(PluginStatusState.Active, PluginOf(view, b, SequenceCollector.PluginName).State));

        var stopped = await Control(a, SequenceCollector.PluginName, PluginAction.Stop, b.NodeId);
        Assert.Null(stopped.UnknownTarget);
        var result = Assert.Single(stopped.Results);
        Assert.Equal((b.NodeId, true, PluginStatusState.Stopped, false), (result.Node, result.Ok, result.State, result.TimedOut));
        await Eventually.Holds(() => View(a), view => Assert.Equal(PluginStatusState.Stopped, PluginOf(view, b, SequenceCollector.PluginName).State), TimeSpan.FromSeconds(10));
        Assert.Equal(PluginStatusState.Stopped, (await b.StatusAsync()).Plugins[SequenceCollector.PluginName].State);

        // B's journal holds the transition: after a restart of B, seq stays stopped and other comes back.
        await b.StopAsync();
        var b2 = ClusterNode.Start(b.NodeId, dataDirectory: b.DataDirectory);
        _nodes.Add(b2);
        await b2.JoinAsync(a);
        var after = await Eventually.Holds(b2.StatusAsync, s => Assert.Equal(PluginStatusState.Active, s.Plugins[OtherCollector.PluginName].State));
        Assert.Equal(PluginStatusState.Stopped, after.Plugins[SequenceCollector.PluginName].State);

        // And A starts it again on the new incarnation of B, through the cluster.
        await Eventually.Holds(() => View(a), view => Assert.True(NodeOf(view, b2).Reachable && NodeOf(view, b2).Address == b2.Cluster.SelfAddress.ToString()));
        var started = Assert.Single((await Control(a, SequenceCollector.PluginName, PluginAction.Start, b2.NodeId)).Results);
        Assert.Equal((true, PluginStatusState.Active), (started.Ok, started.State));
        await Eventually.Holds(() => View(a), view => Assert.Equal(PluginStatusState.Active, PluginOf(view, b2, SequenceCollector.PluginName).State), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Control_of_every_node_reaches_each_node_that_knows_the_plugin_and_unknown_targets_are_not_found()
    {
        var nodes = await StartCluster(null, "a", "b");
        var (a, b) = (nodes[0], nodes[1]);
        await a.StartPluginAsync(OtherCollector.PluginName);
        await b.StartPluginAsync(OtherCollector.PluginName);
        await Eventually.Holds(() => View(a), view => Assert.Equal(PluginStatusState.Active, PluginOf(view, b, OtherCollector.PluginName).State));

        var restarted = await Control(a, OtherCollector.PluginName, PluginAction.Restart, null);
        Assert.Equal([a.NodeId, b.NodeId], restarted.Results.Select(r => r.Node).Order(StringComparer.Ordinal));
        Assert.All(restarted.Results, r => Assert.Equal((true, PluginStatusState.Active), (r.Ok, r.State)));

        var unknownNode = await Control(a, OtherCollector.PluginName, PluginAction.Stop, "no-such-node");
        Assert.Empty(unknownNode.Results);
        Assert.Contains("no-such-node", unknownNode.UnknownTarget);
        var unknownPlugin = await Control(a, "no-such-plugin", PluginAction.Stop, null);
        Assert.Empty(unknownPlugin.Results);
        Assert.Contains("no-such-plugin", unknownPlugin.UnknownTarget);
        var notOnB = Assert.Single((await Control(a, "no-such-plugin", PluginAction.Stop, b.NodeId)).Results);
        Assert.Equal((false, true), (notOnB.Ok, notOnB.NotFound));
    }

    [Fact]
    public async Task A_node_that_dies_is_flagged_unreachable_with_when_it_was_last_seen_and_the_view_still_answers_at_once()
    {
        var nodes = await StartCluster(FastFailureDetector, "a", "b", "c");
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        await c.StartPluginAsync(OtherCollector.PluginName);
        foreach (var viewer in new[] { a, b })
            await Eventually.Holds(() => View(viewer), view => Assert.Equal(PluginStatusState.Active, PluginOf(view, c, OtherCollector.PluginName).State));

        // Abrupt: no leaving, no coordinated shutdown; remoting just goes away, as under SIGKILL.
        await c.System.Terminate();

        foreach (var viewer in new[] { a, b })
        {
            var view = await Eventually.Holds(() => View(viewer), v => Assert.False(NodeOf(v, c).Reachable), TimeSpan.FromSeconds(15));
            var dead = NodeOf(view, c);
            Assert.NotNull(dead.LastSeen);
            Assert.True(dead.LastSeen <= view.GeneratedAt);
            Assert.Equal(PluginStatusState.Active, Assert.Single(dead.Plugins, p => p.Name == OtherCollector.PluginName).State); // the last known state, flagged by its node
            Assert.True(NodeOf(view, a).Reachable && NodeOf(view, b).Reachable);
        }

        // Control of the dead node answers at once that it did not answer.
        var result = Assert.Single((await Control(a, OtherCollector.PluginName, PluginAction.Stop, c.NodeId)).Results);
        Assert.Equal((false, true), (result.Ok, result.TimedOut));
        Assert.Contains("unreachable", result.Error);
    }
}
