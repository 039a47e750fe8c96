using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Tracelet.Actors.Pipeline;

namespace Tracelet.Bench.Pipeline;

/// <summary>
/// The baseline's receiver: a plain DistributedPubSub subscriber that counts the samples of every
/// <see cref="Delivery"/> it gets, with no ordering, no acknowledgement and no flow control.
/// A delivery with sequence 0 is a probe (is the subscription visible from the publisher yet?).
/// </summary>
internal sealed class RawSubscriber : ReceiveActor
{
    public RawSubscriber(SampleCounter counter, TaskCompletionSource probed)
    {
        Receive<SubscribeAck>(_ => { });
        Receive<Delivery>(delivery =>
        {
            if (delivery.Sequence == 0) probed.TrySetResult();
            else counter.Add(delivery.Batch);
        });
    }

    public static Props Props(SampleCounter counter, TaskCompletionSource probed) =>
        Akka.Actor.Props.Create(() => new RawSubscriber(counter, probed));
}
