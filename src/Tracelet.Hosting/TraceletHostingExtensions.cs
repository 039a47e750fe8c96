using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Akka.Pattern;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Persistence;
using Tracelet.Actors.Plugins;

namespace Tracelet.Hosting;

/// <summary>Akka.Hosting extensions that add Tracelet to an actor system.</summary>
public static class TraceletHostingExtensions
{
    /// <summary>How long node shutdown waits for plugins to stop before it goes on without them.</summary>
    public static readonly TimeSpan StopPluginsTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Adds Tracelet's configuration (persistence included), the node's PluginManager (under a
    /// backoff supervisor, since a failed journal write stops a persistent actor) and a
    /// coordinated-shutdown task that stops every plugin in reverse dependency order.
    /// The manager is registered as <see cref="PluginManagerActor"/> in the actor registry.
    /// </summary>
    /// <param name="builder">The Akka builder.</param>
    /// <param name="config">The loaded configuration (<see cref="TraceletConfigLoader.Load"/>).</param>
    /// <param name="settings">Settings parsed from it.</param>
    /// <param name="environment">The environment used for discovery (TRACELET_PLUGIN_PATH).</param>
    public static AkkaConfigurationBuilder WithTracelet(
        this AkkaConfigurationBuilder builder,
        LoadedConfig config,
        TraceletSettings settings,
        IReadOnlyDictionary<string, string> environment)
    {
        // Make sure the built-in plugin assemblies are loaded from the node's folder.
        _ = typeof(Collectors.Heartbeat.HeartbeatCollector).Assembly;
        _ = typeof(Backends.Console.ConsoleBackend).Assembly;

        builder.AddHocon(PersistenceHocon.Create(settings).WithFallback(config.Config), HoconAddMode.Prepend);
        builder.WithActors((system, registry) =>
        {
            // The metric pipeline outlives PluginManager restarts (its buffers must not be lost with them).
            var pipeline = system.ActorOf(PluginManagerActor.PipelineProps(settings), "pipeline");
            registry.Register<TraceletPipeline>(pipeline);
            // One catalog for the node's life: discovery again, and a restarted manager, reuse what it loaded.
            var catalog = new PluginCatalog(settings.Discovery, environment);
            var managerProps = PluginManagerActor.Props(settings, catalog.Discover, pipeline);
            var supervisor = system.ActorOf(
                BackoffSupervisor.Props(Backoff.OnStop(managerProps, "plugin-manager", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, -1)),
                "plugin-manager-supervisor");
            registry.Register<PluginManagerActor>(supervisor);

            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "tracelet-stop-plugins", async () =>
            {
                // First deliver what is buffered to backends that are up (kept if durable, else counted
                // as dropped with reason "shutdown" after the deadline), then stop the plugins.
                var flush = settings.Pipeline.FlushTimeout;
                try
                {
                    var flushed = await pipeline.Ask<Actors.Pipeline.PipelineFlushed>(new Actors.Pipeline.FlushPipeline(flush), flush + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                    if (flushed.Kept > 0 || flushed.Dropped > 0)
                        system.Log.Warning("Pipeline at shutdown: {0} samples kept in the durable store, {1} dropped (reason \"shutdown\")", flushed.Kept, flushed.Dropped);
                }
                catch (AskTimeoutException)
                {
                    system.Log.Warning("The pipeline did not flush within {0}; shutting down anyway", flush);
                }
                try
                {
                    await supervisor.Ask<AllPluginsStopped>(StopAllPlugins.Instance, StopPluginsTimeout).ConfigureAwait(false);
                }
                catch (AskTimeoutException)
                {
                    system.Log.Warning("Plugins did not all stop within {0}; shutting down anyway", StopPluginsTimeout);
                }
                return Akka.Done.Instance;
            });
        });
        return builder;
    }
}

/// <summary>The actor-registry key of the node's metric pipeline (its actor type is internal).</summary>
public sealed class TraceletPipeline
{
    private TraceletPipeline() { }
}
