using Akka.Hosting;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;

namespace Tracelet.Hosting;

/// <summary>Akka.Hosting extensions that add Tracelet to an actor system.</summary>
public static class TraceletHostingExtensions
{
    /// <summary>
    /// Adds Tracelet's configuration (<see cref="TraceletRuntime.SystemConfig"/>: persistence and
    /// serializer bindings) and starts the runtime with <see cref="TraceletRuntime.Start"/>: the
    /// node's pipeline, its PluginManager under a backoff supervisor (a failed journal write stops
    /// a persistent actor), and a coordinated-shutdown task that flushes the pipeline and stops
    /// every plugin in reverse dependency order. The manager is registered as
    /// <see cref="PluginManagerActor"/> and the pipeline as <see cref="TraceletPipeline"/> in the
    /// actor registry.
    /// </summary>
    /// <param name="builder">The Akka builder.</param>
    /// <param name="config">The loaded configuration, with the file and line of every key a file set.</param>
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

        builder.AddHocon(TraceletRuntime.SystemConfig(settings, config.Config), HoconAddMode.Prepend);
        builder.WithActors((system, registry) =>
        {
            var runtime = TraceletRuntime.Start(system, settings, options: new TraceletRuntimeOptions { Environment = environment });
            registry.Register<TraceletPipeline>(runtime.Pipeline);
            registry.Register<PluginManagerActor>(runtime.PluginManager);
        });
        return builder;
    }
}

/// <summary>The actor-registry key of the node's metric pipeline (its actor type is internal).</summary>
public sealed class TraceletPipeline
{
    private TraceletPipeline() { }
}
