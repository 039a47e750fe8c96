using Akka.Actor;
using Akka.Remote;
using Akka.Remote.Transport;
using Tracelet.Actors.Status;
using Xunit;

namespace Tracelet.Cluster.Tests;

/// <summary>
/// Fault drill (c) in-process: a network partition made with Akka's throttler (blackhole between C
/// and the others). The split-brain resolver (keep-majority) downs C, whose actor system then shuts
/// down; A and B go on and their status view shows what happened.
/// </summary>
[Trait("Category", "Drill")]
public sealed class ClusterPartitionSpec : IAsyncLifetime
{
    /// <summary>The throttler on every node's transport, a fast failure detector and a resolver that decides in 2 s.</summary>
    private const string PartitionableHocon = """
        akka.remote.dot-netty.tcp.applied-adapters = [trttl]
        akka.cluster.failure-detector { heartbeat-interval = 200ms, acceptable-heartbeat-pause = 1s, expected-response-after = 200ms }
        akka.cluster {
          downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
          split-brain-resolver { active-strategy = keep-majority, stable-after = 2s, down-all-when-unstable = on }
          run-coordinated-shutdown-when-down = on
        }
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
    public async Task The_minority_side_of_a_partition_is_downed_and_shuts_down_while_the_majority_shows_it_gone()
    {
        var nodes = new List<ClusterNode>();
        foreach (var name in new[] { "a", "b", "c" })
        {
            var node = ClusterNode.Start($"{name}-{_run}", PartitionableHocon);
            _nodes.Add(node);
            await node.JoinAsync(nodes.FirstOrDefault());
            nodes.Add(node);
        }
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        foreach (var viewer in new[] { a, b })
            await Eventually.Holds(() => View(viewer), v => Assert.All(nodes, n => Assert.True(v.Nodes.Any(e => e.Node == n.NodeId && e.Reachable), $"{viewer.NodeId} has no update from {n.NodeId} yet")), TimeSpan.FromSeconds(20));

        // Cut C off: every packet between C and A or B is dropped, in both directions, on both sides.
        foreach (var (from, to) in new[] { (a, c), (b, c), (c, a), (c, b) })
            await ((IRemoteActorRefProvider)((ExtendedActorSystem)from.System).Provider).Transport.ManagementCommand(new SetThrottle(to.Cluster.SelfAddress, ThrottleTransportAdapter.Direction.Both, Blackhole.Instance));

        var terminated = await Task.WhenAny(c.System.WhenTerminated, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(terminated == c.System.WhenTerminated, "the resolver should have downed C and its actor system shut down within 30 s");
        Assert.False(a.System.WhenTerminated.IsCompleted || b.System.WhenTerminated.IsCompleted);

        foreach (var viewer in new[] { a, b })
        {
            var view = await Eventually.Holds(() => View(viewer), v =>
            {
                var gone = Assert.Single(v.Nodes, n => n.Node == c.NodeId);
                Assert.False(gone.Reachable);
                Assert.Contains(gone.MemberStatus, new[] { "down", "removed" });
            }, TimeSpan.FromSeconds(20));
            Assert.NotNull(view.Nodes.Single(n => n.Node == c.NodeId).LastSeen);
            Assert.All(view.Nodes.Where(n => n.Node != c.NodeId), n => Assert.True(n.Reachable && n.MemberStatus == "up", $"{n.Node}: {n.MemberStatus}"));
        }
    }

    private static async Task<CurrentClusterStatus> View(ClusterNode node) =>
        await node.Status.Ask<CurrentClusterStatus>(GetClusterStatus.Instance, TimeSpan.FromSeconds(1));
}
