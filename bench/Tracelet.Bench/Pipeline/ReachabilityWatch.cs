using Akka.Actor;
using Akka.Cluster;

namespace Tracelet.Bench.Pipeline;

/// <summary>Counts a node's UnreachableMember events (a peer's heartbeats came too late): an overloaded transport shows here first.</summary>
internal sealed class ReachabilityWatch : ReceiveActor
{
    private readonly Counts _counts;

    public ReachabilityWatch(Counts counts)
    {
        _counts = counts;
        Receive<ClusterEvent.UnreachableMember>(_ => Interlocked.Increment(ref _counts.Unreachable));
        Receive<ClusterEvent.ReachableMember>(_ => { });
    }

    public static Props Props(Counts counts) => Akka.Actor.Props.Create(() => new ReachabilityWatch(counts));

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    public sealed class Counts
    {
        public int Unreachable;
    }
}
