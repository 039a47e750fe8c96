using System.Collections.Immutable;
using Akka;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// Runs a backend as the far end of its links: once started it registers with the node's pipeline
/// (which announces it to every node), takes the outboxes' deliveries, writes one batch at a time
/// in each link's order and acknowledges each write. On a stop it takes nothing more, writes what
/// it had accepted (within the drain deadline), then calls StopAsync. A withdrawing stop tells
/// producers it is gone; a pausing one (restart, upgrade) only stops announcing, so producers keep
/// their buffers and deliver to the next incarnation.
/// </summary>
internal sealed class BackendInboxActor : PluginInstanceActor
{
    private const string DrainTimer = "drain";

    private readonly IActorRef _pipeline;
    private readonly bool _keepFailedWrites;
    private readonly InboxState _inbox = new();
    private int _handledTypes;
    private long _batchesWritten;
    private long _samplesWritten;
    private long _samplesRejected;

    public BackendInboxActor(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings, IActorRef pipeline, bool keepFailedWrites)
        : base(descriptor, context, incarnation, settings)
    {
        _pipeline = pipeline;
        _keepFailedWrites = keepFailedWrites;
    }

    /// <param name="keepFailedWrites">A write that throws is not acknowledged (durable links): its producers send it again to the next incarnation.</param>
    public static Props Props(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings, IActorRef pipeline, bool keepFailedWrites) =>
        Akka.Actor.Props.Create(() => new BackendInboxActor(descriptor, context, incarnation, settings, pipeline, keepFailedWrites));

    private BackendPlugin Backend => (BackendPlugin)Plugin;

    protected override void OnStarted()
    {
        _handledTypes = 0;
        foreach (var type in Enum.GetValues<MetricType>())
        {
            if (Backend.CanHandle(type)) _handledTypes |= 1 << (int)type;
        }
        Context.System.EventStream.Subscribe(Self, typeof(PipelineStarted));
        Register();
        Become(Ready);
    }

    protected override PluginRuntime Runtime() =>
        new BackendRuntime(_batchesWritten, _samplesWritten, _samplesRejected, _inbox.WaitingBatches, _inbox.Snapshot());

    protected override void OnFailing() => Unregister(withdraw: false);

    protected override void PostStop()
    {
        // Whatever the way out, producers keep what waits for this inbox unless a stop withdrew it.
        Unregister(withdraw: false);
        base.PostStop();
    }

    /// <summary>Registered, and no write runs.</summary>
    private void Ready()
    {
        Registered();
        Receive<Delivery>(delivery =>
        {
            _inbox.Accept(delivery, Sender);
            WriteNext();
        });
        Receive<StatusTick>(_ =>
        {
            Become(ReadingStatus);
            ReadStatus();
        });
        Receive<StopInstance>(stop =>
        {
            BeginDrain(stop);
            DrainNext(stop.Withdraw, overdue: false);
        });
    }

    /// <summary>Registered, and the plugin writes <paramref name="job"/>.</summary>
    private void Writing(WriteJob job)
    {
        Registered();
        Receive<Delivery>(delivery => _inbox.Accept(delivery, Sender));
        Receive<CallResult<NotUsed>>(result =>
        {
            if (!Written(job, result)) return;
            Become(Ready);
            WriteNext();
        });
        Receive<StatusTick>(_ => { }); // the write brings a fresh status with it
        Receive<StopInstance>(stop =>
        {
            BeginDrain(stop);
            Become(() => Draining(job, stop.Withdraw, overdue: false));
        });
    }

    /// <summary>Registered, and a status read runs (quick: a stop waits for it).</summary>
    private void ReadingStatus()
    {
        Registered();
        Receive<Delivery>(delivery => _inbox.Accept(delivery, Sender));
        Receive<CallResult<NotUsed>>(result =>
        {
            Report(result);
            Become(Ready);
            Stash.UnstashAll();
            WriteNext();
        });
        Receive<StatusTick>(_ => { });
        Receive<StopInstance>(_ => Stash.Stash());
    }

