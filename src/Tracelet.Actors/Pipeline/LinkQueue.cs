using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// The producer side of one link, in memory: batches waiting behind the credit window (bounded
/// in samples and estimated bytes, with the link's overflow policy), batches sent and not yet
/// acknowledged, and the counters. Every change keeps
/// <c>produced = delivered + dropped + waiting + in flight</c> true, so a snapshot read at any
/// moment adds up. Not thread-safe: its outbox actor owns it. The durable policy keeps its
/// waiting batches in <see cref="DurableOutboxStore"/> instead (see <see cref="OutboxActor"/>).
/// </summary>
internal sealed class LinkQueue(LinkSettings settings) : ILinkQueue
{
    private readonly LinkedList<PendingBatch> _waiting = new();
    private readonly Queue<PendingBatch> _inFlight = new();
    private long _nextSequence = 1;

    public LinkSettings Settings { get; } = settings;

    public LinkCounters Counters { get; } = new();

    public long WaitingSamples { get; private set; }

    public long WaitingBytes { get; private set; }

    public int InFlightSamples { get; private set; }

    public int InFlightBatches => _inFlight.Count;

    public bool IsEmpty => _waiting.Count == 0 && _inFlight.Count == 0;

    public long Recovered => 0;

    /// <summary>A new number per outbox: the inbox restarts its sequence check when it sees a new epoch.</summary>
    public long Epoch { get; } = Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>True while the buffer cannot take another sample (what the block policy signals to collectors).</summary>
    public bool IsFull => WaitingSamples >= Settings.BufferSamples || WaitingBytes >= Settings.BufferBytes;

    /// <summary>Adds a batch, estimating its size (tests and callers that have not estimated it).</summary>
    public void Enqueue(MetricBatch batch) => Enqueue(batch, SampleSize.Estimate(batch));

    /// <summary>Adds a batch of <paramref name="bytes"/> (estimated once, by the router) under the overflow policy, counting what had to be dropped or refused.</summary>
    public void Enqueue(MetricBatch batch, long bytes)
    {
        var samples = batch.Samples.Length;
        if (samples == 0) return;
        Counters.Produced += samples;
        if (samples > Settings.BufferSamples || bytes > Settings.BufferBytes)
        {
            // Larger than the whole buffer: it can never wait here.
            Counters.Drop(Settings.Overflow == OverflowPolicy.Block ? DropReason.Blocked : DropReason.Overflow, samples);
            return;
        }
        switch (Settings.Overflow)
        {
            case OverflowPolicy.DropNewest when !Fits(samples, bytes):
                Counters.Drop(DropReason.Overflow, samples);
                return;
            case OverflowPolicy.Block when !Fits(samples, bytes):
                Counters.Drop(DropReason.Blocked, samples);
                return;
            default:
                // Drop the oldest batches never sent. A numbered one (sent before, waiting to be sent
                // again) must stay: without it the inbox would wait for its number forever.
                Counters.Drop(DropReason.Overflow, RemoveUnsent(() => Fits(samples, bytes)));
                if (!Fits(samples, bytes))
                {
                    Counters.Drop(DropReason.Overflow, samples); // only resends wait: the newest gives way this time
                    return;
                }
                break;
        }
        _waiting.AddLast(new PendingBatch(0, batch, samples, bytes));
        WaitingSamples += samples;
        WaitingBytes += bytes;
    }

    private bool Fits(int samples, long bytes) =>
        WaitingSamples + samples <= Settings.BufferSamples && WaitingBytes + bytes <= Settings.BufferBytes;

    /// <summary>
    /// The next batch the window has room for (always one when nothing is in flight), numbered
    /// and moved to in flight; null when the window is full or nothing waits.
    /// </summary>
    public PendingBatch? TakeNext()
    {
        if (_waiting.First is not { } first) return null;
        var next = first.Value;
        if (_inFlight.Count > 0 && InFlightSamples + next.Samples > Settings.WindowSamples) return null;
        _waiting.RemoveFirst();
        WaitingSamples -= next.Samples;
        WaitingBytes -= next.Bytes;
        if (next.Sequence == 0) next = next with { Sequence = _nextSequence++ };
        _inFlight.Enqueue(next);
        InFlightSamples += next.Samples;
        return next;
    }

    /// <summary>
    /// The inbox finished every batch up to <paramref name="sequence"/>. Of that last one,
    /// <paramref name="rejected"/> samples were refused by the backend's CanHandle and
    /// <paramref name="failed"/> lost to a failed write. Returns false for an old or unknown sequence.
    /// </summary>
    public bool Acknowledge(long sequence, int rejected, int failed)
    {
        var progressed = false;
        // A resend put these back in front of the waiting ones: an acknowledgement that arrives
        // late still retires them (they were written), so they are neither sent again nor dropped.
        while (_waiting.First is { } front && front.Value.Sequence != 0 && front.Value.Sequence <= sequence)
        {
            _waiting.RemoveFirst();
            WaitingSamples -= front.Value.Samples;
            WaitingBytes -= front.Value.Bytes;
            _inFlight.Enqueue(front.Value);
            InFlightSamples += front.Value.Samples;
        }
        while (_inFlight.TryPeek(out var head) && head.Sequence <= sequence)
        {
            _inFlight.Dequeue();
            InFlightSamples -= head.Samples;
            progressed = true;
            // Only the acknowledged batch reports refusals; earlier ones (their own acknowledgement was lost) are covered as delivered.
            Counters.Settle(head.Samples, head.Sequence == sequence ? rejected : 0, head.Sequence == sequence ? failed : 0);
        }
        return progressed;
    }

