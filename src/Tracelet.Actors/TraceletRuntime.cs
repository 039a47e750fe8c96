using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Pattern;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Persistence;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;

namespace Tracelet.Actors;

/// <summary>How <see cref="TraceletRuntime.Start"/> runs the runtime; the defaults are what the node does.</summary>
public sealed record TraceletRuntimeOptions
{
    /// <summary>The node's options: a supervised PluginManager, plugins stopped by coordinated shutdown.</summary>
    public static TraceletRuntimeOptions Default { get; } = new();

    /// <summary>
    /// Run the PluginManager under a backoff supervisor (1 s to 30 s), because a failed journal
    /// write stops a persistent actor and the node must get it back. Off: the manager is a plain
    /// top-level actor that stays stopped once stopped (tests that watch or kill it).
    /// </summary>
    public bool SuperviseManager { get; init; } = true;

    /// <summary>The environment discovery reads (<c>TRACELET_PLUGIN_PATH</c>); default: the process environment.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>
    /// Where upgrades come from when <c>discover</c> is given; without <c>discover</c> the runtime's own
    /// <see cref="PluginCatalog"/> serves both.
    /// </summary>
    public IPluginUpgradeSource? Upgrades { get; init; }

    /// <summary>
    /// Stop the runtime (<see cref="TraceletRuntime.StopAsync"/>) in the
    /// <see cref="CoordinatedShutdown.PhaseBeforeServiceUnbind"/> phase of the system's
    /// coordinated shutdown. Off: only an explicit <see cref="TraceletRuntime.StopAsync"/> stops
    /// the plugins (tests that end a system as a crash would).
    /// </summary>
    public bool StopOnShutdown { get; init; } = true;
}

/// <summary>
/// What <see cref="TraceletRuntime.StopAsync"/> achieved: what the pipeline kept or dropped
/// (null when it did not answer in time), and whether every plugin reported stopped in time.
/// </summary>
/// <param name="Flushed">The pipeline's report, or null when it did not flush in time.</param>
/// <param name="PluginsStopped">True when the PluginManager reported every plugin stopped in time.</param>
public sealed record TraceletRuntimeStopped(PipelineFlushed? Flushed, bool PluginsStopped)
{
    /// <summary>True when both the flush and the plugin stop finished in time.</summary>
    public bool Completed => Flushed is not null && PluginsStopped;
}

/// <summary>
/// The Tracelet runtime embedded in an <see cref="ActorSystem"/>: the node's metric pipeline and
/// its PluginManager, started by one call. The node executable (through Tracelet.Hosting), the
/// tests and integrators without Akka.Hosting all start it this way:
/// <code>
/// var config = TraceletConfigLoader.ReferenceConfig();          // or your own Config over it
/// var settings = TraceletSettings.Create(config);
/// using var system = ActorSystem.Create("tracelet", TraceletRuntime.SystemConfig(settings, config));
/// var tracelet = TraceletRuntime.Start(system, settings);
/// var status = await tracelet.PluginManager.Ask&lt;CurrentPluginStatus&gt;(GetPluginStatus.Instance);
/// await tracelet.StopAsync();                                   // also run by CoordinatedShutdown
/// </code>
/// </summary>
public sealed class TraceletRuntime
{
    /// <summary>The pipeline's actor name, under <c>/user</c>.</summary>
    public const string PipelineName = "pipeline";

    /// <summary>The PluginManager's actor name (under <c>/user</c>, or under its supervisor).</summary>
    public const string PluginManagerName = "plugin-manager";

    /// <summary>The backoff supervisor's actor name, under <c>/user</c>, when the manager is supervised.</summary>
    public const string SupervisorName = "plugin-manager-supervisor";

    /// <summary>How long <see cref="StopAsync"/> waits for plugins to stop before it goes on without them.</summary>
    public static readonly TimeSpan StopPluginsTimeout = TimeSpan.FromSeconds(20);

    private readonly ActorSystem _system;
    private readonly Lock _stopLock = new();
    private Task<TraceletRuntimeStopped>? _stopped;

    private TraceletRuntime(ActorSystem system, TraceletSettings settings, IActorRef pipeline, IActorRef pluginManager)
    {
        _system = system;
        Settings = settings;
        Pipeline = pipeline;
        PluginManager = pluginManager;
    }

    /// <summary>The settings the runtime was started with.</summary>
    public TraceletSettings Settings { get; }

    /// <summary>
    /// The node's metric pipeline (<see cref="GetPipelineStatus"/>, <see cref="FlushPipeline"/>). A
    /// top-level actor of its own: its buffers outlive PluginManager restarts.
    /// </summary>
    public IActorRef Pipeline { get; }

    /// <summary>
    /// The PluginManager, or its backoff supervisor (which forwards every message to it): send it
    /// the lifecycle commands (<see cref="StartPlugin"/>, <see cref="StopPlugin"/>...) and
    /// <see cref="GetPluginStatus"/>.
    /// </summary>
    public IActorRef PluginManager { get; }

