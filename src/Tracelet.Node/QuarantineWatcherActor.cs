using Akka.Actor;
using Akka.Event;
using Akka.Remote;

namespace Tracelet.Node;

/// <summary>
/// Ends the node when another member has quarantined it. A node frozen or cut off long enough is
/// downed and removed by the majority; when it comes back, the others refuse it for good
/// (quarantine), and it may never hear that it was downed. It cannot rejoin without a restart, so it
/// shuts down as a downed node would (exit code 3), and its supervisor starts it afresh.
/// </summary>
internal sealed class QuarantineWatcherActor : ReceiveActor
{
    public QuarantineWatcherActor()
    {
        var log = Context.GetLogger();
        Receive<ThisActorSystemQuarantinedEvent>(e =>
        {
            log.Warning("This node was quarantined by {0}: the cluster has removed it; shutting down so that it can be restarted and rejoin", e.RemoteAddress);
            CoordinatedShutdown.Get(Context.System).Run(CoordinatedShutdown.ClusterDowningReason.Instance);
        });
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));

    public static Props Props() => Akka.Actor.Props.Create(() => new QuarantineWatcherActor());
}
