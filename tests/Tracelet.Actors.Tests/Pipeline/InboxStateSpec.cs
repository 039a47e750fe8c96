using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Pipeline;

/// <summary>
/// The receiving side of a backend's links: per source node, deliveries are queued in sequence
/// order (per epoch), duplicates and gaps are answered with the last sequence written, and every
/// finished write is acknowledged to the link's outbox (a <see cref="TestProbe"/> here).
/// </summary>
public sealed class InboxStateSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string NodeA = "node-a";
    private const string NodeB = "node-b";
    private const string Backend = "sql";
    private const long Epoch = 41;

    private static readonly DateTimeOffset T0 = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(100);

    private readonly InboxState _inbox = new();
    private readonly TestProbe _outbox;

    public InboxStateSpec(ITestOutputHelper output) : base("akka.loglevel = WARNING", output)
    {
        _outbox = CreateTestProbe("outbox");
    }

    // ------------------------------------------------------------ helpers

    private static Delivery Delivery(long sequence, int samples = 2, long epoch = Epoch, string node = NodeA) =>
        new(node, Backend, sequence, new MetricBatch(node, $"b{sequence}",
            Enumerable.Range(0, samples).Select(i => new MetricSample("m", MetricType.Scalar, i, T0, "c")).ToImmutableArray()))
        {
            Epoch = epoch,
        };

    private void Accept(Delivery delivery, IActorRef? replyTo = null) => _inbox.Accept(delivery, replyTo ?? _outbox.Ref);

    /// <summary>The deliveries queued for the plugin, in the order it would write them.</summary>
    private List<Delivery> TakeAll()
    {
        var taken = new List<Delivery>();
        while (_inbox.TryTake(out var delivery, out var replyTo))
        {
            Assert.NotNull(replyTo);
            taken.Add(delivery);
        }
        return taken;
    }

    /// <summary>Takes every queued delivery and writes it, expecting its acknowledgement.</summary>
    private void WriteAll()
    {
        while (_inbox.TryTake(out var delivery, out var replyTo))
        {
            Assert.Equal(_outbox.Ref, replyTo);
            _inbox.Written(delivery, replyTo, 0, 0);
            ExpectAck(delivery.Sequence, node: delivery.SourceNode);
        }
    }

    private void ExpectAck(long sequence, int rejected = 0, int failed = 0, string node = NodeA, TestProbe? probe = null)
    {
        var ack = (probe ?? _outbox).ExpectMsg<DeliveryAck>();
        Assert.Equal(new DeliveryAck(node, Backend, sequence, rejected, failed), ack);
    }

    private Dictionary<string, object?> Stats(string node = NodeA)
    {
        var s = _inbox.Snapshot()[node];
        return new Dictionary<string, object?>
        {
            ["received"] = s.Received,
            ["written"] = s.Written,
            ["rejected"] = s.Rejected,
            ["failed"] = s.Failed,
            ["duplicates"] = s.Duplicates,
            ["out_of_order"] = s.OutOfOrder,
            ["last_sequence"] = s.LastSequence,
        };
    }

    private static long[] Sequences(IEnumerable<Delivery> deliveries) => [.. deliveries.Select(d => d.Sequence)];

    // ------------------------------------------------------------ order

    [Fact]
    public void Deliveries_in_order_are_queued_in_order_without_an_acknowledgement()
    {
        Accept(Delivery(1));
        Accept(Delivery(2));
        Accept(Delivery(3));

        Assert.Equal(3, _inbox.WaitingBatches);
        _outbox.ExpectNoMsg(Quiet); // acknowledged when written, not when queued
        var taken = new List<(Delivery, IActorRef)>();
        while (_inbox.TryTake(out var d, out var r)) taken.Add((d, r));
        Assert.Equal([1L, 2L, 3L], Sequences(taken.Select(t => t.Item1)));
        Assert.All(taken, t => Assert.Equal(_outbox.Ref, t.Item2));
        Assert.Equal(0, _inbox.WaitingBatches);
        Assert.False(_inbox.TryTake(out _, out var nobody));
        Assert.Equal(ActorRefs.Nobody, nobody);
    }

    [Fact]
    public void A_written_delivery_is_acknowledged_to_its_sender()
    {
        Accept(Delivery(1));
        Assert.True(_inbox.TryTake(out var delivery, out var replyTo));

        _inbox.Written(delivery, replyTo, 0, 0);

        ExpectAck(1);
        Assert.Equal(1L, Stats()["last_sequence"]);
        Assert.Equal(2L, Stats()["written"]);
    }

    [Fact]
    public void A_duplicate_is_not_queued_and_the_last_written_sequence_is_acknowledged()
    {
        Accept(Delivery(1));
        Accept(Delivery(2));
        WriteAll();

        Accept(Delivery(2, samples: 3));

        Assert.Equal(0, _inbox.WaitingBatches);
        ExpectAck(2);
        Accept(Delivery(1, samples: 3));
        Assert.Equal(0, _inbox.WaitingBatches);
        ExpectAck(2);
        Assert.Equal(6L, Stats()["duplicates"]);
        Assert.Equal(0L, Stats()["out_of_order"]);
    }

    [Fact]
    public void A_duplicate_of_a_batch_not_yet_written_is_not_queued_and_acknowledges_what_was_written()
    {
        Accept(Delivery(1));
        WriteAll();
        Accept(Delivery(2));

        Accept(Delivery(2)); // still waiting to be written

        Assert.Equal([2L], Sequences(TakeAll()));
        ExpectAck(1);
        Assert.Equal(2L, Stats()["duplicates"]);
    }

    [Fact]
    public void A_duplicate_before_anything_was_written_is_dropped_silently()
    {
        Accept(Delivery(1));

        Accept(Delivery(1));

        Assert.Equal(1, _inbox.WaitingBatches);
        _outbox.ExpectNoMsg(Quiet);
    }

    [Fact]
    public void A_gap_is_not_queued_and_the_last_written_sequence_is_acknowledged()
    {
        Accept(Delivery(1));
        WriteAll();

        Accept(Delivery(3, samples: 5));

        Assert.Equal(0, _inbox.WaitingBatches);
        ExpectAck(1);
        Assert.Equal(5L, Stats()["out_of_order"]);
        Assert.Equal(0L, Stats()["duplicates"]);

        // The outbox sends again from 2: now both are taken.
        Accept(Delivery(2));
        Accept(Delivery(3));
        Assert.Equal([2L, 3L], Sequences(TakeAll()));
    }

    // ------------------------------------------------------------ epochs

    [Fact]
    public void The_first_delivery_from_a_node_is_taken_whatever_its_sequence()
    {
        Accept(Delivery(7)); // the inbox restarted; the outbox resends from its oldest unacknowledged batch
        Accept(Delivery(8));

        Assert.Equal([7L, 8L], Sequences(TakeAll()));
    }

    [Fact]
    public void A_new_epoch_restarts_acceptance()
    {
        Accept(Delivery(1));
        Accept(Delivery(2));
        Accept(Delivery(3));
        WriteAll();

        Accept(Delivery(1, epoch: Epoch + 1)); // the producer restarted: its numbers begin again
        Accept(Delivery(2, epoch: Epoch + 1));

        var taken = TakeAll();
        Assert.Equal([1L, 2L], Sequences(taken));
        Assert.All(taken, d => Assert.Equal(Epoch + 1, d.Epoch));
        Assert.Equal(0L, Stats()["duplicates"]);
    }

    [Fact]
    public void A_new_epoch_starting_mid_sequence_is_taken_from_there()
    {
        Accept(Delivery(1));
        WriteAll();

        Accept(Delivery(5, epoch: 99));
        Accept(Delivery(6, epoch: 99));
        Accept(Delivery(8, epoch: 99)); // a gap within the new epoch

        Assert.Equal([5L, 6L], Sequences(TakeAll()));
        // The gap's answer may only cover what precedes the new epoch's first batch.
        var ack = _outbox.ReceiveOne(Quiet) as DeliveryAck;
        Assert.True(ack is null || ack.Sequence < 5, $"acknowledged {ack?.Sequence}");
    }

    [Fact]
    public void Durable_epoch_zero_continues_its_sequence_across_producer_restarts()
    {
        Accept(Delivery(1, epoch: 0));
        Accept(Delivery(2, epoch: 0));
        WriteAll();

        // The producer node restarted: a durable link keeps epoch 0 and numbers on from its store.
        Accept(Delivery(2, epoch: 0));
        ExpectAck(2);
        Accept(Delivery(4, epoch: 0));
        ExpectAck(2);
        Assert.Equal(0, _inbox.WaitingBatches);

        Accept(Delivery(3, epoch: 0));
        Accept(Delivery(4, epoch: 0));
        Assert.Equal([3L, 4L], Sequences(TakeAll()));
        Assert.Equal(2L, Stats()["duplicates"]);
        Assert.Equal(2L, Stats()["out_of_order"]);
    }

    [Fact]
    public void Source_nodes_are_sequenced_independently()
    {
        Accept(Delivery(1, node: NodeA));
        Accept(Delivery(1, node: NodeB));
        Accept(Delivery(2, node: NodeB));
        Accept(Delivery(2, node: NodeA));

        var taken = TakeAll();
        Assert.Equal([(NodeA, 1L), (NodeB, 1L), (NodeB, 2L), (NodeA, 2L)], taken.Select(d => (d.SourceNode, d.Sequence)));
        Assert.Equal([NodeA, NodeB], _inbox.Snapshot().Keys);
    }

    // ------------------------------------------------------------ writes and counters

    [Fact]
    public void A_write_with_rejected_and_failed_samples_acknowledges_them()
    {
        Accept(Delivery(1, samples: 5));
        Accept(Delivery(2, samples: 4));
        var taken = TakeAll();

        _inbox.Written(taken[0], _outbox.Ref, rejected: 2, failed: 0);
        ExpectAck(1, rejected: 2);
        _inbox.Written(taken[1], _outbox.Ref, rejected: 1, failed: 3);
        ExpectAck(2, rejected: 1, failed: 3);

        var stats = Stats();
        Assert.Equal(9L, stats["received"]);
        Assert.Equal(3L, stats["written"]);
        Assert.Equal(3L, stats["rejected"]);
        Assert.Equal(3L, stats["failed"]);
        Assert.Equal(2L, stats["last_sequence"]);
    }

    [Fact]
    public void The_snapshot_counts_per_source_node()
    {
        Accept(Delivery(1, samples: 3));
        Accept(Delivery(2, samples: 3));
        WriteAll();
        Accept(Delivery(2, samples: 3)); // duplicate
        ExpectAck(2);
        Accept(Delivery(5, samples: 4)); // gap
        ExpectAck(2);
        Accept(Delivery(1, samples: 7, node: NodeB));

        var snapshot = _inbox.Snapshot();
        Assert.Equal([NodeA, NodeB], snapshot.Keys);
        var a = Stats(NodeA);
        Assert.Equal(
            ["duplicates", "failed", "last_sequence", "out_of_order", "received", "rejected", "written"],
            a.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(13L, a["received"]);
        Assert.Equal(6L, a["written"]);
        Assert.Equal(3L, a["duplicates"]);
        Assert.Equal(4L, a["out_of_order"]);
        Assert.Equal(0L, a["rejected"]);
        Assert.Equal(0L, a["failed"]);
        Assert.Equal(2L, a["last_sequence"]);
        var b = Stats(NodeB);
        Assert.Equal(7L, b["received"]);
        Assert.Equal(0L, b["written"]);
        Assert.Equal(0L, b["last_sequence"]);
        Assert.Equal(1, _inbox.WaitingBatches);
    }

    [Fact]
    public void An_empty_inbox_has_an_empty_snapshot()
    {
        Assert.Empty(_inbox.Snapshot());
        Assert.Equal(0, _inbox.WaitingBatches);
    }

    [Fact]
    public void Acknowledgements_go_to_the_sender_of_each_delivery()
    {
        var other = CreateTestProbe("other-outbox");
        _inbox.Accept(Delivery(1, node: NodeA), _outbox.Ref);
        _inbox.Accept(Delivery(1, node: NodeB), other.Ref);

        while (_inbox.TryTake(out var delivery, out var replyTo)) _inbox.Written(delivery, replyTo, 0, 0);

        Assert.Equal(NodeA, _outbox.ExpectMsg<DeliveryAck>().SourceNode);
        Assert.Equal(NodeB, other.ExpectMsg<DeliveryAck>().SourceNode);
    }

    // ------------------------------------------------------------ with the producer side

    [Fact]
    public void A_write_of_an_old_epoch_finishing_late_does_not_acknowledge_the_new_epoch()
    {
        // Epoch 1 sent 1..7; the backend is slow and is still writing 7 when the producer restarts.
        for (var s = 1; s <= 7; s++) Accept(Delivery(s, epoch: 1));
        var old = TakeAll();
        foreach (var d in old.Take(6))
        {
            _inbox.Written(d, _outbox.Ref, 0, 0);
            ExpectAck(d.Sequence);
        }

        var restarted = CreateTestProbe("restarted-outbox");
        Accept(Delivery(1, epoch: 2), restarted.Ref); // queued: the new epoch starts at 1
        _inbox.Written(old[6], _outbox.Ref, 0, 0); // epoch 1's last write completes
        ExpectAck(7);

        // The new outbox resends its seq 1 (ack timeout while the backend was busy): a duplicate.
        Accept(Delivery(1, epoch: 2), restarted.Ref);

        // Nothing of epoch 2 is written yet: the answer may not acknowledge its batches 1..7.
        var ack = restarted.ReceiveOne(Quiet) as DeliveryAck;
        Assert.True(ack is null || ack.Sequence < 1, $"epoch 2 was acknowledged up to {ack?.Sequence} before any of its batches was written");
    }

    [Fact]
    public void A_link_whose_resent_batch_was_dropped_for_room_still_makes_progress()
    {
        // The producer's link: room for 4 samples, a window of 2, drop-oldest.
        var link = new LinkQueue(new LinkSettings(OverflowPolicy.DropOldest, 4, long.MaxValue / 4, 2));
        void Send()
        {
            while (link.TakeNext() is { } next) Accept(new Delivery(NodeA, Backend, next.Sequence, next.Batch) { Epoch = link.Epoch });
        }
        void Answer()
        {
            while (_outbox.ReceiveOne(TimeSpan.FromMilliseconds(50)) is DeliveryAck ack) link.Acknowledge(ack.Sequence, ack.Rejected, ack.Failed);
        }
        void Write()
        {
            while (_inbox.TryTake(out var delivery, out var replyTo)) _inbox.Written(delivery, replyTo, 0, 0);
        }
        MetricBatch Batch(string tag) => new(NodeA, tag, [new MetricSample("m", MetricType.Scalar, 1, T0, tag), new MetricSample("m", MetricType.Scalar, 2, T0, tag)]);

        link.Enqueue(Batch("b1"));
        Send();
        Write();
        Answer(); // seq 1 written and acknowledged
        Assert.Equal(2, link.Counters.Delivered);
        link.Enqueue(Batch("b2"));
        link.Enqueue(Batch("b3"));
        Assert.Equal(2L, link.TakeNext()!.Sequence); // sent, and lost on the way
        link.ResendInFlight(); // the outbox's ack timeout: seq 2 back in front; 4 of 4 samples wait
        link.Enqueue(Batch("b4")); // drop-oldest makes room

        for (var round = 0; round < 5 && !link.IsEmpty; round++)
        {
            Send();
            Write();
            Answer();
            link.ResendInFlight(); // what is still unacknowledged after an ack timeout
        }

        Assert.True(link.IsEmpty, $"the link is stuck: {link.InFlightSamples} samples in flight, {link.WaitingSamples} waiting, inbox written up to {Stats()["last_sequence"]}");
        Assert.Equal(link.Counters.Produced, link.Counters.Delivered + link.Counters.DroppedTotal);
    }
}