    /// <summary>
    /// The configuration an <see cref="ActorSystem"/> needs to run the runtime: the journal and
    /// snapshot store for <see cref="TraceletSettings.Persistence"/> (for SQLite this creates the
    /// data directory and switches the file to WAL), then <paramref name="config"/>, then Tracelet's
    /// reference configuration (serializer bindings, shutdown phase timeout).
    /// </summary>
    /// <param name="settings">The runtime's settings.</param>
    /// <param name="config">The application's own configuration, if any; persistence wins over it.</param>
    public static Config SystemConfig(TraceletSettings settings, Config? config = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var system = PersistenceHocon.Create(settings);
        if (config is not null) system = system.WithFallback(config);
        return system.WithFallback(TraceletConfigLoader.ReferenceConfig());
    }

    /// <summary>
    /// Starts the pipeline (at <c>/user/pipeline</c>) and the PluginManager in
    /// <paramref name="system"/>, which must have been created with <see cref="SystemConfig"/>.
    /// The manager then discovers plugins and brings each to its desired state, as a node does.
    /// </summary>
    /// <param name="system">The actor system; one runtime per system.</param>
    /// <param name="settings">The runtime's settings.</param>
    /// <param name="discover">
    /// Finds the plugins, on the thread pool at start and on <see cref="DiscoverPlugins"/>; default:
    /// one <see cref="PluginCatalog"/> over <see cref="TraceletSettings.Discovery"/> for the node's life,
    /// which also loads new versions for <see cref="UpgradePlugin"/>.
    /// </param>
    /// <param name="options">Supervision and shutdown; default <see cref="TraceletRuntimeOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">The system was not configured with <see cref="SystemConfig"/>.</exception>
    public static TraceletRuntime Start(ActorSystem system, TraceletSettings settings, Func<DiscoveryResult>? discover = null, TraceletRuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(settings);
        options ??= TraceletRuntimeOptions.Default;
        RequireSystemConfig(system);
        var upgrades = options.Upgrades;
        if (discover is null)
        {
            // One catalog for the node's life: discovery again, and a restarted manager, reuse what it loaded.
            var catalog = new PluginCatalog(settings.Discovery, options.Environment ?? TraceletConfigLoader.ProcessEnvironment());
            discover = catalog.Discover;
            upgrades ??= catalog;
        }

        var pipeline = system.ActorOf(PluginManagerActor.PipelineProps(settings), PipelineName);
        var managerProps = PluginManagerActor.Props(settings, discover, pipeline, upgrades);
        var manager = options.SuperviseManager
            ? system.ActorOf(BackoffSupervisor.Props(Backoff.OnStop(managerProps, PluginManagerName, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, -1)), SupervisorName)
            : system.ActorOf(managerProps, PluginManagerName);
        var runtime = new TraceletRuntime(system, settings, pipeline, manager);

        if (options.StopOnShutdown)
        {
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "tracelet-stop-plugins", async () =>
            {
                await runtime.StopAsync().ConfigureAwait(false);
                return Akka.Done.Instance;
            });
        }
        return runtime;
    }

    /// <summary>
    /// Stops the runtime as a node's shutdown does: the pipeline first delivers what is buffered
    /// to backends that are up (kept if durable, else dropped with reason "shutdown" after
    /// <see cref="Tracelet.Actors.Pipeline.PipelineSettings.FlushTimeout"/>), then every plugin
    /// stops in reverse dependency order (up to <see cref="StopPluginsTimeout"/>). Either step
    /// that runs out of time is logged and the next goes on. Later calls return the first call's result.
    /// </summary>
    public Task<TraceletRuntimeStopped> StopAsync()
    {
        lock (_stopLock)
        {
            return _stopped ??= StopOnceAsync();
        }
    }

    private async Task<TraceletRuntimeStopped> StopOnceAsync()
    {
        var flush = Settings.Pipeline.FlushTimeout;
        PipelineFlushed? flushed = null;
        try
        {
            flushed = await Pipeline.Ask<PipelineFlushed>(new FlushPipeline(flush), flush + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            if (flushed.Kept > 0 || flushed.Dropped > 0)
                _system.Log.Warning("Pipeline at shutdown: {0} samples kept in the durable store, {1} dropped (reason \"shutdown\")", flushed.Kept, flushed.Dropped);
        }
        catch (AskTimeoutException)
        {
            _system.Log.Warning("The pipeline did not flush within {0}; shutting down anyway", flush);
        }

        var stopped = false;
        try
        {
            await PluginManager.Ask<AllPluginsStopped>(StopAllPlugins.Instance, StopPluginsTimeout).ConfigureAwait(false);
            stopped = true;
        }
        catch (AskTimeoutException)
        {
            _system.Log.Warning("Plugins did not all stop within {0}; shutting down anyway", StopPluginsTimeout);
        }
        return new TraceletRuntimeStopped(flushed, stopped);
    }

    /// <summary>Without the journal and serializer bindings the manager would fail later and far from the cause.</summary>
    private static void RequireSystemConfig(ActorSystem system)
    {
        var config = system.Settings.Config;
        if (config.GetString("akka.persistence.journal.plugin", "") != "akka.persistence.journal.sql"
            || !config.HasPath("akka.actor.serializers.tracelet-events"))
        {
            throw new ArgumentException(
                $"actor system '{system.Name}' lacks Tracelet's journal or serializer configuration: create it with TraceletRuntime.SystemConfig(settings)",
                nameof(system));
        }
    }
}
