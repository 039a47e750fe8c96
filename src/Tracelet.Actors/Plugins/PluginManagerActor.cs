using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins.Lifecycle;
using Effect = Tracelet.Actors.Plugins.Lifecycle.LifecycleEffect;
using In = Tracelet.Actors.Plugins.Lifecycle.LifecycleInput;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// The node's PluginManager: a persistent actor (persistence id from the stable node id) that owns
/// one child actor per plugin instance. What happens to a plugin is decided by
/// <see cref="PluginLifecycle.Decide"/>; this actor persists the decided transitions, runs the other
/// effects, and orders the work: one operation at a time, dependencies started first and dependents
/// stopped first.
/// </summary>
/// <remarks>
/// Two behaviours: <see cref="Ready"/> begins operations as they come; <see cref="Awaiting"/> (a plugin
/// call is outstanding) stashes new lifecycle commands until it is answered. Status, discovery and
/// dependency queries are answered at once in both.
/// </remarks>
public sealed class PluginManagerActor : ReceivePersistentActor, IWithTimers
{
    private const int MaxPendingOperations = 1024;

    private readonly TraceletSettings _settings;
    private readonly Func<DiscoveryResult> _discover;
    private readonly IPluginUpgradeSource? _upgrades;
    private readonly IActorRef? _givenPipeline;
    private IActorRef _pipeline = ActorRefs.Nobody;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Random _random = new();
    private readonly Dictionary<string, PluginDescriptor> _descriptors = new(StringComparer.Ordinal);
    private readonly List<string> _discoveryErrors = [];
    private readonly Dictionary<string, LivePlugin> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PluginUpdate> _updates = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Instance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceStatus> _statuses = new(StringComparer.Ordinal);
    private readonly Queue<Operation> _internal = new();
    private PluginManagerState _state = PluginManagerState.Empty;
    private RunningOperation? _current;
    private bool _booted;
    private bool _shuttingDown;
    private bool _discovering;
    private Task _catalogWork = Task.CompletedTask;
    private int _incarnations;
    private int _stashed;

    public PluginManagerActor(TraceletSettings settings, Func<DiscoveryResult> discover, IActorRef? pipeline, IPluginUpgradeSource? upgrades)
    {
        _settings = settings;
        _discover = discover;
        _givenPipeline = pipeline;
        _upgrades = upgrades;
        PersistenceId = settings.PluginManagerPersistenceId;

        Recover<SnapshotOffer>(offer => _state = PluginManagerState.FromSnapshot((PluginManagerSnapshot)offer.Snapshot));
        Recover<IPluginEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => RunDiscovery(null, boot: true));
        Booting();
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Props for the manager; <paramref name="discover"/> runs on the thread pool at start and on
    /// <see cref="DiscoverPlugins"/>. <paramref name="pipeline"/> is the node's metric pipeline;
    /// without one (tests, embedded use) the manager starts its own as a child. <paramref name="upgrades"/>
    /// loads new versions for <see cref="UpgradePlugin"/>; without it upgrades are refused.
    /// </summary>
    public static Props Props(TraceletSettings settings, Func<DiscoveryResult> discover, IActorRef? pipeline = null, IPluginUpgradeSource? upgrades = null) =>
        Akka.Actor.Props.Create(() => new PluginManagerActor(settings, discover, pipeline, upgrades));

    /// <summary>The pipeline's props for a node: its durable store is <c>outbox.db</c> in the data directory.</summary>
    public static Props PipelineProps(TraceletSettings settings) =>
        Pipeline.PipelineActor.Props(settings.NodeId, settings.Pipeline, () => new Pipeline.DurableOutboxStore(
            Path.Combine(settings.DataDirectory, "outbox.db"),
            Pipeline.PipelineSerializer.EncodeBatch,
            Pipeline.PipelineSerializer.DecodeBatch,
            settings.Pipeline.DurableMaxBytes));

    protected override void PreStart()
    {
        _pipeline = _givenPipeline ?? Context.ActorOf(PipelineProps(_settings), "pipeline");
        base.PreStart();
    }

    /// <summary>Plugin actors are stopped, never restarted by Akka, when our own code in them fails: the lifecycle decides restarts.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    // ---------------------------------------------------------------- behaviours

    /// <summary>
    /// Until discovery and boot are done: lifecycle commands wait (bounded), since the plugins they
    /// name are not known yet. A node stopping meanwhile has nothing running to stop.
    /// </summary>
    private void Booting()
    {
        Common();
        Command<StopAllPlugins>(_ =>
        {
            _shuttingDown = true;
            Sender.Tell(AllPluginsStopped.Instance);
        });
        Command<IPluginManagerCommand>(StashBounded);
        Command<BeginInternal>(_ => { });
    }

    /// <summary>No plugin call outstanding: operations begin as they come.</summary>
    private void Ready()
    {
        Common();
        Command<IPluginManagerCommand>(c => Begin(ToOperation(c)));
        Command<BeginInternal>(_ => Drive());
    }

    /// <summary>A plugin call is outstanding: lifecycle commands wait (bounded) until it is answered.</summary>
    private void Awaiting()
    {
        Common();
        Command<IPluginManagerCommand>(StashBounded);
        Command<BeginInternal>(_ => { });
    }

    private void StashBounded(IPluginManagerCommand c)
    {
        if (_stashed >= MaxPendingOperations)
        {
            Sender.Tell(new PluginOperationFailed(NameOf(c), $"too many pending plugin operations ({MaxPendingOperations}); try again", null));
            return;
        }
        _stashed++;
        Stash.Stash();
    }

