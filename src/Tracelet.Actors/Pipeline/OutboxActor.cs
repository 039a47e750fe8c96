using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// One link: this node → one backend (on any node). Buffers what the pipeline routes to it
/// (bounded, with the backend's overflow policy), sends at most a window of samples ahead of the
/// backend's acknowledgements, numbers every batch, sends again what stays unacknowledged for
/// <c>ack-timeout</c> or was in flight to an inbox that restarted, and keeps the link's counters.
/// Durable links make synchronous SQLite calls, so they run on the pinned native-calls dispatcher.
/// </summary>
internal sealed class OutboxActor : ReceiveActor, IWithTimers
{
    private const string AckCheckTimer = "ack-check";
    private const string FlushTimer = "flush";

    private readonly string _sourceNode;
    private readonly string _backend;
    private readonly string _backendNode;
    private readonly PipelineSettings _settings;
    private readonly Func<LinkSettings, ILinkQueue> _createQueue;
    private readonly LinkSettings _link;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ILinkQueue _queue = null!;
    private IActorRef? _inbox;
    private string _state = "waiting for the backend";
    private DateTime _lastProgress = DateTime.UtcNow;
    private long _resends;
    private long _blockedSkips;
    private bool _wasFull;
    private bool _shuttingDown;
    private IActorRef? _flushReplyTo;

    public OutboxActor(string sourceNode, string backend, string backendNode, LinkSettings link, PipelineSettings settings, Func<LinkSettings, ILinkQueue> createQueue)
    {
        _sourceNode = sourceNode;
        _backend = backend;
        _backendNode = backendNode;
        _link = link;
        _settings = settings;
        _createQueue = createQueue;
        Receive<BackendAnnouncement>(Handle);
        Receive<LinkUnreachable>(_ => SetInbox(null, "unreachable (no announcement within backend-timeout)"));
        Receive<BackendWithdrawn>(_ => Withdrawn());
        Receive<RoutedBatch>(Handle);
        Receive<DeliveryAck>(Handle);
        Receive<AckCheck>(_ => CheckAcks());
        Receive<GetLinkStatus>(_ => Sender.Tell(Status()));
        Receive<BlockedSkip>(_ => _blockedSkips++);
        Receive<FlushLink>(Handle);
        Receive<FlushDeadline>(_ => FinishFlush());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string sourceNode, string backend, string backendNode, LinkSettings link, PipelineSettings settings, Func<LinkSettings, ILinkQueue> createQueue)
    {
        var props = Akka.Actor.Props.Create(() => new OutboxActor(sourceNode, backend, backendNode, link, settings, createQueue));
        return link.Overflow == OverflowPolicy.Durable ? props.WithDispatcher("tracelet.dispatchers.native-calls") : props;
    }

    protected override void PreStart()
    {
        _queue = _createQueue(_link);
        // A fresh link blocks nobody (a restarted one must not leave collectors blocked forever).
        if (_link.Overflow == OverflowPolicy.Block) Context.Parent.Tell(new LinkPressure(BackendAnnouncement.BackendKey(_backend, _backendNode), false));
        if (_queue.Recovered > 0) _log.Info("Link {Backend}@{Node}: {Samples} samples recovered from the durable store", _backend, _backendNode, _queue.Recovered);
        Timers.StartPeriodicTimer(AckCheckTimer, AckCheck.Instance, _settings.AckTimeout);
    }

    private void Handle(BackendAnnouncement announcement)
    {
        if (!Equals(_inbox, announcement.Inbox)) SetInbox(announcement.Inbox, "up");
        else _state = "up";
        Pump();
    }

    private void SetInbox(IActorRef? inbox, string state)
    {
        var changed = !Equals(_inbox, inbox);
        _inbox = inbox;
        _state = state;
        if (changed && inbox is not null && _queue.InFlightSamples > 0)
        {
            // A new inbox (the backend restarted): what was in flight to the old one goes again, in
            // order. Losing the inbox resends nothing: its late acknowledgements must still count.
            _queue.ResendInFlight();
            _resends++;
        }
        _lastProgress = DateTime.UtcNow;
        Pump();
    }

    private void Withdrawn()
    {
        SetInbox(null, "withdrawn (the backend stopped)");
        // A stopped backend takes no more: what waits unsent is dropped, unless its policy is durable.
        // Batches in flight stay: the backend writes what it accepted before it stops, and acknowledges it.
        if (_link.Overflow != OverflowPolicy.Durable) _queue.DropWaiting(DropReason.Shutdown);
        ReportPressure();
        CheckFlushDone();
    }

    private void Handle(RoutedBatch routed)
    {
        if (_shuttingDown)
        {
            // Shutting down: produced after the flush began, dropped (or kept, when durable).
            if (_link.Overflow == OverflowPolicy.Durable) _queue.Enqueue(routed.Batch, routed.Bytes);
            else
            {
                _queue.Counters.Produced += routed.Batch.Samples.Length;
                _queue.Counters.Drop(DropReason.Shutdown, routed.Batch.Samples.Length);
            }
            return;
        }
        _queue.Enqueue(routed.Batch, routed.Bytes);
        ReportPressure();
        Pump();
    }

