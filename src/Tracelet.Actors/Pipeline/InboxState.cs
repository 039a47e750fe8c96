using System.Collections.Immutable;
using Akka.Actor;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// The receiving side of a backend's links, kept by the backend's plugin actor: per source node,
/// the next sequence number it will write (so batches are written in order and a resent batch
/// is written once), the deliveries waiting for the plugin (at most the links' windows), and
/// counters for status.
/// </summary>
internal sealed class InboxState
{
    private readonly Dictionary<string, SourceLink> _sources = new(StringComparer.Ordinal);
    private readonly Queue<(Delivery Delivery, IActorRef ReplyTo)> _waiting = new();

    public int WaitingBatches => _waiting.Count;

    /// <summary>
    /// Takes a delivery: queued when it is the next of its link (or the first of a new epoch);
    /// otherwise answered at once with the last sequence written, which tells the outbox where
    /// the link stands (a duplicate is dropped; after a gap, the outbox sends again from there).
    /// </summary>
    public void Accept(Delivery delivery, IActorRef replyTo)
    {
        var link = Source(delivery.SourceNode);
        link.Received += delivery.Batch.Samples.Length;
        if (link.Epoch != delivery.Epoch || link.Accepted == 0)
        {
            // A new producer incarnation (or our first contact): its sequence is taken as it comes.
            link.Epoch = delivery.Epoch;
            link.Accepted = delivery.Sequence - 1;
            link.Written = delivery.Sequence - 1;
        }
        if (delivery.Sequence == link.Accepted + 1)
        {
            link.Accepted = delivery.Sequence;
            _waiting.Enqueue((delivery, replyTo));
            return;
        }
        if (delivery.Sequence <= link.Accepted) link.Duplicates += delivery.Batch.Samples.Length;
        else link.OutOfOrder += delivery.Batch.Samples.Length;
        if (link.Written > 0) replyTo.Tell(new DeliveryAck(delivery.SourceNode, delivery.Backend, link.Written, 0, 0));
    }

    public bool TryTake(out Delivery delivery, out IActorRef replyTo)
    {
        if (_waiting.TryDequeue(out var next))
        {
            (delivery, replyTo) = next;
            return true;
        }
        (delivery, replyTo) = (null!, ActorRefs.Nobody);
        return false;
    }

    /// <summary>Records a finished write and acknowledges it to the link's outbox.</summary>
    public void Written(Delivery delivery, IActorRef replyTo, int rejected, int failed)
    {
        var link = Source(delivery.SourceNode);
        // A write of an older epoch that finishes late says nothing about the current one.
        if (delivery.Epoch == link.Epoch) link.Written = delivery.Sequence;
        link.WrittenSamples += delivery.Batch.Samples.Length - rejected - failed;
        link.Rejected += rejected;
        link.Failed += failed;
        replyTo.Tell(new DeliveryAck(delivery.SourceNode, delivery.Backend, delivery.Sequence, rejected, failed));
    }

    /// <summary>Per source node, for the backend's status.</summary>
    public ImmutableSortedDictionary<string, Plugins.BackendSourceRuntime> Snapshot() =>
        _sources.ToImmutableSortedDictionary(
            s => s.Key,
            s => new Plugins.BackendSourceRuntime(s.Value.Received, s.Value.WrittenSamples, s.Value.Rejected, s.Value.Failed, s.Value.Duplicates, s.Value.OutOfOrder, s.Value.Written),
            StringComparer.Ordinal);

    private SourceLink Source(string node)
    {
        if (!_sources.TryGetValue(node, out var link)) _sources[node] = link = new SourceLink();
        return link;
    }

    private sealed class SourceLink
    {
        public long Epoch = -1;
        public long Accepted;
        public long Written;
        public long Received;
        public long WrittenSamples;
        public long Rejected;
        public long Failed;
        public long Duplicates;
        public long OutOfOrder;
    }
}
