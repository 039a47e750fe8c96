using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// The producer side of a durable link: every batch is appended to the node's SQLite store with
/// its sequence number before anything else, read back in order for sending (a window's worth
/// at a time), and deleted only when the backend acknowledged it. After a restart the backlog
/// is found in the store and sent first: zero loss. Its epoch is constant (0), so sequence
/// numbers continue across restarts and the inbox never writes a resent batch twice.
/// </summary>
internal sealed class DurableLinkQueue : ILinkQueue
{
    private readonly DurableOutboxStore _store;
    private readonly string _link;
    private readonly Queue<PendingBatch> _inFlight = new();
    private readonly Queue<PendingBatch> _prefetched = new();
    private long _lastRead;

    public DurableLinkQueue(LinkSettings settings, DurableOutboxStore store, string link)
    {
        Settings = settings;
        _store = store;
        _link = link;
        var (_, samples, bytes) = store.Pending(link);
        Recovered = samples;
        Counters.Produced = samples;
        WaitingSamples = samples;
        WaitingBytes = bytes;
    }

    public LinkSettings Settings { get; }

    public LinkCounters Counters { get; } = new();

    public long WaitingSamples { get; private set; }

    public long WaitingBytes { get; private set; }

    public int InFlightSamples { get; private set; }

    public bool IsEmpty => WaitingSamples == 0 && _inFlight.Count == 0;

    /// <summary>Never full: the disk holds the backlog, up to the store's own bound.</summary>
    public bool IsFull => false;

    public long Recovered { get; }

    public long Epoch => 0;

    /// <summary>The last error the store gave (a full disk, a read-only file), for status and the log.</summary>
    public string? LastStoreError { get; private set; }

    public void Enqueue(MetricBatch batch, long bytes)
    {
        var samples = batch.Samples.Length;
        if (samples == 0) return;
        Counters.Produced += samples;
        try
        {
            _store.Append(_link, batch, samples);
            WaitingSamples += samples;
            WaitingBytes += bytes;
        }
        catch (DurableStoreFullException e)
        {
            LastStoreError = e.Message;
            Counters.Drop(DropReason.Overflow, samples);
        }
        catch (DurableStoreException e)
        {
            LastStoreError = e.Message;
            Counters.Drop(DropReason.DiskError, samples);
        }
    }

    public PendingBatch? TakeNext()
    {
        if (_prefetched.Count == 0 && WaitingSamples > 0)
        {
            var room = Math.Max(1, Settings.WindowSamples - InFlightSamples);
            try
            {
                foreach (var stored in _store.Read(_link, _lastRead, room))
                {
                    // Waiting bytes are counted as estimates throughout (as Enqueue does), not as stored payload sizes.
                    _prefetched.Enqueue(new PendingBatch(stored.Sequence, stored.Batch, stored.Samples, SampleSize.Estimate(stored.Batch)));
                    _lastRead = stored.Sequence;
                }
            }
            catch (DurableBatchDecodeException e)
            {
                // A row that no longer decodes (written by another version?): count it lost and step over it.
                LastStoreError = e.Message;
                var (_, before, beforeBytes) = _store.Pending(_link);
                _store.DeleteThrough(_link, e.Sequence);
                var (_, after, afterBytes) = _store.Pending(_link);
                Counters.Drop(DropReason.DiskError, before - after);
                WaitingSamples -= before - after;
                WaitingBytes -= beforeBytes - afterBytes;
                _lastRead = e.Sequence;
                return TakeNext();
            }
            catch (DurableStoreException e)
            {
                LastStoreError = e.Message;
                return null; // tried again at the next acknowledgement or ack check
            }
        }
        if (!_prefetched.TryPeek(out var next)) return null;
        if (_inFlight.Count > 0 && InFlightSamples + next.Samples > Settings.WindowSamples) return null;
        _prefetched.Dequeue();
        WaitingSamples -= next.Samples;
        WaitingBytes -= next.Bytes;
        _inFlight.Enqueue(next);
        InFlightSamples += next.Samples;
        return next;
    }

    public bool Acknowledge(long sequence, int rejected, int failed)
    {
        var progressed = false;
        // Read again after a resend but acknowledged late: retire them too (the store row goes below).
        while (_prefetched.TryPeek(out var early) && early.Sequence <= sequence && (_inFlight.Count == 0 || early.Sequence < _inFlight.Peek().Sequence))
        {
            _prefetched.Dequeue();
            WaitingSamples -= early.Samples;
            WaitingBytes -= early.Bytes;
            _inFlight.Enqueue(early);
            InFlightSamples += early.Samples;
        }
        while (_inFlight.TryPeek(out var head) && head.Sequence <= sequence)
        {
            _inFlight.Dequeue();
            InFlightSamples -= head.Samples;
            progressed = true;
            Counters.Settle(head.Samples, head.Sequence == sequence ? rejected : 0, head.Sequence == sequence ? failed : 0);
        }
        if (progressed)
        {
            try
            {
                _store.DeleteThrough(_link, sequence);
            }
            catch (DurableStoreException e)
            {
                // Left in the store, the batches would be sent again after a restart; the inbox drops them as duplicates.
                LastStoreError = e.Message;
            }
        }
        return progressed;
    }

    public void ResendInFlight()
    {
        // Read again from the first unacknowledged batch: the store still holds it.
        var first = _inFlight.Count > 0 ? _inFlight.Peek().Sequence : _prefetched.Count > 0 ? _prefetched.Peek().Sequence : _lastRead + 1;
        foreach (var b in _inFlight)
        {
            // Back to waiting (prefetched batches never left it).
            WaitingSamples += b.Samples;
            WaitingBytes += b.Bytes;
        }
        _inFlight.Clear();
        _prefetched.Clear();
        InFlightSamples = 0;
        _lastRead = first - 1;
    }

    /// <summary>Nothing is dropped at shutdown: the store keeps it for the next run.</summary>
    public long DropAll(string reason) => 0;

    /// <summary>Nothing is dropped when the backend stops: the store keeps it until it is back.</summary>
    public long DropWaiting(string reason) => 0;
}