    private void Handle(DeliveryAck ack)
    {
        if (_queue.Acknowledge(ack.Sequence, ack.Rejected, ack.Failed)) _lastProgress = DateTime.UtcNow;
        ReportPressure();
        Pump();
        CheckFlushDone();
    }

    private void Pump()
    {
        LogStoreError();
        if (_inbox is null) return;
        while (_queue.TakeNext() is { } next)
            _inbox.Tell(new Delivery(_sourceNode, _backend, next.Sequence, next.Batch) { Epoch = _queue.Epoch }, Self);
    }

    private string? _loggedStoreError;

    /// <summary>A durable link's store error (a full disk, an unwritable file) is logged once per change, naming the file.</summary>
    private void LogStoreError()
    {
        if (_queue is not DurableLinkQueue { LastStoreError: { } error } || error == _loggedStoreError) return;
        _loggedStoreError = error;
        _log.Error("Link {Backend}@{Node}: the durable store failed: {Error}", _backend, _backendNode, error);
    }

    private void CheckAcks()
    {
        if (_inbox is null || _queue.InFlightSamples == 0) return;
        if (DateTime.UtcNow - _lastProgress < _settings.AckTimeout) return;
        _log.Warning("Link {Backend}@{Node}: no acknowledgement for {Timeout}; sending {Samples} samples in flight again", _backend, _backendNode, _settings.AckTimeout, _queue.InFlightSamples);
        _queue.ResendInFlight();
        _resends++;
        _lastProgress = DateTime.UtcNow;
        Pump();
    }

    private void ReportPressure()
    {
        if (_link.Overflow != OverflowPolicy.Block) return;
        var full = _queue.IsFull;
        if (full == _wasFull) return;
        _wasFull = full;
        Context.Parent.Tell(new LinkPressure(BackendAnnouncement.BackendKey(_backend, _backendNode), full));
    }

    private void Handle(FlushLink flush)
    {
        _shuttingDown = true;
        _flushReplyTo = Sender;
        Timers.StartSingleTimer(FlushTimer, FlushDeadline.Instance, flush.Deadline);
        CheckFlushDone();
    }

    private void CheckFlushDone()
    {
        if (_flushReplyTo is null || !_queue.IsEmpty) return;
        FinishFlush();
    }

    private void FinishFlush()
    {
        if (_flushReplyTo is not { } replyTo) return;
        Timers.Cancel(FlushTimer);
        var kept = _link.Overflow == OverflowPolicy.Durable ? _queue.WaitingSamples + _queue.InFlightSamples : 0;
        var dropped = _link.Overflow == OverflowPolicy.Durable ? 0 : _queue.DropAll(DropReason.Shutdown);
        replyTo.Tell(new LinkFlushed(kept, dropped));
        _flushReplyTo = null; // answered once; the link stays in shutdown mode
    }

    private LinkStatus Status()
    {
        var c = _queue.Counters;
        return new LinkStatus(_backend, _backendNode, _sourceNode, _link.Overflow, _state,
            c.Produced, c.Delivered, c.DroppedSnapshot(), _queue.WaitingSamples, _queue.WaitingBytes, _queue.InFlightSamples,
            _link.WindowSamples, _link.BufferSamples, _link.BufferBytes, _queue.Recovered, _resends, _blockedSkips);
    }

    private sealed class AckCheck
    {
        public static readonly AckCheck Instance = new();

        private AckCheck() { }
    }

    private sealed class FlushDeadline
    {
        public static readonly FlushDeadline Instance = new();

        private FlushDeadline() { }
    }
}

/// <summary>Pipeline → outbox: samples routed to this link, with their estimated size (computed once, by the router).</summary>
internal sealed record RoutedBatch(MetricBatch Batch, long Bytes);

/// <summary>Pipeline → outbox: no announcement from the backend within backend-timeout.</summary>
internal sealed record LinkUnreachable
{
    public static LinkUnreachable Instance { get; } = new();
}

/// <summary>Pipeline → outbox.</summary>
internal sealed record GetLinkStatus
{
    public static GetLinkStatus Instance { get; } = new();
}

/// <summary>Pipeline → outbox at shutdown.</summary>
internal sealed record FlushLink(TimeSpan Deadline);

/// <summary>Outbox → pipeline.</summary>
internal sealed record LinkFlushed(long Kept, long Dropped);

/// <summary>Pipeline → outbox: a collector skipped a tick because this (block-policy) link was full.</summary>
internal sealed record BlockedSkip
{
    public static BlockedSkip Instance { get; } = new();
}

/// <summary>Outbox → pipeline: a block-policy link filled up or has room again.</summary>
internal sealed record LinkPressure(string Link, bool Full);
