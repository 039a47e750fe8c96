using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// The node's PluginManager: a persistent actor (persistence id from the stable node id) that owns
/// one child actor per plugin, persists every lifecycle transition, restarts failing plugins with
/// backoff and, after a crash, brings every plugin back to its last desired state.
/// </summary>
/// <remarks>
/// Lifecycle work that needs a plugin actor (initialize, start, stop) runs as operations, one at a
/// time and in order, so that dependencies are active before their dependents start. Status,
/// discovery and dependency queries are answered at once from the actor's state.
/// </remarks>
public sealed class PluginManagerActor : ReceivePersistentActor, IWithTimers
{
    private const int MaxQueuedOperations = 1024;
    private const string OperationTimer = "operation-timeout";

    private readonly TraceletSettings _settings;
    private readonly Func<DiscoveryResult> _discover;
    private readonly IActorRef? _givenPipeline;
    private IActorRef _pipeline = ActorRefs.Nobody;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Random _random = new();
    private readonly Dictionary<string, PluginDescriptor> _descriptors = new(StringComparer.Ordinal);
    private readonly List<string> _discoveryErrors = [];
    private readonly Dictionary<string, Child> _children = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceStatus> _statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<DateTimeOffset>> _failures = new(StringComparer.Ordinal);
    private readonly Queue<Operation> _operations = new();
    private PluginManagerState _state = PluginManagerState.Empty;
    private Operation? _current;
    private bool _ready;
    private bool _shuttingDown;
    private int _incarnations;
    private int _operationIds;

    public PluginManagerActor(TraceletSettings settings, Func<DiscoveryResult> discover, IActorRef? pipeline)
    {
        _settings = settings;
        _discover = discover;
        _givenPipeline = pipeline;
        PersistenceId = settings.PluginManagerPersistenceId;

        Recover<SnapshotOffer>(offer => _state = PluginManagerState.FromSnapshot((PluginManagerSnapshot)offer.Snapshot));
        Recover<IPluginEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => RunDiscovery(null, boot: true));

