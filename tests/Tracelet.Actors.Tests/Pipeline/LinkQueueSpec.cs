using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;
using Xunit;

namespace Tracelet.Actors.Tests.Pipeline;

/// <summary>
/// The producer side of one link in memory: exact drop counts under each overflow policy, the
/// byte bound, the credit window, sequence numbers, cumulative acknowledgements, resends and
/// shutdown. After every operation the counters must add up:
/// <c>produced = delivered + dropped + waiting + in flight</c>.
/// </summary>
public sealed class LinkQueueSpec
{
    private const long Unbounded = long.MaxValue / 4;

    private static readonly DateTimeOffset T0 = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    // ------------------------------------------------------------ helpers

    /// <summary>A batch of <paramref name="samples"/> samples whose collector name is <paramref name="tag"/> (to tell batches apart).</summary>
    private static MetricBatch Batch(string tag, int samples) =>
        new("node-a", tag, Enumerable.Range(0, samples)
            .Select(i => new MetricSample("m", MetricType.System, i, T0.AddSeconds(i), tag))
            .ToImmutableArray());

    private static LinkSettings Settings(OverflowPolicy policy, int bufferSamples = 10, long bufferBytes = Unbounded, int window = 100) =>
        new(policy, bufferSamples, bufferBytes, window);

    /// <summary>The accounting invariant and the obvious bounds of the queue's numbers.</summary>
    private static void AssertInvariant(LinkQueue q)
    {
        var c = q.Counters;
        Assert.Equal(c.Produced, c.Delivered + c.DroppedTotal + q.WaitingSamples + q.InFlightSamples);
        Assert.Equal(c.DroppedTotal, c.Dropped.Values.Sum());
        Assert.Equal(c.DroppedTotal, c.DroppedSnapshot().Values.Sum());
        Assert.True(q.WaitingSamples >= 0, $"waiting samples {q.WaitingSamples}");
        Assert.True(q.WaitingBytes >= 0, $"waiting bytes {q.WaitingBytes}");
        Assert.True(q.InFlightSamples >= 0, $"in flight samples {q.InFlightSamples}");
        Assert.True(q.InFlightBatches >= 0, $"in flight batches {q.InFlightBatches}");
        Assert.Equal(q.WaitingSamples == 0 && q.InFlightSamples == 0, q.IsEmpty);
        Assert.True(q.InFlightBatches <= 1 || q.InFlightSamples <= q.Settings.WindowSamples,
            $"{q.InFlightSamples} samples in {q.InFlightBatches} batches exceed the window of {q.Settings.WindowSamples}");
        Assert.Equal(q.WaitingSamples >= q.Settings.BufferSamples || q.WaitingBytes >= q.Settings.BufferBytes, q.IsFull);
    }

    /// <summary>Drives a <see cref="LinkQueue"/>, checking the invariant after every operation.</summary>
    private sealed class Link(LinkSettings settings)
    {
        public LinkQueue Q { get; } = Check(new LinkQueue(settings));

        private static LinkQueue Check(LinkQueue q)
        {
            AssertInvariant(q);
            return q;
        }

        public LinkCounters Counters => Q.Counters;

        public long Dropped(string reason) => Q.Counters.Dropped.GetValueOrDefault(reason);

        public void Enqueue(MetricBatch batch)
        {
            Q.Enqueue(batch);
            AssertInvariant(Q);
        }

