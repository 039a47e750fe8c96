using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// Runs one plugin instance. Every plugin call runs on the thread pool and comes back as a
/// message, one call at a time, so the plugin needs no locks and a slow plugin never blocks this
/// actor's mailbox. A plugin exception never escapes: it becomes <see cref="InstanceFailed"/> for
/// the manager, which decides whether to restart. A collector's batches go to the node's
/// pipeline; a backend's actor is its inbox: the pipeline's outboxes deliver to it, it writes
/// one batch at a time in each link's order and acknowledges each write.
/// </summary>
internal sealed class PluginActor : ReceiveActor, IWithTimers
{
    private const string CollectTimer = "collect";
    private const string StatusTimer = "status";

    private readonly PluginDescriptor _descriptor;
    private readonly PluginContext _context;
    private readonly int _incarnation;
    private readonly PluginManagerSettings _settings;
    private readonly CancellationTokenSource _cts = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _pipeline;
    private readonly InboxState _inbox = new();
    private (Delivery Delivery, IActorRef ReplyTo, int Rejected)? _writing;
    private bool _registered;
    private bool _pipelineBlocked;
    private int _handledTypes;
    private bool _drainExpired;
    private IPlugin? _plugin;
    private bool _busy;
    private string? _phase;
    private bool _collectDue;
    private bool _stopRequested;
    private bool _started;
    private bool _failed;
    private readonly bool _keepFailedWrites;

    // Counters shown under "runtime" in status.
    private long _collections;
    private long _skippedTicks;
    private long _samplesProduced;
    private long _batchesWritten;
    private long _samplesWritten;
    private long _samplesRejected;
    private long _blockedTicks;