        Command<DiscoveryCompleted>(Handle);
        Command<DiscoverPlugins>(_ => RunDiscovery(Sender, boot: false));
        Command<RegisterPlugins>(Handle);
        Command<LoadPlugin>(c => Reply(Load(c.Name)));
        Command<ValidatePlugin>(c => Reply(Validate(c.Name)));
        Command<InitializePlugin>(c => Enqueue(new Operation(OperationKind.Initialize, c.Name, Sender, c.Config, OperationOrigin.Command)));
        Command<StartPlugin>(c => Enqueue(new Operation(OperationKind.Start, c.Name, Sender, null, OperationOrigin.Command)));
        Command<StopPlugin>(c => Enqueue(new Operation(OperationKind.Stop, c.Name, Sender, null, OperationOrigin.Command)));
        Command<RestartPlugin>(c => Enqueue(new Operation(OperationKind.Restart, c.Name, Sender, null, OperationOrigin.Command)));
        Command<LoadPluginConfig>(Handle);
        Command<GetPluginStatus>(_ => Sender.Tell(new CurrentPluginStatus(BuildStatus())));
        Command<GetPluginsByType>(Handle);
        Command<ResolveDependencies>(c => Sender.Tell(new CurrentDependencyOrder(DependencyResolver.Resolve(DependencyGraph(), c.Names))));
        Command<StopAllPlugins>(_ => StopAll(Sender));
        Command<SupervisedRestart>(Handle);
        Command<OperationTimedOut>(Handle);
        Command<InstanceInitialized>(Handle);
        Command<InstanceStarted>(Handle);
        Command<InstanceStopped>(Handle);
        Command<InstanceFailed>(Handle);
        Command<InstanceStatus>(s =>
        {
            if (IsCurrent(s.Name, s.Incarnation)) _statuses[s.Name] = s;
        });
        Command<Terminated>(Handle);
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Saving a PluginManager snapshot failed; the journal still holds every event"));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Deleting old PluginManager snapshots failed"));
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Props for the manager; <paramref name="discover"/> runs on the thread pool at start and on
    /// <see cref="DiscoverPlugins"/>. <paramref name="pipeline"/> is the node's metric pipeline;
    /// without one (tests, embedded use) the manager starts its own as a child.
    /// </summary>
    public static Props Props(TraceletSettings settings, Func<DiscoveryResult> discover, IActorRef? pipeline = null) =>
        Akka.Actor.Props.Create(() => new PluginManagerActor(settings, discover, pipeline));

    /// <summary>The pipeline's props for a node: its durable store is <c>outbox.db</c> in the data directory.</summary>
    public static Props PipelineProps(TraceletSettings settings) =>
        Pipeline.PipelineActor.Props(settings.NodeId, settings.Pipeline, () => new Pipeline.DurableOutboxStore(
            Path.Combine(settings.DataDirectory, "outbox.db"),
            Serialization.PipelineSerializer.EncodeBatch,
            Serialization.PipelineSerializer.DecodeBatch,
            settings.Pipeline.DurableMaxBytes));

    protected override void PreStart()
    {
        _pipeline = _givenPipeline ?? Context.ActorOf(PipelineProps(_settings), "pipeline");
        base.PreStart();
    }

    /// <summary>Plugin actors are stopped, never restarted by Akka, when our own code in them fails: the manager decides restarts.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    // ---------------------------------------------------------------- discovery and boot

    private void RunDiscovery(IActorRef? replyTo, bool boot)
    {
        var discover = _discover;
        Task.Run(() =>
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
        AddDiscovered(done.Discovery);
        done.ReplyTo?.Tell(new PluginsDiscovered([.. _descriptors.Keys.Order(StringComparer.Ordinal)], [.. _discoveryErrors]));
        if (done.Boot) Boot();
    }

    private void Handle(RegisterPlugins command)
    {
        var errors = new List<string>();
        var descriptors = command.PluginTypes
            .SelectMany(t => PluginDiscovery.ScanAssembly(t.Assembly, $"registered:{t.Assembly.GetName().Name}", errors).Where(d => d.PluginType == t))
            .ToImmutableArray();
        // A type the scan skipped without saying why is not a plugin type at all.
        foreach (var t in command.PluginTypes.Where(t => descriptors.All(d => d.PluginType != t) && !errors.Any(e => e.Contains(t.FullName!, StringComparison.Ordinal))))
            errors.Add($"{t.FullName} is not a plugin type (public, non-abstract, IPlugin, parameterless constructor)");
        AddDiscovered(new DiscoveryResult(descriptors, [.. errors]));
        Sender.Tell(new PluginsDiscovered([.. _descriptors.Keys.Order(StringComparer.Ordinal)], [.. _discoveryErrors]));
    }

    private void AddDiscovered(DiscoveryResult result)
    {
        foreach (var error in result.Errors.Where(e => !_discoveryErrors.Contains(e)))
        {
            _log.Warning("Plugin discovery: {Error}", error);
            _discoveryErrors.Add(error);
        }
        foreach (var d in result.Plugins)
        {
            if (_descriptors.TryGetValue(d.Name, out var known))
            {
                if (known.PluginType != d.PluginType)
                {
                    var error = $"duplicate plugin name '{d.Name}': {d.PluginType.FullName} from {d.Origin} ignored; already provided by {known.PluginType.FullName} from {known.Origin}";
                    if (!_discoveryErrors.Contains(error)) _discoveryErrors.Add(error);
                }
                continue; // re-discovery never resets a known plugin
            }
            _descriptors[d.Name] = d;
        }
    }

    /// <summary>After recovery and discovery: apply edited config file sections, then bring plugins to their desired state, dependencies first.</summary>
    private void Boot()
    {
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
                else if (record.State is PluginState.Active or PluginState.Error && record.WantActive)
                    events.Add(new PluginTransitioned(now, _settings.NodeId, name, record.State, PluginState.Stopped, false, null, null, record.Restarts));
            }
            else if (record.WantActive)
                wanted.Add(name);
        }
        // Continue once the events above are written, before anything else happens. Not through
        // DeferAsync: a deferred handler runs after the persisting state has ended, and events it
        // persists are never counted down, which leaves the actor stashing every command forever.
        // A Persist handler runs while the actor still persists, so nested Persist calls are safe.
        for (var i = 0; i < events.Count - 1; i++) Record(events[i]);
        if (events.Count == 0) Continue(wanted);
        else Record(events[^1], () => Continue(wanted));

        void Continue(List<string> w)
        {
            _ready = true;
            var order = DependencyResolver.Resolve(DependencyGraph(), w);
            // Every plugin on a cycle is shown in error, but only the wanted ones are retried at the next
            // boot (the cause is outside the plugin: a missing assembly may be installed meanwhile).
            foreach (var (name, problem) in order.Problems.Where(p => _descriptors.ContainsKey(p.Key)))
                Transition(name, PluginState.Error, wantActive: w.Contains(name), problem);
            foreach (var name in order.Order)
                _operations.Enqueue(new Operation(OperationKind.Start, name, null, null, OperationOrigin.Boot));
            foreach (var name in _state.Plugins.Values.Where(r => r.State == PluginState.Initialized && !w.Contains(r.Name)).Select(r => r.Name))
                _operations.Enqueue(new Operation(OperationKind.Initialize, name, null, null, OperationOrigin.Boot));
            _log.Info("PluginManager {Node}: {Count} plugins discovered, starting {Start}", _settings.NodeId, _descriptors.Count, string.Join(", ", order.Order));
            Drive();
        }
    }

    // ---------------------------------------------------------------- synchronous steps

    private PluginOperationResult Load(string name)
    {
        if (!_descriptors.TryGetValue(name, out var d)) return NotFound(name);
        var record = _state.Get(name);
        if (record.State != PluginState.Discovered) return new PluginOperationSucceeded(name, record.State);
        if (d.PluginType.GetConstructor(Type.EmptyTypes) is null)
            return FailTo(name, $"{d.PluginType.FullName} has no public parameterless constructor");
        Transition(name, PluginState.Loaded, false, null);
        return new PluginOperationSucceeded(name, PluginState.Loaded);
    }

    private PluginOperationResult Validate(string name)
    {
        var loaded = Load(name);
        if (loaded is PluginOperationFailed) return loaded;
        var record = _state.Get(name);
        // Validating an initialized or active plugin must not knock it back (a Python defect).
        if (record.State is PluginState.Initialized or PluginState.Active) return new PluginOperationSucceeded(name, record.State);
        var problem = ValidationProblem(name);
        if (problem is not null) return FailTo(name, problem);
        if (record.State != PluginState.Validated && record.State != PluginState.Loaded && record.State != PluginState.Discovered)
            return new PluginOperationSucceeded(name, record.State); // Stopped/Error keep their state; start or restart moves them
        Transition(name, PluginState.Validated, false, null);
        return new PluginOperationSucceeded(name, PluginState.Validated);
    }

    private string? ValidationProblem(string name)
    {
        var d = _descriptors[name];
        if (string.IsNullOrWhiteSpace(d.Metadata.Version)) return "invalid metadata: a version is required";
        var order = DependencyResolver.Resolve(DependencyGraph(), [name]);
        if (order.Problems.TryGetValue(name, out var problem)) return problem;
        if (d.Metadata.ConfigSchema is { } schemaText && PluginConfigValidator.ParseSchema(schemaText, out var error) is null) return error;
        return null;
    }

    private string? ConfigProblem(string name, PluginConfig config)
    {
        if (_descriptors[name].Metadata.ConfigSchema is not { } schemaText) return null;
        var schema = PluginConfigValidator.ParseSchema(schemaText, out var error);
        return schema is null ? error : PluginConfigValidator.Validate(schema, config.Root);
    }

    private PluginConfig ConfigFor(string name)
    {
        var record = _state.Get(name);
        if (record.ConfigJson is not null) return PluginConfig.Parse(record.ConfigJson);
        return _settings.Plugins.TryGetValue(name, out var section) ? section.Config : PluginConfig.Empty;
    }

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
        var events = sections.Select(s => (IPluginEvent)new PluginConfigured(now, _settings.NodeId, s.Name, s.Config.Json, PluginSection.Hash(s.Config.Json), null)).ToList();
        var sender = Sender;
        events.ForEach(e => Record(e));
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

    // ---------------------------------------------------------------- operations

    private void Enqueue(Operation operation)
    {
        if (_shuttingDown && operation.Origin != OperationOrigin.Shutdown)
        {
            operation.ReplyTo?.Tell(new PluginOperationFailed(operation.Plugin, "the node is shutting down", _state.Get(operation.Plugin).State));
            return;
        }
        if (_operations.Count >= MaxQueuedOperations)
        {
            operation.ReplyTo?.Tell(new PluginOperationFailed(operation.Plugin, $"too many pending plugin operations ({MaxQueuedOperations}); try again", null));
            return;
        }
        _operations.Enqueue(operation);
        Drive();
    }

    private void Drive()
    {
        while (_ready && _current is null && _operations.Count > 0)
            Begin(_operations.Dequeue());
    }

    private void Begin(Operation op)
    {
        var name = op.Plugin;
        if (op.Kind == OperationKind.StopAllDone)
        {
            op.ReplyTo?.Tell(AllPluginsStopped.Instance);
            return;
        }
        if (!_descriptors.ContainsKey(name))
        {
            op.ReplyTo?.Tell(NotFound(name));
            return;
        }
        var record = _state.Get(name);
        _children.TryGetValue(name, out var child);
        switch (op.Kind)
        {
            case OperationKind.Stop:
                if (child is null)
                {
                    if (op.Origin != OperationOrigin.Shutdown && record.State is not (PluginState.Stopped or PluginState.Discovered))
                        Transition(name, PluginState.Stopped, false, null);
                    Timers.Cancel(RestartTimerKey(name)); // an operator stop also cancels a pending supervised restart
                    op.ReplyTo?.Tell(new PluginOperationSucceeded(name, _state.Get(name).State));
                    return;
                }
                Await(op, child, Step.Stop);
                child.Actor.Tell(StopInstance.Withdrawing);
                return;

            case OperationKind.Restart:
                _failures.Remove(name);
                Timers.Cancel(RestartTimerKey(name));
                if (child is not null)
                {
                    Await(op, child, Step.StopThenStart);
                    child.Actor.Tell(StopInstance.Pausing);
                    return;
                }
                BeginStart(op, record, restartCount: 0);
                return;

            case OperationKind.Start:
                if (child is { Started: true })
                {
                    op.ReplyTo?.Tell(new PluginOperationSucceeded(name, PluginState.Active));
                    return;
                }
                if (child is not null)
                {
                    Await(op, child, Step.Start);
                    child.Actor.Tell(StartInstance.Instance);
                    return;
                }
                BeginStart(op, record, record.Restarts);
                return;

            case OperationKind.Initialize:
                if (record.State == PluginState.Active && child is not null)
                {
                    // Re-initializing a running plugin would orphan it (a Python defect): refuse instead.
                    op.ReplyTo?.Tell(new PluginOperationFailed(name, $"plugin '{name}' is active; stop it before initializing it again", record.State));
                    return;
                }
                if (child is not null) StopChild(name);
                SpawnFor(op, record.Restarts);
                return;
        }
    }

    private void BeginStart(Operation op, PluginRecord record, int restartCount)
    {
        var name = op.Plugin;
        var inactive = _descriptors[name].Metadata.Dependencies
            .Where(d => !_children.TryGetValue(d, out var c) || !c.Started)
            .Order(StringComparer.Ordinal)
            .ToList();
        var problem = ValidationProblem(name);
        if (problem is null && inactive.Count > 0)
            problem = $"dependency {string.Join(", ", inactive.Select(d => $"'{d}' ({_state.Get(d).State.ToString().ToLowerInvariant()})"))} is not active";
        if (problem is not null)
        {
            if (op.Origin == OperationOrigin.Supervised)
                Supervise(name, problem, permanent: false); // a dependency may come back: keep trying within the restart budget
            else
                Transition(name, PluginState.Error, op.Origin == OperationOrigin.Boot, problem, restartCount);
            op.ReplyTo?.Tell(new PluginOperationFailed(name, problem, PluginState.Error));
            return;
        }
        op.ThenStart = true;
        SpawnFor(op, restartCount);
    }

    /// <summary>Validates config, records it if it changed, and creates the plugin's actor (which initializes the plugin).</summary>
    private void SpawnFor(Operation op, int restartCount)
    {
        var name = op.Plugin;
        var validation = Validate(name);
        if (validation is PluginOperationFailed failed)
        {
            op.ReplyTo?.Tell(failed);
            return;
        }
        var config = op.Config ?? ConfigFor(name);
        var configProblem = ConfigProblem(name, config);
        if (configProblem is not null)
        {
            Transition(name, PluginState.Error, false, configProblem, restartCount);
            op.ReplyTo?.Tell(new PluginOperationFailed(name, configProblem, PluginState.Error));
            return;
        }
        var hash = PluginSection.Hash(config.Json);
        if (_state.Get(name).ConfigHash != hash || _state.Get(name).ConfigJson is null)
        {
            Record(new PluginConfigured(DateTimeOffset.UtcNow, _settings.NodeId, name, config.Json, hash, null));
        }
        op.RestartCount = restartCount;
        var incarnation = ++_incarnations;
        var context = new PluginContext(_settings.NodeId, _settings.DataDirectory, config);
        var actor = Context.ActorOf(PluginInstance.Props(_descriptors[name], context, incarnation, _settings.PluginManager, _pipeline,
            keepFailedWrites: _settings.Pipeline.For(name).Link.Overflow == Pipeline.OverflowPolicy.Durable), $"{name}-{incarnation}");
        Context.Watch(actor);
        var child = new Child(actor, incarnation);
        _children[name] = child;
        Await(op, child, Step.Initialize);
    }

    private void Await(Operation op, Child child, Step step)
    {
        op.Step = step;
        op.Incarnation = child.Incarnation;
        op.Id = ++_operationIds;
        _current = op;
        Timers.StartSingleTimer(OperationTimer, new OperationTimedOut(op.Id), _settings.PluginManager.OperationTimeout);
    }

    private void Finish(PluginOperationResult result)
    {
        var op = _current!;
        _current = null;
        Timers.Cancel(OperationTimer);
        // The answer waits for the transition it reports to be written: an operator who was told
        // "active" must find the plugin active after a crash.
        if (op.ReplyTo is { } replyTo) DeferAsync(result, r => replyTo.Tell(r));
        Drive();
    }

    private bool IsAwaiting(string name, int incarnation, params Step[] steps) =>
        _current is { } op && op.Plugin == name && op.Incarnation == incarnation && steps.Contains(op.Step);

    private void Handle(InstanceInitialized m)
    {
        if (!IsAwaiting(m.Name, m.Incarnation, Step.Initialize)) return;
        var op = _current!;
        Transition(m.Name, PluginState.Initialized, op.Origin == OperationOrigin.Supervised || (op.ThenStart && _state.Get(m.Name).WantActive), null, op.RestartCount);
        if (op.ThenStart)
        {
            op.Step = Step.Start;
            _children[m.Name].Actor.Tell(StartInstance.Instance);
            return;
        }
        Finish(new PluginOperationSucceeded(m.Name, PluginState.Initialized));
    }

    private void Handle(InstanceStarted m)
    {
        if (!IsAwaiting(m.Name, m.Incarnation, Step.Start)) return;
        _children[m.Name] = _children[m.Name] with { Started = true };
        Transition(m.Name, PluginState.Active, true, null, _current!.RestartCount);
        Finish(new PluginOperationSucceeded(m.Name, PluginState.Active));
    }

    private void Handle(InstanceStopped m)
    {
        if (!IsCurrent(m.Name, m.Incarnation)) return;
        ForgetChild(m.Name);
        if (!IsAwaiting(m.Name, m.Incarnation, Step.Stop, Step.StopThenStart)) return;
        if (m.Error is not null) _log.Warning("Plugin {Plugin} threw while stopping: {Error}", m.Name, m.Error);
        CompleteStop(m.Name, m.Error);
    }

    /// <summary>The plugin actor of the current stop (or restart) operation is gone: record the stop, or go on to start.</summary>
    private void CompleteStop(string name, string? error)
    {
        var op = _current!;
        if (op.Step == Step.StopThenStart)
        {
            _current = null;
            Timers.Cancel(OperationTimer);
            BeginStart(op, _state.Get(name), restartCount: 0);
            if (_current is null) Drive();
            return;
        }
        if (op.Origin != OperationOrigin.Shutdown)
            Transition(name, PluginState.Stopped, false, error is null ? null : $"stopped, but stop threw: {error}");
        Finish(new PluginOperationSucceeded(name, op.Origin == OperationOrigin.Shutdown ? _state.Get(name).State : PluginState.Stopped));
    }

    private void Handle(InstanceFailed m)
    {
        if (!IsCurrent(m.Name, m.Incarnation)) return;
        ForgetChild(m.Name);
        var error = $"{m.Phase} failed: {m.Error}";
        if (IsAwaiting(m.Name, m.Incarnation, Step.Stop, Step.StopThenStart))
        {
            // It failed while we were stopping it anyway: what was asked (a stop) has happened.
            CompleteStop(m.Name, error);
            return;
        }
        if (IsAwaiting(m.Name, m.Incarnation, Step.Initialize, Step.Start))
        {
            var op = _current!;
            if (op.Origin == OperationOrigin.Supervised)
                Supervise(m.Name, error, m.Permanent);
            else
                Transition(m.Name, PluginState.Error, false, error, op.RestartCount);
            Finish(new PluginOperationFailed(m.Name, error, PluginState.Error));
            return;
        }
        Supervise(m.Name, error, m.Permanent); // failed while working: no operation is waiting on it
    }

    private void Handle(Terminated t)
    {
        var entry = _children.FirstOrDefault(kv => kv.Value.Actor.Equals(t.ActorRef));
        if (entry.Key is null) return;
        // The actor stopped without saying why: a bug in the runtime rather than in the plugin.
        ForgetChild(entry.Key);
        if (_current is { } op && op.Plugin == entry.Key && op.Incarnation == entry.Value.Incarnation)
        {
            Transition(entry.Key, PluginState.Error, false, "the plugin's actor stopped unexpectedly");
            Finish(new PluginOperationFailed(entry.Key, "the plugin's actor stopped unexpectedly", PluginState.Error));
            return;
        }
        if (!_shuttingDown) Supervise(entry.Key, "the plugin's actor stopped unexpectedly", permanent: false);
    }

    private void Handle(OperationTimedOut m)
    {
        if (_current is not { } op || op.Id != m.OperationId) return;
        var name = op.Plugin;
        var timeout = _settings.PluginManager.OperationTimeout;
        StopChild(name);
        var phase = op.Step switch { Step.Initialize => "initialize", Step.Start => "start", _ => "stop" };
        var error = $"{phase} did not finish within {timeout.TotalSeconds:0.###}s";
        if (op.Origin != OperationOrigin.Shutdown) Transition(name, PluginState.Error, false, error, op.RestartCount);
        Finish(new PluginOperationFailed(name, error, PluginState.Error));
    }

    // ---------------------------------------------------------------- supervision

    private void Supervise(string name, string error, bool permanent)
    {
        var record = _state.Get(name);
        var s = _settings.PluginManager.Supervision;
        var now = DateTimeOffset.UtcNow;
        if (!_failures.TryGetValue(name, out var window)) _failures[name] = window = new Queue<DateTimeOffset>();
        while (window.Count > 0 && now - window.Peek() > s.Within) window.Dequeue();
        window.Enqueue(now);
        if (_shuttingDown)
        {
            Transition(name, PluginState.Error, record.WantActive, error, record.Restarts);
            return;
        }
        if (permanent)
        {
            Transition(name, PluginState.Error, false, $"{error} (permanent fault: not restarted)", record.Restarts);
            return;
        }
        if (window.Count > s.MaxRestarts)
        {
            Transition(name, PluginState.Error, false,
                $"gave up after {s.MaxRestarts} restarts within {s.Within.TotalSeconds:0.###}s; last error: {error}", record.Restarts);
            return;
        }
        var restarts = record.Restarts + 1;
        var delay = RestartBackoff.Delay(s, window.Count, _random);
        _log.Warning("Plugin {Plugin} failed ({Error}); restart {Restart} in {Delay}", name, error, restarts, delay);
        Transition(name, PluginState.Error, true, $"restarting in {delay.TotalSeconds:0.##}s after: {error}", restarts);
        Timers.StartSingleTimer(RestartTimerKey(name), new SupervisedRestart(name), delay);
    }

    private void Handle(SupervisedRestart m)
    {
        var record = _state.Get(m.Name);
        if (_shuttingDown || _children.ContainsKey(m.Name) || record.State != PluginState.Error || !record.WantActive) return;
        Enqueue(new Operation(OperationKind.Start, m.Name, null, null, OperationOrigin.Supervised));
    }

    private static string RestartTimerKey(string name) => $"restart-{name}";

    // ---------------------------------------------------------------- shutdown

    private void StopAll(IActorRef replyTo)
    {
        _shuttingDown = true;
        foreach (var name in _descriptors.Keys) Timers.Cancel(RestartTimerKey(name));
        // Operations not yet begun are dropped; their senders learn why.
        while (_operations.Count > 0)
        {
            var dropped = _operations.Dequeue();
            dropped.ReplyTo?.Tell(new PluginOperationFailed(dropped.Plugin, "the node is shutting down", _state.Get(dropped.Plugin).State));
        }
        var running = _children.Keys.ToList();
        var order = DependencyResolver.Resolve(DependencyGraph(), running);
        var stopOrder = order.Order.Reverse().Concat(running.Where(r => !order.Order.Contains(r)).Order(StringComparer.Ordinal));
        foreach (var name in stopOrder)
            _operations.Enqueue(new Operation(OperationKind.Stop, name, null, null, OperationOrigin.Shutdown));
        _operations.Enqueue(new Operation(OperationKind.StopAllDone, "", replyTo, null, OperationOrigin.Shutdown));
        _ready = true; // a shutdown during boot still stops what already started
        Drive();
    }

    // ---------------------------------------------------------------- helpers

    private void Transition(string name, PluginState to, bool wantActive, string? error, int? restarts = null)
    {
        var record = _state.Get(name);
        Record(new PluginTransitioned(DateTimeOffset.UtcNow, _settings.NodeId, name, record.State, to, wantActive, record.ConfigHash, error, restarts ?? record.Restarts));
    }

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

    private PluginOperationFailed FailTo(string name, string problem)
    {
        Transition(name, PluginState.Error, false, problem);
        return new PluginOperationFailed(name, problem, PluginState.Error);
    }

    private PluginOperationFailed NotFound(string name) =>
        new(name, _state.Plugins.ContainsKey(name)
            ? $"plugin '{name}' is recorded in the journal but no longer discovered (its assembly is gone?)"
            : $"plugin '{name}' is not registered", null);

    private void Reply(PluginOperationResult result) => Sender.Tell(result);

    private bool IsCurrent(string name, int incarnation) => _children.TryGetValue(name, out var c) && c.Incarnation == incarnation;

    private void StopChild(string name)
    {
        if (!_children.TryGetValue(name, out var child)) return;
        Context.Unwatch(child.Actor);
        Context.Stop(child.Actor);
        ForgetChild(name);
    }

    private void ForgetChild(string name)
    {
        if (_children.Remove(name, out var child)) Context.Unwatch(child.Actor);
        _statuses.Remove(name);
    }

    private ImmutableDictionary<string, ImmutableArray<string>> DependencyGraph() =>
        _descriptors.ToImmutableDictionary(kv => kv.Key, kv => kv.Value.Metadata.Dependencies, StringComparer.Ordinal);

    private NodePluginStatus BuildStatus()
    {
        var entries = ImmutableSortedDictionary.CreateBuilder<string, PluginStatusEntry>(StringComparer.Ordinal);
        foreach (var name in _descriptors.Keys.Concat(_state.Plugins.Keys).Distinct())
        {
            var record = _state.Get(name);
            _descriptors.TryGetValue(name, out var d);
            _statuses.TryGetValue(name, out var live);
            // Before the first discovery has finished, an undiscovered plugin is not yet missing.
            var missing = d is null && _ready;
            var state = missing ? PluginState.Error : record.State;
            var error = missing ? NotFound(name).Reason : state == PluginState.Error ? record.Error : null;
            entries[name] = new PluginStatusEntry(
                state.ToString().ToLowerInvariant(),
                d?.Metadata.Type.ToString().ToLowerInvariant() ?? "unknown",
                d?.Metadata.Version ?? "",
                error,
                live?.Status,
                live is null ? null : PluginRuntimeDictionary.From(live.Runtime),
                record.Restarts,
                record.LastTransition,
                d?.Origin ?? "");
        }
        var all = entries.ToImmutable();
        return new NodePluginStatus(
            _settings.NodeId,
            _ready && _current is null && _operations.Count == 0,
            all.Count,
            all.Values.Count(e => e.State != "discovered"),
            all.Values.Count(e => e.State == "active"),
            all.Values.Count(e => e.State == "error"),
            all,
            [.. _discoveryErrors]);
    }

    // ---------------------------------------------------------------- private messages

    private sealed record DiscoveryCompleted(DiscoveryResult Discovery, IActorRef? ReplyTo, bool Boot);

    private sealed record SupervisedRestart(string Name);

    private sealed record OperationTimedOut(int OperationId);

    private sealed record Child(IActorRef Actor, int Incarnation, bool Started = false);

    private enum OperationKind
    {
        Initialize,
        Start,
        Stop,
        Restart,
        StopAllDone,
    }

    private enum OperationOrigin
    {
        Command,
        Boot,
        Supervised,
        Shutdown,
    }

    private enum Step
    {
        Initialize,
        Start,
        Stop,
        StopThenStart,
    }

    private sealed class Operation(OperationKind kind, string plugin, IActorRef? replyTo, PluginConfig? config, OperationOrigin origin)
    {
        public OperationKind Kind { get; } = kind;

        public string Plugin { get; } = plugin;

        public IActorRef? ReplyTo { get; } = replyTo;

        public PluginConfig? Config { get; } = config;

        public OperationOrigin Origin { get; } = origin;

        public bool ThenStart { get; set; }

        public Step Step { get; set; }

        public int Incarnation { get; set; }

        public int Id { get; set; }

        public int RestartCount { get; set; }
    }
}