    /// <summary>What both behaviours answer the same way: queries, instance answers, timers, persistence housekeeping.</summary>
    private void Common()
    {
        Command<GetPluginStatus>(_ => Sender.Tell(new CurrentPluginStatus(BuildStatus())));
        Command<GetPluginsByType>(Handle);
        Command<ResolveDependencies>(c => Sender.Tell(new CurrentDependencyOrder(DependencyResolver.Resolve(_descriptors, c.Names))));
        Command<DiscoverPlugins>(_ => RunDiscovery(Sender, boot: false));
        Command<RescanTick>(_ =>
        {
            if (!_discovering) RunDiscovery(null, boot: false);
        });
        Command<RegisterPlugins>(Handle);
        Command<LoadPluginConfig>(Handle);
        Command<DiscoveryCompleted>(Handle);
        Command<UpgradeLoaded>(Handle);
        Command<InstanceInitialized>(m => Answer(m.Name, new In.Initialized(m.Incarnation)));
        Command<InstanceStarted>(m => Answer(m.Name, new In.Started(m.Incarnation)));
        Command<InstanceStopped>(m =>
        {
            if (m.Error is not null) _log.Warning("Plugin {Plugin} threw while stopping: {Error}", m.Name, m.Error);
            // The node prints a line per plugin as a shutdown goes, so Ctrl-C does not look like a hang.
            if (_shuttingDown) Context.System.EventStream.Publish(new PluginStoppedAtShutdown(m.Name, m.Error));
            Forget(m.Name, m.Incarnation);
            Answer(m.Name, new In.Stopped(m.Incarnation, m.Error));
        });
        Command<InstanceFailed>(m =>
        {
            Forget(m.Name, m.Incarnation);
            Answer(m.Name, new In.Failed(m.Incarnation, $"{m.Phase} failed: {m.Error}", m.Permanent));
        });
        Command<InstanceStatus>(s =>
        {
            if (_instances.TryGetValue(s.Name, out var i) && i.Incarnation == s.Incarnation) _statuses[s.Name] = s;
        });
        Command<Terminated>(Handle);
        Command<CallTimedOut>(m => Answer(m.Name, new In.TimedOut(m.Incarnation, _settings.PluginManager.OperationTimeout)));
        Command<RetryTimer>(m => Enqueue(new Operation(OperationKind.Retry, m.Name, null)));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Saving a PluginManager snapshot failed; the journal still holds every event"));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Deleting old PluginManager snapshots failed"));
    }

    // ---------------------------------------------------------------- discovery and boot

    private void RunDiscovery(IActorRef? replyTo, bool boot)
    {
        _discovering = true;
        var discover = _discover;
        OnCatalog(() =>
        {
            try
            {
                return new DiscoveryCompleted(discover(), replyTo, boot);
            }
            catch (Exception e)
            {
                return new DiscoveryCompleted(new DiscoveryResult([], [$"discovery failed: {e.Message}"]), replyTo, boot);
            }
        }).PipeTo(Self);
    }

    private void Handle(DiscoveryCompleted done)
    {
        _discovering = false;
        // A full discovery says which folder files changed now; an update no longer there was reverted.
        _updates.Clear();
        AddDiscovered(done.Discovery);
        if (done.Boot && _settings.Discovery.RescanInterval > TimeSpan.Zero)
            Timers.StartPeriodicTimer(RescanTimerKey, RescanTick.Instance, _settings.Discovery.RescanInterval);
        done.ReplyTo?.Tell(Discovered());
        if (done.Boot) Boot();
    }

    private void Handle(RegisterPlugins command)
    {
        // Only the types asked for are described: their assembly's other types are none of this command's business.
        var described = command.PluginTypes.Select(t => PluginDiscovery.Describe(t, $"registered:{t.Assembly.GetName().Name}")).ToList();
        AddDiscovered(new DiscoveryResult(
            [.. described.Where(d => d.Descriptor is not null).Select(d => d.Descriptor!)],
            [.. described.Where(d => d.Error is not null).Select(d => d.Error!)]));
        Sender.Tell(Discovered());
    }

    private PluginsDiscovered Discovered() => new([.. _descriptors.Keys.Order(StringComparer.Ordinal)], [.. _discoveryErrors]);

    private void AddDiscovered(DiscoveryResult result)
    {
        foreach (var error in result.Errors.Where(e => !_discoveryErrors.Contains(e)))
        {
            _log.Warning("Plugin discovery: {Error}", error);
            _discoveryErrors.Add(error);
        }
        foreach (var update in result.Updates.IsDefault ? [] : result.Updates)
            _updates[update.Name] = update;
        foreach (var d in result.Plugins)
        {
            if (_descriptors.TryGetValue(d.Name, out var known))
            {
                // Another version of the same file (a discovery that began before an upgrade committed) is not a duplicate.
                var sameFile = known.AssemblyPath is not null && known.AssemblyPath == d.AssemblyPath;
                if (known.PluginType != d.PluginType && !sameFile)
                {
                    var error = $"duplicate plugin name '{d.Name}': {d.PluginType.FullName} from {d.Origin} ignored; already provided by {known.PluginType.FullName} from {known.Origin}";
                    if (!_discoveryErrors.Contains(error)) _discoveryErrors.Add(error);
                }
                continue; // re-discovery never resets a known plugin
            }
            _descriptors[d.Name] = d;
            _live[d.Name] = LivePlugin.Idle;
        }
    }

    /// <summary>
    /// After recovery and discovery: apply edited config file sections, let go of plugins that only a
    /// configuration no longer given wanted, then bring plugins to their desired state, dependencies first.
    /// </summary>
    private void Boot()
    {
        // Issue 18: a section for a plugin that discovery did not find is most likely a misspelt name.
        // Only here is the set of plugins known (the config loader cannot tell), so it is reported
        // with the discovery errors in status rather than silently ignored.
        foreach (var (name, section) in _settings.Plugins.Where(p => !_descriptors.ContainsKey(p.Key) && !PluginSection.IsReferenceDefault(p.Key)))
        {
            var error = $"tracelet.plugins.{name} (in {section.Source}): no plugin named '{name}' was discovered";
            if (_discoveryErrors.Contains(error)) continue;
            _log.Warning("{Error}", error);
            _discoveryErrors.Add(error);
        }
        var events = new List<IPluginEvent>();
        var wanted = new List<string>();
        var now = DateTimeOffset.UtcNow;
        foreach (var name in _descriptors.Keys.Order(StringComparer.Ordinal))
        {
            var record = _state.Get(name);
            var known = _state.Plugins.ContainsKey(name);
            if (_settings.Plugins.TryGetValue(name, out var section) && (!known || record.FileSectionHash != section.SectionHash))
            {
                // The file section is new or was edited since it was last applied: the file wins.
                events.Add(new PluginConfigured(now, _settings.NodeId, name, section.Config.Json, PluginSection.Hash(section.Config.Json), section.SectionHash));
                if (section.Enabled) wanted.Add(name);
                else if (record.WantActive)
                    events.Add(Transitioned(now, record, PluginState.Stopped, false, null, DesireSource.Config));
            }
            else if (record.WantActive && record.DesiredBy == DesireSource.Config && section is not { Enabled: true })
            {
                // Only an operator's wish outlives the configuration that caused it.
                _log.Info("Plugin {Plugin} is no longer enabled by the configuration; not starting it", name);
                events.Add(Transitioned(now, record, PluginState.Stopped, false, "no longer enabled by the configuration", DesireSource.Config));
            }
            else if (record.WantActive)
                wanted.Add(name);
        }
        // Continue once the events above are written, before anything else happens. Not through
        // DeferAsync: a deferred handler runs after the persisting state has ended, and events it
        // persists are never counted down. A Persist handler runs while the actor still persists,
        // so nested Persist calls are safe.
        for (var i = 0; i < events.Count - 1; i++) Record(events[i]);
        if (events.Count == 0) Continue();
        else Record(events[^1], Continue);

        void Continue()
        {
            _booted = true;
            Become(Ready);
            _stashed = 0;
            Stash.UnstashAll();
            if (_shuttingDown) return; // the node began stopping while it booted: start nothing
            var order = DependencyResolver.Resolve(_descriptors, wanted);
            foreach (var (name, problem) in order.Problems.Where(p => _descriptors.ContainsKey(p.Key)))
                Record(Transitioned(DateTimeOffset.UtcNow, _state.Get(name), PluginState.Error, wanted.Contains(name) || _state.Get(name).WantActive, problem, null));
            foreach (var name in order.Order)
                _internal.Enqueue(new Operation(OperationKind.Start, name, null, By: BootDesire(name)));
            foreach (var name in _state.Plugins.Values.Where(r => r.State == PluginState.Initialized && !wanted.Contains(r.Name)).Select(r => r.Name))
                _internal.Enqueue(new Operation(OperationKind.Initialize, name, null));
            _log.Info("PluginManager {Node}: {Count} plugins discovered, starting {Start}", _settings.NodeId, _descriptors.Count, string.Join(", ", order.Order));
            Drive();
        }
    }

    /// <summary>Who wants a plugin started at boot: its enabled file section, or whoever the journal says.</summary>
    private DesireSource BootDesire(string name)
    {
        var record = _state.Get(name);
        if (record.WantActive) return record.DesiredBy;
        return _settings.Plugins.TryGetValue(name, out var s) && s.Enabled ? DesireSource.Config : DesireSource.Operator;
    }

    // ---------------------------------------------------------------- operations

    private Operation ToOperation(IPluginManagerCommand c) => c switch
    {
        LoadPlugin l => new Operation(OperationKind.Load, l.Name, Sender),
        ValidatePlugin v => new Operation(OperationKind.Validate, v.Name, Sender),
        InitializePlugin i => new Operation(OperationKind.Initialize, i.Name, Sender, Config: i.Config),
        StartPlugin s => new Operation(OperationKind.Start, s.Name, Sender),
        StopPlugin s => new Operation(OperationKind.Stop, s.Name, Sender, Cascade: s.Cascade),
        RestartPlugin r => new Operation(OperationKind.Restart, r.Name, Sender),
        UpgradePlugin u => new Operation(OperationKind.Upgrade, u.Name, Sender),
        StopAllPlugins => new Operation(OperationKind.StopAll, "", Sender),
        _ => new Operation(OperationKind.Unknown, NameOf(c), Sender),
    };

    private static string NameOf(IPluginManagerCommand c) => c switch
    {
        LoadPlugin l => l.Name,
        ValidatePlugin v => v.Name,
        InitializePlugin i => i.Name,
        StartPlugin s => s.Name,
        StopPlugin s => s.Name,
        RestartPlugin r => r.Name,
        UpgradePlugin u => u.Name,
        _ => "",
    };

    /// <summary>Internal work (boot, retries) waits its turn behind the operation in progress.</summary>
    private void Enqueue(Operation op)
    {
        if (_shuttingDown) return;
        if (_internal.Count >= MaxPendingOperations)
        {
            _log.Warning("PluginManager: {Count} internal operations pending; dropping {Kind} of {Plugin}", _internal.Count, op.Kind, op.Plugin);
            return;
        }
        _internal.Enqueue(op);
        Self.Tell(BeginInternal.Instance);
    }

    /// <summary>Begins queued internal operations while nothing is outstanding.</summary>
    private void Drive()
    {
        while (_booted && _current is null && _internal.Count > 0)
            Begin(_internal.Dequeue());
    }

    /// <summary>Turns an operation into its steps (dependencies first, dependents first) and runs them.</summary>
    private void Begin(Operation op)
    {
        if (op.Kind == OperationKind.StopAll)
        {
            BeginStopAll(op);
            return;
        }
        if (op.Kind == OperationKind.Unknown)
        {
            op.ReplyTo?.Tell(new PluginOperationFailed(op.Plugin, "this PluginManager does not know that command", null));
            return;
        }
        if (_shuttingDown)
        {
            op.ReplyTo?.Tell(new PluginOperationFailed(op.Plugin, "the node is shutting down", _state.Get(op.Plugin).State));
            return;
        }
        if (!_descriptors.ContainsKey(op.Plugin))
        {
            op.ReplyTo?.Tell(NotFound(op.Plugin));
            return;
        }
        if (op.Kind == OperationKind.Upgrade)
        {
            BeginUpgrade(op);
            return;
        }
        var steps = new List<Step>();
        switch (op.Kind)
        {
            case OperationKind.Start:
                // Dependencies first; a dependency that is retrying is left to its own schedule.
                var order = DependencyResolver.Resolve(_descriptors, [op.Plugin]).Order;
                steps.AddRange(order.Where(d => d != op.Plugin && _live[d].Phase is LifecyclePhase.Idle or LifecyclePhase.Initialized)
                    .Select(d => new Step(d, new StepKind.Start(op.By), Cascaded: true)));
                steps.Add(new Step(op.Plugin, new StepKind.Start(op.By)));
                break;
            case OperationKind.Stop:
                var dependents = ActiveDependents(op.Plugin);
                if (dependents.Count > 0 && !op.Cascade)
                {
                    op.ReplyTo?.Tell(new PluginOperationFailed(op.Plugin,
                        $"{string.Join(", ", dependents.Select(d => $"'{d}'"))} depend{(dependents.Count == 1 ? "s" : "")} on '{op.Plugin}' and {(dependents.Count == 1 ? "is" : "are")} running; stop {(dependents.Count == 1 ? "it" : "them")} first, or stop with cascade",
                        _state.Get(op.Plugin).State));
                    return;
                }
                steps.AddRange(dependents.Select(d => new Step(d, new StepKind.Stop(new AfterStop.Rest($"stopped because its dependency '{op.Plugin}' was stopped")), Cascaded: true)));
                steps.Add(new Step(op.Plugin, new StepKind.Stop(new AfterStop.Rest())));
                break;
            default:
                steps.Add(new Step(op.Plugin, op.Kind switch
                {
                    OperationKind.Load => StepKind.Load.Instance,
                    OperationKind.Validate => StepKind.Validate.Instance,
                    OperationKind.Initialize => new StepKind.Initialize(op.Config),
                    OperationKind.Restart => StepKind.Restart.Instance,
                    _ => StepKind.Retry.Instance,
                }));
                break;
        }
        _current = new RunningOperation(op, new Queue<Step>(steps));
        RunSteps();
    }

    /// <summary>Runs steps until one waits for its plugin's answer, or the operation is finished.</summary>
    private void RunSteps()
    {
        var current = _current!;
        while (current.Steps.Count > 0)
        {
            var step = current.Steps.Peek();
            var done = Apply(step.Plugin, InputFor(step));
            if (done is null && _live[step.Plugin].Phase.IsBusy)
            {
                BecomeAwaiting();
                return;
            }
            current.Steps.Dequeue();
            current.Finished(step, done);
        }
        Finish();
    }

    private void BecomeAwaiting()
    {
        if (_current is { Awaiting: true }) return;
        _current!.Awaiting = true;
        Become(Awaiting);
    }

    private void Finish()
    {
        var current = _current!;
        _current = null;
        var result = current.Outcome(_state.Get(current.Operation.Plugin).State);
        // The answer waits for the transitions it reports to be written: an operator who was told
        // "active" must find the plugin active after a crash.
        if (current.Operation.ReplyTo is { } replyTo && result is not null) DeferAsync(result, r => replyTo.Tell(r));
        if (current.Awaiting)
        {
            Become(Ready);
            _stashed = 0;
            Stash.UnstashAll();
        }
        Drive();
    }

    /// <summary>An instance answered (or a timer fired): decide, and go on with the operation that waited for it.</summary>
    private void Answer(string name, LifecycleInput input)
    {
        if (!_live.ContainsKey(name)) return;
        var done = Apply(name, input);
        if (_current is { } current && current.Steps.TryPeek(out var step) && step.Plugin == name && !_live[name].Phase.IsBusy)
        {
            current.Steps.Dequeue();
            current.Finished(step, done);
            RunSteps();
        }
    }

    private LifecycleInput InputFor(Step step) => step.Kind switch
    {
        StepKind.Load => new In.Load(LoadProblem(step.Plugin)),
        StepKind.Validate => new In.Validate(StaticBlocker(step.Plugin, null)),
        StepKind.Initialize i => new In.Initialize(StaticBlocker(step.Plugin, i.Config)),
        StepKind.Start st => new In.Start(StartBlocker(step.Plugin), st.By),
        StepKind.Stop st => new In.Stop(st.Then),
        StepKind.Restart => new In.Restart(StartBlocker(step.Plugin)),
        StepKind.Upgrade u => new In.Upgrade(u.Candidate, CandidateBlocker(step.Plugin, u.Candidate)),
        _ => new In.RetryDue(StartBlocker(step.Plugin)),
    };

    // ---------------------------------------------------------------- deciding and doing

    /// <summary>Decides what the input does to the plugin, runs the effects, and returns the Done effect if the request it answers is finished.</summary>
    private Effect.Done? Apply(string name, LifecycleInput input)
    {
        var live = _live[name];
        var before = new PluginLifecycleState(_state.Get(name), live.Phase, live.Window, _descriptors[name]);
        var context = new LifecycleContext(DateTimeOffset.UtcNow, _settings.PluginManager.Supervision, _incarnations + 1, _random.NextDouble());
        var decision = PluginLifecycle.Decide(before, input, context);
        _live[name] = new LivePlugin(decision.State.Phase, decision.State.Window);
        _descriptors[name] = decision.State.Descriptor;
        Effect.Done? done = null;
        var versions = new List<Action<IPluginUpgradeSource>>();
        foreach (var effect in decision.Effects)
        {
            switch (effect)
            {
                case Effect.Persist p:
                    Record(Transitioned(DateTimeOffset.UtcNow, _state.Get(name), p.To, p.WantActive, p.Error, p.DesiredBy, p.Restarts));
                    break;
                case Effect.Spawn s:
                    _incarnations = s.Incarnation;
                    SpawnInstance(name, s, input is In.Initialize ? PendingConfig() : null);
                    break;
                case Effect.TellStart t:
                    if (_instances.TryGetValue(name, out var toStart) && toStart.Incarnation == t.Incarnation) toStart.Actor.Tell(StartInstance.Instance);
                    break;
                case Effect.TellStop t:
                    if (_instances.TryGetValue(name, out var toStop) && toStop.Incarnation == t.Incarnation)
                        toStop.Actor.Tell(t.Withdraw ? StopInstance.Withdrawing : StopInstance.Pausing);
                    break;
                case Effect.Kill k:
                    Kill(name, k.Incarnation);
                    break;
                case Effect.ScheduleRetry r:
                    _log.Warning("Plugin {Plugin}: {Error}", name, _state.Get(name).Error);
                    Timers.StartSingleTimer(RetryTimerKey(name), new RetryTimer(name), r.Delay);
                    break;
                case Effect.CancelRetry:
                    Timers.Cancel(RetryTimerKey(name));
                    break;
                case Effect.Commit c:
                    versions.Add(u => u.Commit(c.Candidate));
                    _updates.Remove(name);
                    break;
                case Effect.Release r:
                    versions.Add(u => u.Release(r.Unused));
                    break;
                case Effect.Done d:
                    done = d;
                    break;
            }
        }
        if (versions.Count > 0 && _upgrades is { } upgrades) UpdateVersions(upgrades, versions);
        // A call the manager waits for is bounded by the operation timeout.
        if (decision.State.Phase.IsBusy && !ReferenceEquals(decision.State.Phase, before.Phase) && _instances.TryGetValue(name, out var awaited))
            Timers.StartSingleTimer(CallTimerKey(name), new CallTimedOut(name, awaited.Incarnation), _settings.PluginManager.OperationTimeout);
        else if (!decision.State.Phase.IsBusy)
            Timers.Cancel(CallTimerKey(name));
        return done;
    }

    /// <summary>
    /// Commits and releases plugin versions off the actor's thread: the catalog serialises them with a
    /// discovery that may be reading plugin files, which must not hold up this mailbox.
    /// </summary>
    private void UpdateVersions(IPluginUpgradeSource upgrades, List<Action<IPluginUpgradeSource>> steps)
    {
        var log = _log;
        OnCatalog(() =>
        {
            foreach (var step in steps)
            {
                try
                {
                    step(upgrades);
                }
                catch (Exception e)
                {
                    log.Warning(e, "Updating the plugin catalog after an upgrade failed; the next discovery may offer the version again");
                }
            }
            return Akka.Done.Instance;
        });
    }

    /// <summary>
    /// Runs catalog work (discovery, loading a new version, commit and release) on the thread pool, one
    /// piece after another in the order asked, so a discovery never overtakes the upgrade before it.
    /// </summary>
    private Task<T> OnCatalog<T>(Func<T> work)
    {
        var next = _catalogWork.ContinueWith(_ => work(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        _catalogWork = next;
        return next;
    }

    /// <summary>The config an InitializePlugin command carries, for the spawn it causes.</summary>
    private PluginConfig? PendingConfig() =>
        _current is { } c && c.Steps.TryPeek(out var step) && step.Kind is StepKind.Initialize { Config: { } config } ? config : null;

    private void SpawnInstance(string name, Effect.Spawn spawn, PluginConfig? given)
    {
        var config = PluginConfigValidator.Typed(spawn.Descriptor.Metadata.ConfigSchema, given ?? ConfigFor(name));
        var hash = PluginSection.Hash(config.Json);
        var record = _state.Get(name);
        if (record.ConfigHash != hash || record.ConfigJson is null)
            Record(new PluginConfigured(DateTimeOffset.UtcNow, _settings.NodeId, name, config.Json, hash, null));
        var context = new PluginContext(_settings.NodeId, _settings.DataDirectory, config);
        var actor = Context.ActorOf(PluginInstance.Props(spawn.Descriptor, context, spawn.Incarnation, _settings.PluginManager, _pipeline,
            keepFailedWrites: _settings.Pipeline.For(name).Link.Overflow == Pipeline.OverflowPolicy.Durable), $"{name}-{spawn.Incarnation}");
        Context.Watch(actor);
        _instances[name] = new Instance(actor, spawn.Incarnation);
    }

    private void Kill(string name, int incarnation)
    {
        if (!_instances.TryGetValue(name, out var instance) || instance.Incarnation != incarnation) return;
        Context.Unwatch(instance.Actor);
        Context.Stop(instance.Actor);
        _instances.Remove(name);
        _statuses.Remove(name);
    }

    /// <summary>The instance said it is gone (stopped or failed): it is no longer watched.</summary>
    private void Forget(string name, int incarnation)
    {
        if (!_instances.TryGetValue(name, out var instance) || instance.Incarnation != incarnation) return;
        Context.Unwatch(instance.Actor);
        _instances.Remove(name);
        _statuses.Remove(name);
    }

    private void Handle(Terminated t)
    {
        var entry = _instances.FirstOrDefault(kv => kv.Value.Actor.Equals(t.ActorRef));
        if (entry.Key is null) return;
        Forget(entry.Key, entry.Value.Incarnation);
        if (!_shuttingDown || _live[entry.Key].Phase.IsBusy) Answer(entry.Key, new In.Terminated(entry.Value.Incarnation));
    }

    // ---------------------------------------------------------------- what may block a step

    private string? LoadProblem(string name) =>
        _descriptors[name].PluginType.GetConstructor(Type.EmptyTypes) is null ? $"{_descriptors[name].PluginType.FullName} has no public parameterless constructor" : null;

    /// <summary>Problems no retry can cure: metadata, the dependency graph, the schema, the config.</summary>
    private Blocker? StaticBlocker(string name, PluginConfig? config)
    {
        if (LoadProblem(name) is { } load) return new Blocker(load, Permanent: true);
        var d = _descriptors[name];
        if (string.IsNullOrWhiteSpace(d.Metadata.Version)) return new Blocker("invalid metadata: a version is required", true);
        if (DependencyResolver.Resolve(_descriptors, [name]).Problems.TryGetValue(name, out var problem)) return new Blocker(problem, true);
        return SchemaBlocker(d, config ?? ConfigFor(name));
    }

    private static Blocker? SchemaBlocker(PluginDescriptor d, PluginConfig config)
    {
        if (d.Metadata.ConfigSchema is not { } schemaText) return null;
        var schema = PluginConfigValidator.ParseSchema(schemaText, out var error);
        if (schema is null) return new Blocker(error!, true);
        return PluginConfigValidator.Validate(schema, PluginConfigValidator.Typed(schemaText, config).Root) is { } invalid ? new Blocker(invalid, true) : null;
    }

    /// <summary>Lasting problems, then dependencies that are not active yet (which may pass: the start is retried).</summary>
    private Blocker? StartBlocker(string name)
    {
        if (StaticBlocker(name, null) is { } lasting) return lasting;
        var inactive = _descriptors[name].Dependencies.Select(d => d.Name)
            .Where(d => _live.TryGetValue(d, out var l) && l.Phase is not LifecyclePhase.Running)
            .Order(StringComparer.Ordinal)
            .ToList();
        if (inactive.Count == 0) return null;
        return new Blocker($"dependency {string.Join(", ", inactive.Select(d => $"'{d}' ({StateText(d)})"))} is not active", Permanent: false);
    }

    private Blocker? CandidateBlocker(string name, PluginDescriptor candidate)
    {
        if (candidate.Name != name) return new Blocker($"the new assembly provides '{candidate.Name}', not '{name}'", true);
        if (string.IsNullOrWhiteSpace(candidate.Metadata.Version)) return new Blocker("invalid metadata: a version is required", true);
        return SchemaBlocker(candidate, ConfigFor(name));
    }

    private PluginConfig ConfigFor(string name)
    {
        var record = _state.Get(name);
        if (record.ConfigJson is not null) return PluginConfig.Parse(record.ConfigJson);
        return _settings.Plugins.TryGetValue(name, out var section) ? section.Config : PluginConfig.Empty;
    }

    /// <summary>Running (or retrying) plugins that depend on <paramref name="name"/>, directly or not, in stop order: dependents of dependents first.</summary>
    private List<string> ActiveDependents(string name) =>
        [.. DependencyResolver.Dependents(_descriptors, name).Where(d => _live.TryGetValue(d, out var l) && l.Phase is not LifecyclePhase.Idle)];

    // ---------------------------------------------------------------- upgrade

    private void BeginUpgrade(Operation op)
    {
        var current = _descriptors[op.Plugin];
        if (_upgrades is null)
        {
            op.ReplyTo?.Tell(new PluginOperationFailed(op.Plugin, "this node cannot load new plugin versions (no plugin folder catalog)", _state.Get(op.Plugin).State));
            return;
        }
        // Loading an assembly reads a file: off the actor's thread; the operation waits for it.
        _current = new RunningOperation(op, new Queue<Step>()) { Awaiting = true };
        Become(Awaiting);
        var upgrades = _upgrades;
        OnCatalog(() =>
        {
            try
            {
                return new UpgradeLoaded(op.Plugin, upgrades.LoadUpgrade(current));
            }
            catch (Exception e)
            {
                return new UpgradeLoaded(op.Plugin, new PluginUpgradeLoad(null, $"{e.GetType().Name}: {e.Message}"));
            }
        }).PipeTo(Self);
    }

    private void Handle(UpgradeLoaded loaded)
    {
        if (_current is not { } current || current.Operation.Kind != OperationKind.Upgrade || current.Operation.Plugin != loaded.Name || current.Steps.Count > 0) return;
        if (loaded.Load.Candidate is not { } candidate)
        {
            current.Fail($"upgrade of '{loaded.Name}' failed: {loaded.Load.Error ?? "no new version"}");
            Finish();
            return;
        }
        current.Steps.Enqueue(new Step(loaded.Name, new StepKind.Upgrade(candidate)));
        RunSteps();
    }

    // ---------------------------------------------------------------- shutdown

    private void BeginStopAll(Operation op)
    {
        _shuttingDown = true;
        Timers.Cancel(RescanTimerKey);
        // Internal work not yet begun (boot, retries) is dropped.
        _internal.Clear();
        var busy = _live.Where(kv => kv.Value.Phase is not LifecyclePhase.Idle).Select(kv => kv.Key).ToList();
        var order = DependencyResolver.Resolve(_descriptors, busy).Order;
        var stopOrder = order.Reverse().Where(busy.Contains).Concat(busy.Where(b => !order.Contains(b)).Order(StringComparer.Ordinal));
        _current = new RunningOperation(op, new Queue<Step>(stopOrder.Select(n => new Step(n, new StepKind.Stop(AfterStop.Shutdown.Instance), Cascaded: true))))
        {
            Reply = AllPluginsStopped.Instance,
        };
        RunSteps();
    }

    // ---------------------------------------------------------------- queries

    private void Handle(LoadPluginConfig command)
    {
        ImmutableArray<PluginSection> sections;
        try
        {
            sections = PluginSection.ReadJsonFile(command.Path);
        }
        catch (Configuration.TraceletConfigException e)
        {
            Sender.Tell(new PluginConfigLoaded([], e.Message));
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unreadable file is an answer too, not a crash of the manager.
            Sender.Tell(new PluginConfigLoaded([], $"{command.Path}: {e.Message}"));
            return;
        }
        var now = DateTimeOffset.UtcNow;
        var sender = Sender;
        foreach (var s in sections) Record(new PluginConfigured(now, _settings.NodeId, s.Name, s.Config.Json, PluginSection.Hash(s.Config.Json), null));
        DeferAsync(sections, s => sender.Tell(new PluginConfigLoaded([.. s.Select(x => x.Name)], null)));
    }

    private void Handle(GetPluginsByType query)
    {
        var plugins = _descriptors.Values
            .Where(d => d.Metadata.Type == query.Type)
            .OrderBy(d => d.Name, StringComparer.Ordinal)
            .Select(d => new PluginInfo(d.Metadata, _state.Get(d.Name).State, d.Origin))
            .ToImmutableArray();
        Sender.Tell(new CurrentPluginsByType(query.Type, plugins));
    }

    /// <summary>What status shows for a plugin: its journaled state, or retrying while a retry is scheduled.</summary>
    private PluginStatusState DisplayState(string name) =>
        _live.TryGetValue(name, out var l) && l.Phase is LifecyclePhase.Waiting ? PluginStatusState.Retrying : _state.Get(name).State.ToStatusState();

    private NodePluginStatus BuildStatus()
    {
        var entries = ImmutableSortedDictionary.CreateBuilder<string, PluginStatusEntry>(StringComparer.Ordinal);
        foreach (var name in _descriptors.Keys.Concat(_state.Plugins.Keys).Distinct())
        {
            var record = _state.Get(name);
            _descriptors.TryGetValue(name, out var d);
            _statuses.TryGetValue(name, out var live);
            // Until the first discovery has finished, a journaled plugin is not yet missing.
            var missing = d is null && _booted;
            var state = missing ? PluginStatusState.Error : DisplayState(name);
            var error = missing ? NotFound(name).Reason : state is PluginStatusState.Error or PluginStatusState.Retrying ? record.Error : null;
            var retry = _live.TryGetValue(name, out var l) && l.Phase is LifecyclePhase.Waiting w ? new PluginRetry(w.NextAttemptAt, w.Attempt, w.LastError) : null;
            var update = _updates.TryGetValue(name, out var u) ? $"{u.AvailableVersion} ({u.AssemblyPath})" : null;
            entries[name] = new PluginStatusEntry(
                state,
                d?.Metadata.Type,
                d?.Metadata.Version ?? "",
                error,
                live?.Status,
                live?.Runtime,
                record.Restarts,
                record.LastTransition,
                d?.Origin ?? "",
                retry,
                update);
        }
        return NodePluginStatus.Create(_settings.NodeId, _booted && _current is null && _internal.Count == 0, entries.ToImmutable(), [.. _discoveryErrors]);
    }

    /// <summary>The state a dependency is in, as an operator reads it in a message.</summary>
    private string StateText(string name) => DisplayState(name).ToString().ToLowerInvariant();

    // ---------------------------------------------------------------- helpers

    private PluginTransitioned Transitioned(DateTimeOffset at, PluginRecord record, PluginState to, bool wantActive, string? error, DesireSource? by, int? restarts = null) =>
        new(at, _settings.NodeId, record.Name, record.State, to, wantActive, record.ConfigHash, error, restarts ?? record.Restarts, by);

    /// <summary>
    /// Applies an event at once, so that the next step sees it, and persists it; Persist holds back
    /// other commands until it is written. A failed write stops this actor (Akka's rule); its
    /// backoff supervisor starts it again and it recovers from what was written. <paramref name="then"/>
    /// runs once the event is written.
    /// </summary>
    private void Record(IPluginEvent e, Action? then = null)
    {
        _state = _state.Apply(e);
        Persist(e, _ =>
        {
            if (LastSequenceNr % _settings.PluginManager.SnapshotEvery == 0) SaveSnapshot(_state.ToSnapshot());
            then?.Invoke();
        });
    }

    private PluginOperationFailed NotFound(string name) =>
        new(name, _state.Plugins.ContainsKey(name)
            ? $"plugin '{name}' is recorded in the journal but no longer discovered (its assembly is gone?)"
            : $"plugin '{name}' is not registered", null);

    private const string RescanTimerKey = "rescan";

    private static string RetryTimerKey(string name) => $"retry-{name}";

    private static string CallTimerKey(string name) => $"call-{name}";

    // ---------------------------------------------------------------- private messages and state

    private sealed record DiscoveryCompleted(DiscoveryResult Discovery, IActorRef? ReplyTo, bool Boot);

    private sealed record UpgradeLoaded(string Name, PluginUpgradeLoad Load);

    private sealed record RetryTimer(string Name);

    private sealed record CallTimedOut(string Name, int Incarnation);

    private sealed class RescanTick
    {
        public static readonly RescanTick Instance = new();

        private RescanTick() { }
    }

    private sealed class BeginInternal
    {
        public static readonly BeginInternal Instance = new();

        private BeginInternal() { }
    }

    /// <summary>What the manager knows of a plugin beyond the journal: its phase and its recent failures.</summary>
    private sealed record LivePlugin(LifecyclePhase Phase, SupervisionWindow Window)
    {
        public static LivePlugin Idle { get; } = new(LifecyclePhase.Idle.Instance, SupervisionWindow.Empty);
    }

    private sealed record Instance(IActorRef Actor, int Incarnation);

    private enum OperationKind
    {
        Load,
        Validate,
        Initialize,
        Start,
        Stop,
        Restart,
        Upgrade,
        Retry,
        StopAll,
        Unknown,
    }

    private sealed record Operation(OperationKind Kind, string Plugin, IActorRef? ReplyTo, PluginConfig? Config = null, DesireSource By = DesireSource.Operator, bool Cascade = true);

    /// <summary>One plugin's part of an operation.</summary>
    /// <param name="Cascaded">Done for the operation's plugin (a dependency started, a dependent stopped), not asked for itself.</param>
    private sealed record Step(string Plugin, StepKind Kind, bool Cascaded = false);

    private abstract record StepKind
    {
        public sealed record Load : StepKind
        {
            public static Load Instance { get; } = new();
        }

        public sealed record Validate : StepKind
        {
            public static Validate Instance { get; } = new();
        }

        public sealed record Initialize(PluginConfig? Config) : StepKind;

        public sealed record Start(DesireSource By) : StepKind;

        public sealed record Stop(AfterStop Then) : StepKind;

        public sealed record Restart : StepKind
        {
            public static Restart Instance { get; } = new();
        }

        public sealed record Upgrade(PluginDescriptor Candidate) : StepKind;

        public sealed record Retry : StepKind
        {
            public static Retry Instance { get; } = new();
        }
    }

    /// <summary>The operation in progress: its remaining steps and what the finished ones said.</summary>
    private sealed class RunningOperation(Operation operation, Queue<Step> steps)
    {
        private readonly List<string> _cascaded = [];
        private Effect.Done? _outcome;
        private string? _failure;

        public Operation Operation { get; } = operation;

        public Queue<Step> Steps { get; } = steps;

        /// <summary>The manager's behaviour is <see cref="PluginManagerActor.Awaiting"/> for this operation.</summary>
        public bool Awaiting { get; set; }

        /// <summary>A fixed reply (StopAll), instead of the operation plugin's outcome.</summary>
        public object? Reply { get; init; }

        public void Finished(Step step, Effect.Done? done)
        {
            if (step.Cascaded)
            {
                if (done is { Succeeded: true }) _cascaded.Add(step.Plugin);
                return;
            }
            _outcome = done;
        }

        public void Fail(string reason) => _failure = reason;

        public object? Outcome(PluginState state)
        {
            if (Reply is not null) return Reply;
            var name = Operation.Plugin;
            if (_failure is not null) return new PluginOperationFailed(name, _failure, state);
            return _outcome switch
            {
                { Succeeded: true } d => new PluginOperationSucceeded(name, d.State, [.. _cascaded], d.Detail),
                { } d => new PluginOperationFailed(name, d.Reason ?? "failed", d.State),
                null => Operation.Kind == OperationKind.Retry ? null : new PluginOperationSucceeded(name, state, [.. _cascaded]),
            };
        }
    }
}