    /// <summary>Puts every unacknowledged batch back in front, keeping its number, to be sent again in order.</summary>
    public void ResendInFlight()
    {
        var resend = _inFlight.ToArray();
        _inFlight.Clear();
        InFlightSamples = 0;
        for (var i = resend.Length - 1; i >= 0; i--)
        {
            _waiting.AddFirst(resend[i]);
            WaitingSamples += resend[i].Samples;
            WaitingBytes += resend[i].Bytes;
        }
    }

    /// <summary>
    /// Drops what waits and was never sent (a withdrawn backend's link): batches in flight stay,
    /// since the stopping backend may still write and acknowledge them.
    /// </summary>
    public long DropWaiting(string reason)
    {
        var dropped = RemoveUnsent(() => false);
        Counters.Drop(reason, dropped);
        return dropped;
    }

    /// <summary>Removes waiting batches never sent, oldest first, until <paramref name="enough"/>; returns their samples.</summary>
    private long RemoveUnsent(Func<bool> enough)
    {
        long removed = 0;
        for (var node = _waiting.First; node is not null && !enough();)
        {
            var next = node.Next;
            if (node.Value.Sequence == 0)
            {
                _waiting.Remove(node);
                WaitingSamples -= node.Value.Samples;
                WaitingBytes -= node.Value.Bytes;
                removed += node.Value.Samples;
            }
            node = next;
        }
        return removed;
    }

    /// <summary>Drops everything waiting and in flight (a non-durable link at the end of a shutdown flush).</summary>
    public long DropAll(string reason)
    {
        var dropped = WaitingSamples + InFlightSamples;
        Counters.Drop(reason, dropped);
        _waiting.Clear();
        _inFlight.Clear();
        WaitingSamples = WaitingBytes = 0;
        InFlightSamples = 0;
        return dropped;
    }
}

/// <summary>The producer side of one link, whichever policy: what <see cref="OutboxActor"/> drives.</summary>
internal interface ILinkQueue
{
    LinkSettings Settings { get; }
    LinkCounters Counters { get; }
    long WaitingSamples { get; }
    long WaitingBytes { get; }
    int InFlightSamples { get; }
    bool IsEmpty { get; }
    bool IsFull { get; }
    /// <summary>Samples found in the durable store at start (counted as produced).</summary>
    long Recovered { get; }
    /// <summary>Sent with every delivery: a new epoch makes the inbox accept the sequence afresh.</summary>
    long Epoch { get; }
    void Enqueue(MetricBatch batch, long bytes);
    PendingBatch? TakeNext();
    bool Acknowledge(long sequence, int rejected, int failed);
    void ResendInFlight();
    long DropWaiting(string reason);
    long DropAll(string reason);
}

/// <summary>A batch on a link: its sequence number (0 until first sent), samples and estimated bytes.</summary>
internal sealed record PendingBatch(long Sequence, MetricBatch Batch, int Samples, long Bytes);

/// <summary>What a link did with the samples it was given.</summary>
internal sealed class LinkCounters
{
    private readonly Dictionary<string, long> _dropped = new(StringComparer.Ordinal);

    public long Produced { get; set; }

    public long Delivered { get; set; }

    public long DroppedTotal { get; private set; }

    public IReadOnlyDictionary<string, long> Dropped => _dropped;

    /// <summary>An acknowledged batch: what the backend refused (CanHandle) or lost (a failed write), the rest delivered.</summary>
    public void Settle(int samples, int rejected, int failed)
    {
        var refused = Math.Min(rejected, samples);
        var lost = Math.Min(failed, samples - refused);
        Delivered += samples - refused - lost;
        Drop(DropReason.Rejected, refused);
        Drop(DropReason.BackendError, lost);
    }

    public void Drop(string reason, long samples)
    {
        if (samples <= 0) return;
        _dropped[reason] = _dropped.GetValueOrDefault(reason) + samples;
        DroppedTotal += samples;
    }

    public ImmutableSortedDictionary<string, long> DroppedSnapshot() => _dropped.ToImmutableSortedDictionary(StringComparer.Ordinal);
}

/// <summary>Estimated wire size of samples: what the byte bound of a buffer counts.</summary>
internal static class SampleSize
{
    public static long Estimate(MetricBatch batch)
    {
        long total = 32 + (batch.Source?.Length ?? 0) + (batch.SourceNode?.Length ?? 0);
        foreach (var s in batch.Samples) total += Of(s);
        return total;
    }

    public static long Of(in MetricSample s)
    {
        long total = 32 + (s.Name?.Length ?? 0) + (s.Text?.Length ?? 0);
        if (!s.Labels.IsDefault)
        {
            foreach (var l in s.Labels) total += 4 + (l.Key?.Length ?? 0) + (l.Value?.Length ?? 0);
        }
        return total;
    }
}
