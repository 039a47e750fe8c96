using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

// The PluginManager's protocol: the Python Tracelet's PluginManager API as messages. Every command
// is answered with an explicit result message, never an exception.

/// <summary>Marker for everything the PluginManager accepts.</summary>
public interface IPluginManagerCommand;

/// <summary>Runs discovery again; new plugins are added, known ones keep their state. Answered by <see cref="PluginsDiscovered"/>.</summary>
public sealed record DiscoverPlugins : IPluginManagerCommand
{
    /// <summary>The single instance.</summary>
    public static DiscoverPlugins Instance { get; } = new();

    private DiscoverPlugins() { }
}

/// <summary>Registers plugin types from code (the seed's manual registration). Answered by <see cref="PluginsDiscovered"/>.</summary>
public sealed record RegisterPlugins(ImmutableArray<Type> PluginTypes) : IPluginManagerCommand;

/// <summary>Resolves the plugin's type (Discovered → Loaded).</summary>
public sealed record LoadPlugin(string Name) : IPluginManagerCommand;

/// <summary>Checks metadata, schema and dependencies (→ Validated); loads first if needed. A no-op on a plugin past Validated.</summary>
public sealed record ValidatePlugin(string Name) : IPluginManagerCommand;

/// <summary>Creates the plugin's actor and instance with this config (or its recorded config); validates first if needed.</summary>
public sealed record InitializePlugin(string Name, PluginConfig? Config = null) : IPluginManagerCommand;

/// <summary>Starts a plugin (→ Active), running the earlier steps with its recorded config if needed. Its dependencies must be active.</summary>
public sealed record StartPlugin(string Name) : IPluginManagerCommand;

/// <summary>
/// Stops a plugin (→ Stopped). It stays stopped across node restarts until started again. Active plugins
/// that depend on it are stopped first (named in <see cref="PluginOperationSucceeded.Cascaded"/>); with
/// <paramref name="Cascade"/> false the stop is refused while such dependents are active.
/// </summary>
public sealed record StopPlugin(string Name, bool Cascade = true) : IPluginManagerCommand;

/// <summary>Stops (if running) and starts a plugin again; clears Error and the restart window.</summary>
public sealed record RestartPlugin(string Name) : IPluginManagerCommand;

/// <summary>
/// Hot swap of a folder plugin: loads the current file of its assembly into a fresh collectible load
/// context, validates the new version and its config, stops the running instance, starts the new one with
/// the same config and unloads the old context. A failure at any step leaves (or puts back) the running
/// version. Answered by <see cref="PluginOperationSucceeded"/> (with the version now running) or
/// <see cref="PluginOperationFailed"/>.
/// </summary>
public sealed record UpgradePlugin(string Name) : IPluginManagerCommand;

/// <summary>Reads a JSON config file (seed: load_config) and records each section's config for its plugin. Answered by <see cref="PluginConfigLoaded"/>.</summary>
public sealed record LoadPluginConfig(string Path) : IPluginManagerCommand;

/// <summary>Asks for the node's plugin status. Answered by <see cref="CurrentPluginStatus"/>.</summary>
public sealed record GetPluginStatus : IPluginManagerCommand
{
    /// <summary>The single instance.</summary>
    public static GetPluginStatus Instance { get; } = new();

    private GetPluginStatus() { }
}

/// <summary>Lists plugins of one type. Answered by <see cref="CurrentPluginsByType"/>.</summary>
public sealed record GetPluginsByType(PluginType Type) : IPluginManagerCommand;

/// <summary>Orders plugins by dependency. Answered by <see cref="CurrentDependencyOrder"/>.</summary>
public sealed record ResolveDependencies(ImmutableArray<string> Names) : IPluginManagerCommand;

/// <summary>Stops every running plugin in reverse dependency order, for node shutdown; recorded states are kept so the node comes back as it was. Answered by <see cref="AllPluginsStopped"/>.</summary>
public sealed record StopAllPlugins : IPluginManagerCommand
{
    /// <summary>The single instance.</summary>
    public static StopAllPlugins Instance { get; } = new();

    private StopAllPlugins() { }
}

/// <summary>The answer to a lifecycle command.</summary>
public abstract record PluginOperationResult(string Name);

/// <summary>The command succeeded; the plugin is now in <paramref name="State"/>.</summary>
/// <param name="Cascaded">Other plugins the command moved too, in the order it moved them (dependencies started first, dependents stopped first).</param>
/// <param name="Detail">What an operator should know besides the state (e.g. "upgraded 1.0.0 -> 1.1.0").</param>
public sealed record PluginOperationSucceeded(string Name, PluginState State, ImmutableArray<string> Cascaded = default, string? Detail = null) : PluginOperationResult(Name);

/// <summary>The command failed; <paramref name="Reason"/> says why in words an operator can act on.</summary>
public sealed record PluginOperationFailed(string Name, string Reason, PluginState? State) : PluginOperationResult(Name);

/// <summary>Answer to <see cref="DiscoverPlugins"/> and <see cref="RegisterPlugins"/>.</summary>
public sealed record PluginsDiscovered(ImmutableArray<string> Plugins, ImmutableArray<string> Errors);

/// <summary>Answer to <see cref="LoadPluginConfig"/>: the plugins whose config was recorded, or the error.</summary>
public sealed record PluginConfigLoaded(ImmutableArray<string> Plugins, string? Error);

/// <summary>Answer to <see cref="GetPluginStatus"/>.</summary>
public sealed record CurrentPluginStatus(NodePluginStatus Status);

/// <summary>Answer to <see cref="GetPluginsByType"/>: name, state and metadata of each, sorted by name.</summary>
public sealed record CurrentPluginsByType(PluginType Type, ImmutableArray<PluginInfo> Plugins);

/// <summary>A plugin's metadata and state.</summary>
public sealed record PluginInfo(PluginMetadata Metadata, PluginState State, string Origin);

/// <summary>Answer to <see cref="ResolveDependencies"/>.</summary>
public sealed record CurrentDependencyOrder(DependencyOrder Order);

/// <summary>Answer to <see cref="StopAllPlugins"/>.</summary>
public sealed record AllPluginsStopped
{
    /// <summary>The single instance.</summary>
    public static AllPluginsStopped Instance { get; } = new();

    private AllPluginsStopped() { }
}

/// <summary>Published on the local event stream as each plugin stops during <see cref="StopAllPlugins"/>; <paramref name="Error"/> is what its stop threw, if anything.</summary>
public sealed record PluginStoppedAtShutdown(string Name, string? Error);