        public void Enqueue(params string[] tagsAndSizes)
        {
            foreach (var item in tagsAndSizes)
            {
                var parts = item.Split(':');
                Enqueue(Batch(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        public PendingBatch? TakeNext()
        {
            var next = Q.TakeNext();
            AssertInvariant(Q);
            return next;
        }

        /// <summary>Takes until the window (or the queue) says no; returns what was taken.</summary>
        public List<PendingBatch> TakeAll()
        {
            var taken = new List<PendingBatch>();
            while (TakeNext() is { } next) taken.Add(next);
            return taken;
        }

        public bool Acknowledge(long sequence, int rejected = 0, int failed = 0)
        {
            var progressed = Q.Acknowledge(sequence, rejected, failed);
            AssertInvariant(Q);
            return progressed;
        }

        public void ResendInFlight()
        {
            Q.ResendInFlight();
            AssertInvariant(Q);
        }

        public long DropAll(string reason)
        {
            var dropped = Q.DropAll(reason);
            AssertInvariant(Q);
            return dropped;
        }
    }

    private static string[] Tags(IEnumerable<PendingBatch> batches) => [.. batches.Select(b => b.Batch.Source)];

    private static long[] Sequences(IEnumerable<PendingBatch> batches) => [.. batches.Select(b => b.Sequence)];

    // ------------------------------------------------------------ overflow policies

    [Fact]
    public void Drop_oldest_drops_the_oldest_waiting_batches_and_keeps_the_newest()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));

        link.Enqueue("b1:3", "b2:3", "b3:3");
        Assert.Equal(9, link.Q.WaitingSamples);
        Assert.Equal(0, link.Counters.DroppedTotal);

        link.Enqueue("b4:3"); // 12 > 10: b1 goes
        Assert.Equal(3, link.Dropped(DropReason.Overflow));
        Assert.Equal(9, link.Q.WaitingSamples);

        link.Enqueue("b5:3"); // b2 goes
        Assert.Equal(6, link.Dropped(DropReason.Overflow));
        Assert.Equal(6, link.Counters.DroppedTotal);
        Assert.Equal(15, link.Counters.Produced);

        Assert.Equal(["b3", "b4", "b5"], Tags(link.TakeAll()));
        Assert.Equal(["overflow"], link.Counters.DroppedSnapshot().Keys);
    }

    [Fact]
    public void Drop_oldest_drops_as_many_old_batches_as_the_incoming_one_needs()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:2", "b2:2", "b3:2", "b4:2"); // 8 waiting

        link.Enqueue("big:7"); // 15, 13, 11 do not fit; 9 does: b1, b2, b3 go

        Assert.Equal(6, link.Dropped(DropReason.Overflow));
        Assert.Equal(9, link.Q.WaitingSamples);
        Assert.Equal(["b4", "big"], Tags(link.TakeAll()));
    }

