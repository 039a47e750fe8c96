using Akka;
using Akka.Actor;
using Akka.Event;
using Tracelet.Abstractions;
using Tracelet.Abstractions.Akka;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// What every plugin instance actor shares: the plugin's lifecycle up to "started" and from
/// "stopping" on, as behaviours (initializing, initialized, starting, stopping, releasing), and
/// the one way a plugin is called. Every call runs on the thread pool and comes back as a
/// <see cref="CallResult{T}"/>, one call at a time, so the plugin needs no locks and a slow
/// plugin never blocks the mailbox. A plugin exception never escapes: it becomes
/// <see cref="InstanceFailed"/> for the manager, after the plugin has released what it holds.
/// What a started instance does is the subclass's behaviour, entered from <see cref="OnStarted"/>.
/// A watchdog timer per call marks one that runs past <see cref="PluginManagerSettings.CallTimeout"/>
/// as stuck in status until it returns; the call is never cancelled, since one stuck in native code
/// cannot be, and the mailbox stays free meanwhile.
/// </summary>
internal abstract class PluginInstanceActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    protected const string StatusTimer = "status";

    private const string WatchdogTimer = "call-watchdog";

    private static readonly TimeSpan MaxReleaseTime = TimeSpan.FromSeconds(10);

    private readonly PluginDescriptor _descriptor;
    private readonly CancellationTokenSource _cts = new();
    private IPlugin? _plugin;
    private long _callNumber;
    private (long Number, PluginCall Call, DateTimeOffset Since)? _inFlight;
    private StuckCall? _stuck;
    private long _stuckCalls;
    private IReadOnlyDictionary<string, object?> _lastStatus = new Dictionary<string, object?>();

    protected PluginInstanceActor(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings)
    {
        _descriptor = descriptor;
        PluginContext = context;
        Incarnation = incarnation;
        Settings = settings;
        Become(Initializing);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    protected string Name => _descriptor.Name;

    protected int Incarnation { get; }

    protected PluginContext PluginContext { get; }

    protected PluginManagerSettings Settings { get; }

    protected ILoggingAdapter Log { get; } = Context.GetLogger();

    /// <summary>The instance; set before any behaviour of a subclass runs.</summary>
    protected IPlugin Plugin => _plugin!;

    /// <summary>StartAsync returned and the status timer runs: set up the work and <c>Become</c> the started behaviour.</summary>
    protected abstract void OnStarted();

    /// <summary>The counters shown under <c>runtime</c>, sent with each fresh status.</summary>
    protected abstract PluginRuntime Runtime();

    /// <summary>The instance failed: undo what <see cref="OnStarted"/> announced (the actor stops after the release).</summary>
    protected virtual void OnFailing()
    {
    }

    protected override void PreStart()
    {
        try
        {
            _plugin = _descriptor.CreateInstance();
        }
        catch (Exception e)
        {
            Fail(PluginCall.Initialize, PluginInstance.Unwrap(e), release: false);
            return;
        }
        var plugin = _plugin;
        var context = PluginContext;
        Call(PluginCall.Initialize, ct => plugin.InitializeAsync(context, ct));
    }

    protected override void PostStop()
    {
        _cts.Cancel();
        _cts.Dispose();
        Context.System.EventStream.Unsubscribe(Self);
    }

    /// <summary>
    /// Every behaviour shares the watchdog: its timer, and a call result clears what it marked. Wrapped
    /// around the behaviour rather than matched here, so that it also sees the timer's message once
    /// the timer scheduler has unwrapped it.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message) =>
        base.AroundReceive(m => Watch(m) || receive(m), message);

    private bool Watch(object message)
    {
        switch (message)
        {
            case CallWatchdog watchdog:
                MarkStuck(watchdog);
                return true;
            case ICallResult:
                _inFlight = null;
                _stuck = null;
                Timers.Cancel(WatchdogTimer);
                return false;
            default:
                return false;
        }
    }

    /// <summary>Runs one plugin call on the thread pool; its <see cref="CallResult{T}"/> comes back to this actor.</summary>
    protected void Call<T>(PluginCall call, Func<CancellationToken, Task<T>> run)
    {
        var plugin = _plugin!;
        var token = _cts.Token;
        var number = ++_callNumber;
        _inFlight = (number, call, DateTimeOffset.UtcNow);
        Timers.StartSingleTimer(WatchdogTimer, new CallWatchdog(number), Settings.CallTimeout);
        Task.Run(async () =>
        {
            T? value = default;
            Exception? error = null;
            try
            {
                value = await run(token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                error = PluginInstance.Unwrap(e);
            }
            return new CallResult<T>(call, value, error, SafeStatus(plugin));
        }).PipeTo(Self);
    }

    /// <summary>A call without a value; it comes back as <c>CallResult&lt;NotUsed&gt;</c>.</summary>
    protected void Call(PluginCall call, Func<CancellationToken, ValueTask> run) =>
        Call(call, async ct =>
        {
            await run(ct).ConfigureAwait(false);
            return NotUsed.Instance;
        });

    /// <summary>Reads the plugin's status on the thread pool (GetStatus is a plugin call like any other).</summary>
    protected void ReadStatus() => Call(PluginCall.Status, _ => ValueTask.CompletedTask);

    /// <summary>Sends the status that came back with a call, with the actor's counters, to the manager.</summary>
    protected void Report<T>(CallResult<T> result)
    {
        if (result.Status is not { } status) return;
        _lastStatus = status;
        Context.Parent.Tell(new InstanceStatus(Name, Incarnation, status, WatchedRuntime()));
    }

    /// <summary>Calls StopAsync and stops once it returns; nothing else is taken meanwhile.</summary>
    protected void StopPlugin()
    {
        Timers.CancelAll();
        Become(Stopping);
        var plugin = Plugin;
        Call(PluginCall.Stop, plugin.StopAsync);
    }

    /// <summary>
    /// The plugin failed in <paramref name="call"/>. When it had started (<paramref name="release"/>), it may
    /// release what it holds (files, ports, connections) before the manager is told, so the next incarnation
    /// never runs beside this one's StopAsync; bounded, and its own error adds nothing.
    /// </summary>
    protected void Fail(PluginCall call, Exception error, bool release)
    {
        Log.Warning(error, "Plugin {Plugin} failed in {Phase}", Name, call);
        Timers.CancelAll();
        Context.System.EventStream.Unsubscribe(Self);
        OnFailing();
        var report = new InstanceFailed(Name, Incarnation, call.ToString().ToLowerInvariant(), PluginInstance.Describe(error), PluginInstance.IsPermanent(error));
        if (release && _plugin is { } plugin)
        {
            Become(Releasing);
            var bound = Settings.OperationTimeout < MaxReleaseTime ? Settings.OperationTimeout : MaxReleaseTime;
            ReleaseAsync(plugin, bound).PipeTo(Self, success: () => new FailedInstanceReleased(report));
            return;
        }
        Context.Parent.Tell(report);
        Context.Stop(Self);
    }

    /// <summary>The subclass's counters with what the watchdog saw.</summary>
    private PluginRuntime WatchedRuntime() => Runtime() with { Stuck = _stuck, StuckCalls = _stuckCalls };

    /// <summary>
    /// The call has run for the whole call timeout and is still running: say so at once, with the
    /// plugin's last status (reading a fresh one would be a second call beside the stuck one).
    /// </summary>
    private void MarkStuck(CallWatchdog watchdog)
    {
        if (_inFlight is not { } inFlight || inFlight.Number != watchdog.CallNumber || _stuck is not null) return;
        var call = inFlight.Call.ToString().ToLowerInvariant();
        _stuck = new StuckCall(call, inFlight.Since);
        _stuckCalls++;
        Log.Warning("Plugin {Plugin}: its {Call} call has run for more than {Timeout} (since {Since:o}); it is shown as stuck until it returns", Name, call, Settings.CallTimeout, inFlight.Since);
        Context.Parent.Tell(new InstanceStatus(Name, Incarnation, _lastStatus, WatchedRuntime()));
    }

    private void Initializing()
    {
        Receive<CallResult<NotUsed>>(result =>
        {
            Report(result);
            if (result.Error is not null)
            {
                Fail(PluginCall.Initialize, result.Error, release: false);
                return;
            }
            Context.Parent.Tell(new InstanceInitialized(Name, Incarnation));
            Become(Initialized);
            Stash.UnstashAll();
        });
        Receive<StartInstance>(_ => Stash.Stash());
        Receive<StopInstance>(_ => Stash.Stash());
    }

    private void Initialized()
    {
        Receive<StartInstance>(_ =>
        {
            Become(Starting);
            var plugin = Plugin;
            Call(PluginCall.Start, plugin.StartAsync);
        });
        Receive<StopInstance>(_ =>
        {
            // Never started: there is nothing for StopAsync to undo.
            Context.Parent.Tell(new InstanceStopped(Name, Incarnation, null));
            Context.Stop(Self);
        });
    }

    private void Starting()
    {
        Receive<CallResult<NotUsed>>(result =>
        {
            Report(result);
            if (result.Error is not null)
            {
                Fail(PluginCall.Start, result.Error, release: false);
                return;
            }
            if (Plugin is IActorBackedPlugin actorBacked && !StartWorker(actorBacked)) return;
            Timers.StartPeriodicTimer(StatusTimer, StatusTick.Instance, Settings.StatusInterval);
            OnStarted();
            Context.Parent.Tell(new InstanceStarted(Name, Incarnation));
            Stash.UnstashAll();
        });
        Receive<StartInstance>(_ => { });
        Receive<StopInstance>(_ => Stash.Stash());
    }

    private void Stopping()
    {
        Receive<CallResult<NotUsed>>(result =>
        {
            Report(result);
            Context.Parent.Tell(new InstanceStopped(Name, Incarnation, result.Error is null ? null : PluginInstance.Describe(result.Error)));
            Context.Stop(Self);
        });
        ReceiveAny(_ => { });
    }

    private void Releasing()
    {
        Receive<FailedInstanceReleased>(released =>
        {
            Context.Parent.Tell(released.Report);
            Context.Stop(Self);
        });
        ReceiveAny(_ => { });
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
            Fail(PluginCall.Start, PluginInstance.Unwrap(e), release: true);
            return false;
        }
    }

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

    private static IReadOnlyDictionary<string, object?>? SafeStatus(IPlugin plugin)
    {
        try
        {
            return plugin.GetStatus();
        }
        catch (Exception e)
        {
            return new Dictionary<string, object?> { ["status_error"] = PluginInstance.Describe(e) };
        }
    }

    /// <summary>The call numbered <paramref name="CallNumber"/> may have run past the call timeout.</summary>
    private sealed record CallWatchdog(long CallNumber);

    /// <summary>A failed instance's StopAsync finished (or ran out of time): now the manager may start the next.</summary>
    private sealed record FailedInstanceReleased(InstanceFailed Report);

    /// <summary>Time to read the plugin's status again.</summary>
    protected sealed class StatusTick
    {
        public static readonly StatusTick Instance = new();

        private StatusTick() { }
    }
}