    public PluginActor(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings, IActorRef pipeline, bool keepFailedWrites = false)
    {
        _keepFailedWrites = keepFailedWrites;
        _descriptor = descriptor;
        _context = context;
        _incarnation = incarnation;
        _settings = settings;
        _pipeline = pipeline;

        Receive<CallCompleted>(Handle);
        Receive<StartInstance>(Handle);
        Receive<StopInstance>(_ => RequestStop());
        Receive<CollectTick>(_ => Collect());
        Receive<StatusTick>(_ => RefreshStatus());
        Receive<Delivery>(Handle);
        Receive<PipelinePressure>(p => _pipelineBlocked = p.Blocked);
        Receive<PipelineStarted>(p =>
        {
            if (_registered && p.Pipeline.Equals(_pipeline)) Register();
        });
        Receive<FailedInstanceReleased>(m =>
        {
            Context.Parent.Tell(m.Report);
            Context.Stop(Self);
        });
        Receive<DrainDeadline>(_ =>
        {
            _drainExpired = true;
            if (!_busy) StopPlugin();
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="keepFailedWrites">
    /// A backend whose links are durable: a write that throws is not acknowledged, so its producers keep
    /// the batch and send it again to the next incarnation (zero loss), instead of counting it lost.
    /// </param>
    public static Props Props(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings, IActorRef pipeline, bool keepFailedWrites = false) =>
        Akka.Actor.Props.Create(() => new PluginActor(descriptor, context, incarnation, settings, pipeline, keepFailedWrites));

    private string Name => _descriptor.Name;

    protected override void PreStart()
    {
        try
        {
            _plugin = _descriptor.CreateInstance();
        }
        catch (Exception e)
        {
            Fail("initialize", Unwrap(e));
            return;
        }
        var plugin = _plugin;
        var context = _context;
        Call("initialize", ct => Wrap(plugin.InitializeAsync(context, ct)));
    }

    protected override void PostStop()
    {
        _cts.Cancel();
        _cts.Dispose();
        Context.System.EventStream.Unsubscribe(Self);
        Unregister(withdraw: false);
    }

    private void Register() => _pipeline.Tell(new RegisterBackend(Name, Self, _incarnation, _handledTypes));

    /// <summary>
    /// This inbox stops being announced. On a deliberate stop it is withdrawn (producers drop what
    /// waits for it, unless durable); after a failure producers keep it and resend to the next incarnation.
    /// </summary>
    private void Unregister(bool withdraw)
    {
        if (!_registered) return;
        _registered = false;
        _pipeline.Tell(new UnregisterBackend(Name, Self, withdraw));
    }

    private void Handle(StartInstance _)
    {
        if (_plugin is null || _failed) return;
        var plugin = _plugin;
        Call("start", ct => Wrap(plugin.StartAsync(ct)));
    }

    private void RequestStop()
    {
        // A failed instance is already releasing its plugin; the manager hears of it through InstanceFailed.
        if (_failed) return;
        _stopRequested = true;
        Timers.CancelAll();
        if (_plugin is BackendPlugin)
        {
            // Take no more, and write what was already accepted before stopping (within the drain deadline).
            Unregister(withdraw: true);
            Timers.StartSingleTimer("drain", DrainDeadline.Instance, _settings.DrainTimeout);
            if (!_busy) WriteNext();
            return;
        }
        if (!_busy) StopPlugin();
    }

    private void StopPlugin()
    {
        if (_plugin is null || !_started)
        {
            Context.Parent.Tell(new InstanceStopped(Name, _incarnation, null));
            Context.Stop(Self);
            return;
        }
        var plugin = _plugin;
        _started = false;
        Call("stop", ct => Wrap(plugin.StopAsync(ct)));
    }

    private void Collect()
    {
        if (_plugin is not CollectorPlugin collector || !_started || _stopRequested) return;
        if (_pipelineBlocked)
        {
            // A block-policy backend's link is full: skip this collection rather than lose samples later.
            _skippedTicks++;
            _blockedTicks++;
            return;
        }
        if (_busy)
        {
            // A status refresh is quick: collect right after it. Anything else (the previous
            // collection still running) makes this tick a skipped one: calls never overlap.
            if (_phase == "status") _collectDue = true;
            else _skippedTicks++;
            return;
        }
        var node = _context.NodeId;
        var source = Name;
        Call("collect", async ct =>
        {
            var buffer = new SampleBuffer(source, DateTimeOffset.UtcNow);
            await collector.CollectAsync(buffer, ct).ConfigureAwait(false);
            return buffer.Count == 0 ? null : new MetricBatch(node, source, buffer.Drain());
        });
    }

    private void Handle(Delivery delivery)
    {
        // Only a started, registered inbox takes deliveries; the outbox sends again to the next incarnation.
        if (_plugin is not BackendPlugin || !_started || !_registered || _failed) return;
        _inbox.Accept(delivery, Sender);
        WriteNext();
    }

    private void WriteNext()
    {
        if (_busy || _plugin is not BackendPlugin backend) return;
        if (_stopRequested && _drainExpired)
        {
            StopPlugin(); // what is left unwritten is not acknowledged: producers resend it to the next incarnation
            return;
        }
        if (!_inbox.TryTake(out var delivery, out var replyTo))
        {
            if (_stopRequested) StopPlugin(); // drained
            return;
        }
        var batch = delivery.Batch;
        var accepted = batch.Samples.Where(s => backend.CanHandle(s.Type)).ToImmutableArray();
        var rejected = batch.Samples.Length - accepted.Length;
        _samplesRejected += rejected;
        if (accepted.IsEmpty)
        {
            _inbox.Written(delivery, replyTo, rejected, 0);
            WriteNext();
            return;
        }
        var toWrite = accepted.Length == batch.Samples.Length ? batch : batch with { Samples = accepted };
        _writing = (delivery, replyTo, rejected);
        Call("write", async ct =>
        {
            await backend.WriteAsync(toWrite, ct).ConfigureAwait(false);
            return toWrite;
        });
    }

    private void RefreshStatus()
    {
        if (_busy || _plugin is null) return;
        Call("status", _ => Task.FromResult<object?>(null));
    }

    /// <summary>Runs one plugin call on the thread pool; the result, and the plugin's fresh status, come back as <see cref="CallCompleted"/>.</summary>
    private void Call(string phase, Func<CancellationToken, Task<object?>> call)
    {
        _busy = true;
        _phase = phase;
        var plugin = _plugin!;
        var token = _cts.Token;
        Task.Run(async () =>
        {
            object? result = null;
            Exception? error = null;
            try
            {
                result = await call(token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                error = Unwrap(e);
            }
            return new CallCompleted(phase, result, error, SafeStatus(plugin));
        }).PipeTo(Self);
    }

    private void Handle(CallCompleted done)
    {
        _busy = false;
        _phase = null;
        if (done.Status is not null) ReportStatus(done.Status);
        if (done.Phase == "write" && _writing is { } writing)
        {
            // A failed write is acknowledged as lost (counted "backend-error" by its producers, never retried into
            // a loop) unless the backend's links are durable: then it stays unacknowledged, and the outbox sends it
            // again to the next incarnation, which the runtime starts with backoff after this failure.
            _writing = null;
            if (done.Error is null || !_keepFailedWrites)
            {
                var failed = done.Error is null ? 0 : writing.Delivery.Batch.Samples.Length - writing.Rejected;
                _inbox.Written(writing.Delivery, writing.ReplyTo, writing.Rejected, failed);
            }
        }
        if (done.Error is not null)
        {
            if (done.Phase == "stop")
            {
                Context.Parent.Tell(new InstanceStopped(Name, _incarnation, $"{done.Error.GetType().Name}: {done.Error.Message}"));
                Context.Stop(Self);
                return;
            }
            _log.Warning(done.Error, "Plugin {Plugin} failed in {Phase}", Name, done.Phase);
            Fail(done.Phase, done.Error);
            return;
        }
        switch (done.Phase)
        {
            case "initialize":
                Context.Parent.Tell(new InstanceInitialized(Name, _incarnation));
                break;
            case "start":
                _started = true;
                OnStarted();
                if (_failed) return;
                Context.Parent.Tell(new InstanceStarted(Name, _incarnation));
                break;
            case "collect":
                _collections++;
                if (done.Value is MetricBatch batch)
                {
                    _samplesProduced += batch.Samples.Length;
                    _pipeline.Tell(new PublishBatch(batch));
                }
                break;
            case "write":
                _batchesWritten++;
                _samplesWritten += ((MetricBatch)done.Value!).Samples.Length;
                break;
            case "stop":
                Context.Parent.Tell(new InstanceStopped(Name, _incarnation, null));
                Context.Stop(Self);
                return;
        }
        if (_stopRequested)
        {
            if (_plugin is BackendPlugin) WriteNext(); // drains what was accepted, then stops
            else StopPlugin();
            return;
        }
        if (_collectDue)
        {
            _collectDue = false;
            Collect();
            return;
        }
        WriteNext();
    }

    private void OnStarted()
    {
        if (_plugin is IActorBackedPlugin actorBacked && !StartWorker(actorBacked)) return;
        Timers.StartPeriodicTimer(StatusTimer, StatusTick.Instance, _settings.StatusInterval);
        switch (_plugin)
        {
            case CollectorPlugin collector:
                Context.System.EventStream.Subscribe(Self, typeof(PipelinePressure));
                Timers.StartPeriodicTimer(CollectTimer, CollectTick.Instance, TimeSpan.Zero, collector.Interval);
                break;
            case BackendPlugin backend:
                _handledTypes = 0;
                foreach (var type in Enum.GetValues<MetricType>())
                {
                    if (backend.CanHandle(type)) _handledTypes |= 1 << (int)type;
                }
                _registered = true;
                Context.System.EventStream.Subscribe(Self, typeof(PipelineStarted));
                Register();
                break;
        }
    }

    private bool StartWorker(IActorBackedPlugin plugin)
    {
        try
        {
            var worker = Context.ActorOf(plugin.CreateWorker(), "worker");
            plugin.AttachWorker(worker);
            return true;
        }
        catch (Exception e)
        {
            Fail("start", Unwrap(e));
            return false;
        }
    }

    private void Fail(string phase, Exception error)
    {
        _failed = true;
        Timers.CancelAll();
        Context.System.EventStream.Unsubscribe(Self);
        Unregister(withdraw: false);
        var report = new InstanceFailed(Name, _incarnation, phase, $"{error.GetType().Name}: {error.Message}", IsPermanent(error));
        if (_started && _plugin is not null)
        {
            // Let the plugin release what it holds (files, ports, connections) before the manager is told,
            // so that the next incarnation never runs beside this one's StopAsync; bounded, and its own
            // error adds nothing. Until then this actor takes nothing more (_failed).
            var plugin = _plugin;
            _started = false;
            var bound = _settings.OperationTimeout < MaxReleaseTime ? _settings.OperationTimeout : MaxReleaseTime;
            ReleaseAsync(plugin, bound).PipeTo(Self, success: () => new FailedInstanceReleased(report));
            return;
        }
        Context.Parent.Tell(report);
        Context.Stop(Self);
    }

    private static readonly TimeSpan MaxReleaseTime = TimeSpan.FromSeconds(10);

    private static async Task ReleaseAsync(IPlugin plugin, TimeSpan bound)
    {
        using var cts = new CancellationTokenSource(bound);
        try
        {
            await plugin.StopAsync(cts.Token).AsTask().WaitAsync(bound).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The plugin already failed; its stop error (or hang) adds nothing.
        }
    }

    /// <summary>A failed instance's StopAsync finished (or ran out of time): now the manager may start the next.</summary>
    private sealed record FailedInstanceReleased(InstanceFailed Report);

    private void ReportStatus(IReadOnlyDictionary<string, object?> status)
    {
        PluginRuntime runtime = _plugin switch
        {
            CollectorPlugin collector => new CollectorRuntime(collector.Interval.TotalSeconds, _collections, _samplesProduced, _skippedTicks, _blockedTicks,
                ImmutableSortedDictionary<string, long>.Empty),
            _ => new BackendRuntime(_batchesWritten, _samplesWritten, _samplesRejected, _inbox.WaitingBatches, _inbox.Snapshot()),
        };
        Context.Parent.Tell(new InstanceStatus(Name, _incarnation, status, runtime));
    }

    private static IReadOnlyDictionary<string, object?>? SafeStatus(IPlugin plugin)
    {
        try
        {
            return plugin.GetStatus();
        }
        catch (Exception e)
        {
            return new Dictionary<string, object?> { ["status_error"] = $"{e.GetType().Name}: {e.Message}" };
        }
    }

    private static async Task<object?> Wrap(ValueTask call)
    {
        await call.ConfigureAwait(false);
        return null;
    }

    internal static Exception Unwrap(Exception e) =>
        e is System.Reflection.TargetInvocationException or TypeInitializationException or AggregateException && e.InnerException is not null
            ? Unwrap(e.InnerException!)
            : e;

    /// <summary>Faults that restarting cannot cure: the plugin goes to Error at once.</summary>
    internal static bool IsPermanent(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or PluginPermanentException)
                return true;
        }
        return false;
    }

    private sealed record CallCompleted(string Phase, object? Value, Exception? Error, IReadOnlyDictionary<string, object?>? Status);

    private sealed class CollectTick
    {
        public static readonly CollectTick Instance = new();

        private CollectTick() { }
    }

    private sealed class DrainDeadline
    {
        public static readonly DrainDeadline Instance = new();

        private DrainDeadline() { }
    }

    private sealed class StatusTick
    {
        public static readonly StatusTick Instance = new();

        private StatusTick() { }
    }
}