    [Fact]
    public void Drop_oldest_fills_the_buffer_exactly_without_dropping()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));

        link.Enqueue("b1:4", "b2:6");

        Assert.Equal(10, link.Q.WaitingSamples);
        Assert.Equal(0, link.Counters.DroppedTotal);
        Assert.True(link.Q.IsFull);
    }

    [Fact]
    public void Drop_newest_refuses_the_incoming_batch_and_keeps_what_waits()
    {
        var link = new Link(Settings(OverflowPolicy.DropNewest));

        link.Enqueue("b1:3", "b2:3", "b3:3");
        link.Enqueue("b4:2"); // 11 > 10: refused
        Assert.Equal(2, link.Dropped(DropReason.Overflow));
        Assert.Equal(9, link.Q.WaitingSamples);

        link.Enqueue("b5:1"); // fits exactly
        Assert.Equal(10, link.Q.WaitingSamples);
        Assert.True(link.Q.IsFull);

        link.Enqueue("b6:1");
        Assert.Equal(3, link.Dropped(DropReason.Overflow));
        Assert.Equal(3, link.Counters.DroppedTotal);
        Assert.Equal(13, link.Counters.Produced);

        Assert.Equal(["b1", "b2", "b3", "b5"], Tags(link.TakeAll()));
    }

    [Fact]
    public void Block_refuses_the_incoming_batch_as_blocked_and_reports_full()
    {
        var link = new Link(Settings(OverflowPolicy.Block));

        link.Enqueue("b1:3", "b2:3", "b3:3");
        Assert.False(link.Q.IsFull);

        link.Enqueue("b4:2"); // does not fit: refused as blocked
        Assert.Equal(2, link.Dropped(DropReason.Blocked));
        Assert.Equal(0, link.Dropped(DropReason.Overflow));
        Assert.False(link.Q.IsFull); // 9 of 10: one more sample fits

        link.Enqueue("b5:1");
        Assert.True(link.Q.IsFull);

        link.Enqueue("b6:1");
        Assert.Equal(3, link.Dropped(DropReason.Blocked));
        Assert.Equal(["blocked"], link.Counters.DroppedSnapshot().Keys);

        Assert.Equal("b1", link.TakeNext()!.Batch.Source);
        Assert.False(link.Q.IsFull); // room again once a batch went out
        Assert.Equal(["b2", "b3", "b5"], Tags(link.TakeAll()));
    }

    [Theory]
    [InlineData(OverflowPolicy.DropOldest, DropReason.Overflow)]
    [InlineData(OverflowPolicy.DropNewest, DropReason.Overflow)]
    [InlineData(OverflowPolicy.Block, DropReason.Blocked)]
    public void A_batch_larger_than_the_whole_buffer_is_dropped_and_evicts_nothing(OverflowPolicy policy, string reason)
    {
        var link = new Link(Settings(policy));
        link.Enqueue("b1:3", "b2:3");

        link.Enqueue("huge:11");

        Assert.Equal(11, link.Dropped(reason));
        Assert.Equal(11, link.Counters.DroppedTotal);
        Assert.Equal(6, link.Q.WaitingSamples);
        Assert.Equal(["b1", "b2"], Tags(link.TakeAll()));
    }

    [Theory]
    [InlineData(OverflowPolicy.DropOldest)]
    [InlineData(OverflowPolicy.DropNewest)]
    [InlineData(OverflowPolicy.Block)]
    public void An_empty_batch_changes_nothing(OverflowPolicy policy)
    {
        var link = new Link(Settings(policy));

        link.Enqueue(new MetricBatch("node-a", "empty", []));

        Assert.Equal(0, link.Counters.Produced);
        Assert.True(link.Q.IsEmpty);
        Assert.Null(link.TakeNext());
    }

    // ------------------------------------------------------------ the byte bound

    [Fact]
    public void The_byte_bound_applies_as_well_as_the_sample_bound_under_drop_oldest()
    {
        var size = SampleSize.Estimate(Batch("b1", 2));
        var link = new Link(Settings(OverflowPolicy.DropOldest, bufferSamples: 1000, bufferBytes: 3 * size));

        link.Enqueue("b1:2", "b2:2", "b3:2");
        Assert.Equal(3 * size, link.Q.WaitingBytes);
        Assert.True(link.Q.IsFull); // by bytes, with 6 of 1000 samples
        Assert.Equal(0, link.Counters.DroppedTotal);

        link.Enqueue("b4:2");

        Assert.Equal(2, link.Dropped(DropReason.Overflow));
        Assert.Equal(3 * size, link.Q.WaitingBytes);
        Assert.Equal(["b2", "b3", "b4"], Tags(link.TakeAll()));
        Assert.Equal(0, link.Q.WaitingBytes);
    }

    [Fact]
    public void The_byte_bound_refuses_under_drop_newest_and_block()
    {
        var size = SampleSize.Estimate(Batch("b1", 2));

        var newest = new Link(Settings(OverflowPolicy.DropNewest, bufferSamples: 1000, bufferBytes: 3 * size));
        newest.Enqueue("b1:2", "b2:2", "b3:2", "b4:2");
        Assert.Equal(2, newest.Dropped(DropReason.Overflow));
        Assert.Equal(["b1", "b2", "b3"], Tags(newest.TakeAll()));

        var block = new Link(Settings(OverflowPolicy.Block, bufferSamples: 1000, bufferBytes: 3 * size));
        block.Enqueue("b1:2", "b2:2", "b3:2");
        Assert.True(block.Q.IsFull);
        block.Enqueue("b4:2");
        Assert.Equal(2, block.Dropped(DropReason.Blocked));
        Assert.Equal(["b1", "b2", "b3"], Tags(block.TakeAll()));
    }

    [Fact]
    public void A_batch_larger_than_the_byte_bound_is_dropped_whatever_its_sample_count()
    {
        var size = SampleSize.Estimate(Batch("b1", 2));
        var link = new Link(Settings(OverflowPolicy.DropOldest, bufferSamples: 1000, bufferBytes: size));
        link.Enqueue("b1:2");

        link.Enqueue("b2:3"); // 3 samples of 1000, but more bytes than the whole buffer

        Assert.Equal(3, link.Dropped(DropReason.Overflow));
        Assert.Equal(["b1"], Tags(link.TakeAll()));
    }

    [Fact]
    public void The_byte_estimate_counts_names_texts_and_labels()
    {
        var plain = new MetricBatch("n", "s", [new MetricSample("ab", MetricType.Scalar, 1, T0, "s")]);
        var rich = new MetricBatch("n", "s", [new MetricSample("ab", MetricType.Scalar, 1, T0, "s", null, [new MetricLabel("k", "vv")], "text")]);

        Assert.Equal(32 + 1 + 1 + 32 + 2, SampleSize.Estimate(plain));
        Assert.Equal(SampleSize.Estimate(plain) + 4 + (4 + 1 + 2), SampleSize.Estimate(rich));
    }

    // ------------------------------------------------------------ the window and sequence numbers

    [Fact]
    public void The_window_limits_the_samples_in_flight()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest, window: 4));
        link.Enqueue("b1:3", "b2:3", "b3:1");

        var first = link.TakeNext();
        Assert.NotNull(first);
        Assert.Equal(3, link.Q.InFlightSamples);
        Assert.Null(link.TakeNext()); // 3 + 3 > 4
        Assert.Equal(4, link.Q.WaitingSamples);

        Assert.True(link.Acknowledge(first.Sequence));
        var second = link.TakeNext();
        Assert.Equal("b2", second!.Batch.Source);
        var third = link.TakeNext(); // 3 + 1 = 4 fits exactly
        Assert.Equal("b3", third!.Batch.Source);
        Assert.Null(link.TakeNext());
        Assert.Equal(4, link.Q.InFlightSamples);
        Assert.Equal(2, link.Q.InFlightBatches);
    }

    [Fact]
    public void A_batch_larger_than_the_window_still_goes_when_nothing_is_in_flight()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest, window: 2));
        link.Enqueue("big:6", "small:1");

        var big = link.TakeNext();
        Assert.Equal("big", big!.Batch.Source);
        Assert.Equal(6, link.Q.InFlightSamples);
        Assert.Null(link.TakeNext()); // the window is over-full: nothing more

        Assert.True(link.Acknowledge(big.Sequence));
        Assert.Equal("small", link.TakeNext()!.Batch.Source);
    }

    [Fact]
    public void Take_next_returns_nothing_when_nothing_waits()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));

        Assert.Null(link.TakeNext());
        Assert.True(link.Q.IsEmpty);
    }

    [Fact]
    public void Sequence_numbers_start_at_one_and_increase()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest, window: 4));
        link.Enqueue("b1:2", "b2:2", "b3:2", "b4:2", "b5:2");

        var firstTwo = link.TakeAll();
        Assert.Equal([1L, 2L], Sequences(firstTwo));
        Assert.Equal(2, firstTwo[0].Samples);
        Assert.Equal(SampleSize.Estimate(firstTwo[0].Batch), firstTwo[0].Bytes);

        link.Acknowledge(2);
        Assert.Equal([3L, 4L], Sequences(link.TakeAll()));
        link.Acknowledge(4);
        Assert.Equal([5L], Sequences(link.TakeAll()));
    }

    [Fact]
    public void Dropped_batches_take_no_sequence_number()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:4", "b2:4", "b3:4"); // b1 dropped before it was ever sent

        var taken = link.TakeAll();
        Assert.Equal([1L, 2L], Sequences(taken));
        Assert.Equal(["b2", "b3"], Tags(taken));
    }

    // ------------------------------------------------------------ acknowledgements

    [Fact]
    public void An_acknowledgement_is_cumulative()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:2", "b2:2", "b3:2", "b4:2");
        Assert.Equal([1L, 2L, 3L, 4L], Sequences(link.TakeAll()));

        Assert.True(link.Acknowledge(3));

        Assert.Equal(6, link.Counters.Delivered);
        Assert.Equal(2, link.Q.InFlightSamples);
        Assert.Equal(1, link.Q.InFlightBatches);
        Assert.Equal(0, link.Counters.DroppedTotal);
        Assert.True(link.Acknowledge(4));
        Assert.Equal(8, link.Counters.Delivered);
        Assert.True(link.Q.IsEmpty);
    }

    [Fact]
    public void Rejected_and_failed_samples_of_the_acknowledged_batch_are_counted_as_dropped()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:3", "b2:3", "b3:3");
        link.TakeAll();

        Assert.True(link.Acknowledge(2, rejected: 1));
        Assert.Equal(3 + 2, link.Counters.Delivered); // b1 whole, b2 less its rejected sample
        Assert.Equal(1, link.Dropped(DropReason.Rejected));

        Assert.True(link.Acknowledge(3, rejected: 1, failed: 1));
        Assert.Equal(5 + 1, link.Counters.Delivered);
        Assert.Equal(2, link.Dropped(DropReason.Rejected));
        Assert.Equal(1, link.Dropped(DropReason.BackendError));
        Assert.Equal(["backend-error", "rejected"], link.Counters.DroppedSnapshot().Keys);
    }

    [Fact]
    public void Rejected_and_failed_counts_are_capped_at_the_batch_size()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:3", "b2:3");
        link.TakeAll();

        Assert.True(link.Acknowledge(1, rejected: 2, failed: 5));
        Assert.Equal(0, link.Counters.Delivered);
        Assert.Equal(2, link.Dropped(DropReason.Rejected));
        Assert.Equal(1, link.Dropped(DropReason.BackendError));

        Assert.True(link.Acknowledge(2, rejected: 9, failed: 9));
        Assert.Equal(5, link.Dropped(DropReason.Rejected));
        Assert.Equal(1, link.Dropped(DropReason.BackendError));
    }

    [Fact]
    public void An_old_acknowledgement_returns_false_and_changes_nothing()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:2", "b2:2", "b3:2");
        link.TakeAll();
        Assert.True(link.Acknowledge(2));
        var delivered = link.Counters.Delivered;

        Assert.False(link.Acknowledge(2, rejected: 2));
        Assert.False(link.Acknowledge(1, failed: 2));
        Assert.False(link.Acknowledge(0));

        Assert.Equal(delivered, link.Counters.Delivered);
        Assert.Equal(0, link.Counters.DroppedTotal);
        Assert.Equal(2, link.Q.InFlightSamples);
    }

    [Fact]
    public void An_acknowledgement_with_nothing_in_flight_returns_false()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:2");

        Assert.False(link.Acknowledge(1)); // not sent yet
        Assert.Equal(0, link.Counters.Delivered);
        Assert.Equal(2, link.Q.WaitingSamples);
    }

    // ------------------------------------------------------------ resending

    [Fact]
    public void Resend_puts_unacknowledged_batches_back_in_front_with_their_numbers_and_order()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest, window: 6));
        link.Enqueue("b1:2", "b2:2", "b3:2", "b4:2", "b5:2");
        Assert.Equal([1L, 2L, 3L], Sequences(link.TakeAll()));
        Assert.True(link.Acknowledge(1));
        var bytesBefore = link.Q.WaitingBytes;

        link.ResendInFlight();

        Assert.Equal(0, link.Q.InFlightSamples);
        Assert.Equal(0, link.Q.InFlightBatches);
        Assert.Equal(8, link.Q.WaitingSamples);
        Assert.Equal(bytesBefore + 2 * SampleSize.Estimate(Batch("b2", 2)), link.Q.WaitingBytes);

        var again = link.TakeAll();
        Assert.Equal(["b2", "b3", "b4"], Tags(again));
        Assert.Equal([2L, 3L, 4L], Sequences(again)); // b2, b3 keep theirs; b4 gets the next new one
        Assert.True(link.Acknowledge(4));
        var last = link.TakeAll();
        Assert.Equal(["b5"], Tags(last));
        Assert.Equal([5L], Sequences(last));
        Assert.True(link.Acknowledge(5));
        Assert.Equal(10, link.Counters.Delivered);
        Assert.True(link.Q.IsEmpty);
    }

    [Fact]
    public void Resend_with_nothing_in_flight_changes_nothing()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:2");

        link.ResendInFlight();

        Assert.Equal(2, link.Q.WaitingSamples);
        Assert.Equal([1L], Sequences(link.TakeAll()));
    }

    [Fact]
    public void A_late_acknowledgement_after_a_resend_delivers_what_it_covers()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest, window: 2));
        link.Enqueue("b1:2", "b2:2");
        Assert.Equal([1L], Sequences(link.TakeAll()));
        link.ResendInFlight();
        Assert.Equal([1L], Sequences(link.TakeAll()));

        Assert.True(link.Acknowledge(1)); // the first send's acknowledgement
        Assert.False(link.Acknowledge(1)); // the resend's

        Assert.Equal(2, link.Counters.Delivered);
        Assert.Equal([2L], Sequences(link.TakeAll()));
    }

    [Fact]
    public void Drop_oldest_after_a_resend_leaves_no_gap_in_the_sequence()
    {
        // A resent batch already carries its sequence number and the inbox waits for exactly that
        // number: dropping it for room must not leave the link sending a later number the inbox
        // will never accept (see InboxStateSpec.A_link_whose_resent_batch_was_dropped_for_room_still_makes_progress).
        var link = new Link(Settings(OverflowPolicy.DropOldest, bufferSamples: 4, window: 2));
        link.Enqueue("b1:2", "b2:2");
        Assert.Equal([1L], Sequences(link.TakeAll()));
        link.ResendInFlight(); // seq 1 unacknowledged: back in front, 4 of 4 samples waiting

        link.Enqueue("b3:2");

        var next = link.TakeNext();
        Assert.NotNull(next);
        Assert.Equal(1L, next.Sequence);
    }

    // ------------------------------------------------------------ shutdown

    [Fact]
    public void Drop_all_counts_waiting_and_in_flight_samples_as_shutdown()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest, window: 4));
        link.Enqueue("b1:2", "b2:2", "b3:3", "b4:1");
        link.TakeAll(); // b1, b2 in flight
        link.Acknowledge(1);

        var dropped = link.DropAll(DropReason.Shutdown);

        Assert.Equal(2 + 3 + 1, dropped);
        Assert.Equal(6, link.Dropped(DropReason.Shutdown));
        Assert.Equal(2, link.Counters.Delivered);
        Assert.True(link.Q.IsEmpty);
        Assert.Equal(0, link.Q.WaitingBytes);
        Assert.Equal(0, link.Q.InFlightBatches);
        Assert.Null(link.TakeNext());
        Assert.False(link.Acknowledge(2)); // its batch is gone

        Assert.Equal(0, link.DropAll(DropReason.Shutdown));
        Assert.Equal(6, link.Dropped(DropReason.Shutdown));
    }

    [Fact]
    public void After_drop_all_the_link_keeps_numbering_and_counting()
    {
        var link = new Link(Settings(OverflowPolicy.DropOldest));
        link.Enqueue("b1:2");
        link.TakeAll();
        link.DropAll(DropReason.Shutdown);

        link.Enqueue("b2:2");

        Assert.Equal([2L], Sequences(link.TakeAll()));
        Assert.True(link.Acknowledge(2));
        Assert.Equal(4, link.Counters.Produced);
        Assert.Equal(2, link.Counters.Delivered);
    }

    [Fact]
    public void Every_link_has_its_own_nonzero_epoch()
    {
        var a = new LinkQueue(Settings(OverflowPolicy.DropOldest));
        var b = new LinkQueue(Settings(OverflowPolicy.DropOldest));

        Assert.NotEqual(0, a.Epoch);
        Assert.NotEqual(a.Epoch, b.Epoch);
        Assert.Equal(0, a.Recovered);
    }

    // ------------------------------------------------------------ randomized

    [Theory]
    [InlineData(OverflowPolicy.DropOldest, 1)]
    [InlineData(OverflowPolicy.DropOldest, 2)]
    [InlineData(OverflowPolicy.DropNewest, 3)]
    [InlineData(OverflowPolicy.DropNewest, 4)]
    [InlineData(OverflowPolicy.Block, 5)]
    [InlineData(OverflowPolicy.Block, 6)]
    public void Random_operations_keep_the_counters_exact_and_deliver_in_order(OverflowPolicy policy, int seed)
    {
        var random = new Random(seed);
        var oneSample = SampleSize.Estimate(Batch("#000000", 1)) - 32 - 6 - 7; // per-sample share of the estimate
        var settings = Settings(policy, bufferSamples: 20, bufferBytes: 20 * oneSample + 200, window: 8);
        var link = new Link(settings);

        var enqueued = 0;
        var inFlight = new List<PendingBatch>(); // the model of what was taken and not yet acknowledged, in order
        var numbered = new Dictionary<string, long>(); // batch tag -> the sequence it was first sent with
        long lastDelivered = 0;
        var lastDeliveredOrdinal = -1;
        long expectedDelivered = 0;
        var expectedRejected = 0L;
        var expectedFailed = 0L;

        for (var step = 0; step < 5000; step++)
        {
            var op = random.Next(100);
            if (op < 40)
            {
                var tag = $"#{enqueued++:D6}";
                link.Enqueue(Batch(tag, random.Next(1, 8)));
            }
            else if (op < 70)
            {
                while (link.TakeNext() is { } next)
                {
                    Assert.True(next.Sequence > 0);
                    if (numbered.TryGetValue(next.Batch.Source, out var first)) Assert.Equal(first, next.Sequence); // a resend keeps its number
                    else
                    {
                        Assert.DoesNotContain(next.Sequence, numbered.Values); // a new batch gets a new number
                        numbered[next.Batch.Source] = next.Sequence;
                    }
                    if (inFlight.Count > 0) Assert.True(next.Sequence > inFlight[^1].Sequence, "in flight out of order");
                    inFlight.Add(next);
                }
            }
            else if (op < 90)
            {
                if (inFlight.Count == 0)
                {
                    Assert.False(link.Acknowledge(lastDelivered, 0, 0));
                    continue;
                }
                var upTo = random.Next(inFlight.Count);
                var acked = inFlight[upTo];
                var rejected = random.Next(4) == 0 ? random.Next(0, acked.Samples + 1) : 0;
                var failed = random.Next(4) == 0 ? random.Next(0, acked.Samples + 1) : 0;
                Assert.True(link.Acknowledge(acked.Sequence, rejected, failed));
                for (var i = 0; i <= upTo; i++)
                {
                    var delivered = inFlight[i];
                    Assert.True(delivered.Sequence > lastDelivered, $"seq {delivered.Sequence} delivered after {lastDelivered}");
                    var ordinal = int.Parse(delivered.Batch.Source[1..], System.Globalization.CultureInfo.InvariantCulture);
                    Assert.True(ordinal > lastDeliveredOrdinal, $"batch {ordinal} delivered after batch {lastDeliveredOrdinal}");
                    lastDelivered = delivered.Sequence;
                    lastDeliveredOrdinal = ordinal;
                    if (i == upTo)
                    {
                        var r = Math.Min(rejected, delivered.Samples);
                        var f = Math.Min(failed, delivered.Samples - r);
                        expectedRejected += r;
                        expectedFailed += f;
                        expectedDelivered += delivered.Samples - r - f;
                    }
                    else expectedDelivered += delivered.Samples;
                }
                inFlight.RemoveRange(0, upTo + 1);
                Assert.False(link.Acknowledge(acked.Sequence, 0, 0)); // the same ack again is old
            }
            else
            {
                link.ResendInFlight();
                inFlight.Clear();
            }

            Assert.Equal(expectedDelivered, link.Counters.Delivered);
            Assert.Equal(expectedRejected, link.Dropped(DropReason.Rejected));
            Assert.Equal(expectedFailed, link.Dropped(DropReason.BackendError));
            Assert.Equal(inFlight.Sum(b => b.Samples), link.Q.InFlightSamples);
            Assert.Equal(inFlight.Count, link.Q.InFlightBatches);
        }

        // Drain: everything still held goes, in order, and the counters still add up.
        link.ResendInFlight();
        inFlight.Clear();
        while (link.TakeNext() is { } next)
        {
            Assert.True(next.Sequence > lastDelivered);
            Assert.True(link.Acknowledge(next.Sequence));
            lastDelivered = next.Sequence;
            expectedDelivered += next.Samples;
        }
        Assert.True(link.Q.IsEmpty);
        Assert.Equal(expectedDelivered, link.Counters.Delivered);
        Assert.Equal(link.Counters.Produced, link.Counters.Delivered + link.Counters.DroppedTotal);
        Assert.True(link.Counters.DroppedTotal > 0, "the buffer never overflowed: the test did not exercise the policy");
        var policyReason = policy == OverflowPolicy.Block ? DropReason.Blocked : DropReason.Overflow;
        Assert.Equal(link.Counters.DroppedTotal, link.Dropped(policyReason) + expectedRejected + expectedFailed);
    }
}