    /// <summary>
    /// Stopping: unregistered, writing <paramref name="job"/>, then the next accepted batch, until none is
    /// left or the drain deadline passed (<paramref name="overdue"/>); then StopAsync.
    /// </summary>
    private void Draining(WriteJob job, bool withdraw, bool overdue)
    {
        Receive<CallResult<NotUsed>>(result =>
        {
            if (Written(job, result)) DrainNext(withdraw, overdue);
        });
        Receive<DrainDeadline>(_ => Become(() => Draining(job, withdraw, overdue: true)));
        if (withdraw)
        {
            // Sent before the producer heard of the withdrawal (it sends nothing after): written too, so nothing
            // stays in flight to an inbox that is gone.
            Receive<Delivery>(delivery => _inbox.Accept(delivery, Sender));
        }
        else
        {
            // A pause: the producer keeps sending until the next incarnation announces itself. Not acknowledged,
            // so the outbox sends it again to the next incarnation.
            Receive<Delivery>(_ => { });
        }
        ReceiveAny(_ => { });
    }

    /// <summary>In every registered behaviour: a restarted pipeline learns this inbox again.</summary>
    private void Registered() =>
        Receive<PipelineStarted>(p =>
        {
            if (p.Pipeline.Equals(_pipeline)) Register();
        });

    private void Register() => _pipeline.Tell(new RegisterBackend(Name, Self, Incarnation, _handledTypes));

    /// <summary>The pipeline ignores this when another incarnation registered since, or none is registered.</summary>
    private void Unregister(bool withdraw) => _pipeline.Tell(new UnregisterBackend(Name, Self, withdraw));

    private void BeginDrain(StopInstance stop)
    {
        Unregister(stop.Withdraw);
        Timers.Cancel(StatusTimer);
        Timers.StartSingleTimer(DrainTimer, DrainDeadline.Instance, Settings.DrainTimeout);
    }

    private void DrainNext(bool withdraw, bool overdue)
    {
        // Past the deadline, what is left unwritten is not acknowledged: producers resend it to the next incarnation.
        if (!overdue && TryStartWrite() is { } job) Become(() => Draining(job, withdraw, overdue));
        else StopPlugin();
    }

    private void WriteNext()
    {
        if (TryStartWrite() is { } job) Become(() => Writing(job));
    }

    /// <summary>Starts writing the next accepted batch (what CanHandle refuses is acknowledged as rejected); null when none waits.</summary>
    private WriteJob? TryStartWrite()
    {
        var backend = Backend;
        while (_inbox.TryTake(out var delivery, out var replyTo))
        {
            var batch = delivery.Batch;
            var accepted = batch.Samples.Where(s => backend.CanHandle(s.Type)).ToImmutableArray();
            var rejected = batch.Samples.Length - accepted.Length;
            _samplesRejected += rejected;
            if (accepted.IsEmpty)
            {
                _inbox.Written(delivery, replyTo, rejected, 0);
                continue;
            }
            var toWrite = accepted.Length == batch.Samples.Length ? batch : batch with { Samples = accepted };
            Call(PluginCall.Write, ct => backend.WriteAsync(toWrite, ct));
            return new WriteJob(delivery, replyTo, rejected, toWrite.Samples.Length);
        }
        return null;
    }

    /// <summary>Records a finished write; false when it threw and the instance is failing.</summary>
    private bool Written(WriteJob job, CallResult<NotUsed> result)
    {
        // A failed write is acknowledged as lost (counted "backend-error" by its producers, never retried into
        // a loop) unless the backend's links are durable: then it stays unacknowledged, and the outbox sends it
        // again to the next incarnation, which the runtime starts with backoff after this failure.
        if (result.Error is null || !_keepFailedWrites)
            _inbox.Written(job.Delivery, job.ReplyTo, job.Rejected, result.Error is null ? 0 : job.Samples);
        if (result.Error is null)
        {
            _batchesWritten++;
            _samplesWritten += job.Samples;
        }
        Report(result);
        if (result.Error is null) return true;
        Fail(PluginCall.Write, result.Error, release: true);
        return false;
    }

    /// <summary>One delivery being written: whom to acknowledge, and how many of its samples CanHandle refused.</summary>
    private sealed record WriteJob(Delivery Delivery, IActorRef ReplyTo, int Rejected, int Samples);

    private sealed class DrainDeadline
    {
        public static readonly DrainDeadline Instance = new();

        private DrainDeadline() { }
    }
}
