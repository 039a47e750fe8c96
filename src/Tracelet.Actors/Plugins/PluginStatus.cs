using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// A plugin's state as status shows it: the lifecycle's <see cref="PluginState"/> plus
/// <see cref="Retrying"/>. The values are <see cref="PluginState"/>'s, so that a state converts by
/// value and the status wire format can write it as one byte; never renumber one.
/// </summary>
public enum PluginStatusState
{
    /// <summary>Found, not loaded.</summary>
    Discovered = 1,

    /// <summary>Its type is resolved.</summary>
    Loaded = 2,

    /// <summary>Metadata, schema and dependencies checked.</summary>
    Validated = 3,

    /// <summary>Its instance exists, not started.</summary>
    Initialized = 4,

    /// <summary>Running.</summary>
    Active = 5,

    /// <summary>Failed for good (or no longer discovered); an operator's restart clears it.</summary>
    Error = 6,

    /// <summary>Stopped by an operator or at shutdown.</summary>
    Stopped = 7,

    /// <summary>Failed; the manager tries again at <see cref="PluginRetry.NextAttemptAt"/>.</summary>
    Retrying = 8,
}

/// <summary>Converts the lifecycle's states to status states.</summary>
public static class PluginStatusStates
{
    /// <summary>The status state of a lifecycle state (same name, same value).</summary>
    public static PluginStatusState ToStatusState(this PluginState state) => state switch
    {
        PluginState.Discovered => PluginStatusState.Discovered,
        PluginState.Loaded => PluginStatusState.Loaded,
        PluginState.Validated => PluginStatusState.Validated,
        PluginState.Initialized => PluginStatusState.Initialized,
        PluginState.Active => PluginStatusState.Active,
        PluginState.Error => PluginStatusState.Error,
        PluginState.Stopped => PluginStatusState.Stopped,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "not a plugin state"),
    };
}

/// <summary>A failed plugin the manager will try again.</summary>
/// <param name="NextAttemptAt">When the next attempt starts.</param>
/// <param name="Attempt">The number of that attempt (1 for the first retry).</param>
/// <param name="LastError">Why the last attempt failed.</param>
public sealed record PluginRetry(DateTimeOffset NextAttemptAt, int Attempt, string LastError);

/// <summary>One plugin in the node's status.</summary>
/// <param name="State">Its state; shown lower case, as in the Python Tracelet ("active", "error", "retrying").</param>
/// <param name="Type">Its type; null when the plugin is no longer discovered.</param>
/// <param name="Version">The plugin's version.</param>
/// <param name="Error">The last error, when the state is <see cref="PluginStatusState.Error"/> or <see cref="PluginStatusState.Retrying"/>.</param>
/// <param name="Status">What the plugin reports about itself (<c>IPlugin.GetStatus</c>), when it has an instance: the plugin author's shape.</param>
/// <param name="Runtime">What its actor counts (<see cref="CollectorRuntime"/>, <see cref="BackendRuntime"/>), when it has an instance.</param>
/// <param name="Restarts">Supervised restarts so far.</param>
/// <param name="LastTransition">When its state last changed.</param>
/// <param name="Origin">Where it was discovered.</param>
/// <param name="Retry">When the state is <see cref="PluginStatusState.Retrying"/>: the next attempt.</param>
/// <param name="UpdateAvailable">A newer file of a folder plugin, e.g. "1.1.0 (/path/plugin.dll)": what an upgrade would load.</param>
public sealed record PluginStatusEntry(
    PluginStatusState State,
    PluginType? Type,
    string Version,
    string? Error,
    IReadOnlyDictionary<string, object?>? Status,
    PluginRuntime? Runtime,
    int Restarts,
    DateTimeOffset? LastTransition,
    string Origin,
    PluginRetry? Retry = null,
    string? UpdateAvailable = null);

/// <summary>
/// The node's plugin status, in the Python Tracelet's shape (discovered, loaded, active, errors,
/// plugins) plus what the runtime adds. As in the Python code, "loaded" counts every plugin past
/// discovery, including stopped and failed ones. Built only by <see cref="Create"/>, so that the
/// counts always agree with the entries.
/// </summary>
public sealed record NodePluginStatus
{
    private NodePluginStatus(string nodeId, bool ready, ImmutableSortedDictionary<string, PluginStatusEntry> plugins, ImmutableArray<string> discoveryErrors)
    {
        NodeId = nodeId;
        Ready = ready;
        Plugins = plugins;
        DiscoveryErrors = discoveryErrors.IsDefault ? [] : discoveryErrors;
        Discovered = plugins.Count;
        foreach (var entry in plugins.Values)
        {
            if (entry.State != PluginStatusState.Discovered) Loaded++;
            if (entry.State == PluginStatusState.Active) Active++;
            if (entry.State == PluginStatusState.Error) Errors++;
            if (entry.State == PluginStatusState.Retrying) Retrying++;
            if (entry.Runtime?.Stuck is not null) Stuck++;
        }
    }

    /// <summary>The node's status from its entries.</summary>
    /// <param name="nodeId">tracelet.node-id.</param>
    /// <param name="ready">Discovery and boot are done and no operation is running.</param>
    /// <param name="plugins">Every plugin, by name.</param>
    /// <param name="discoveryErrors">What discovery could not load.</param>
    public static NodePluginStatus Create(string nodeId, bool ready, ImmutableSortedDictionary<string, PluginStatusEntry> plugins, ImmutableArray<string> discoveryErrors) =>
        new(nodeId, ready, plugins, discoveryErrors);

    /// <summary>tracelet.node-id.</summary>
    public string NodeId { get; }

    /// <summary>Discovery and boot are done and no operation is running.</summary>
    public bool Ready { get; }

    /// <summary>Every plugin the node knows.</summary>
    public int Discovered { get; }

    /// <summary>Plugins past discovery, in any state.</summary>
    public int Loaded { get; }

    /// <summary>Plugins running.</summary>
    public int Active { get; }

    /// <summary>Plugins in <see cref="PluginStatusState.Error"/>; retrying ones are not counted here.</summary>
    public int Errors { get; }

    /// <summary>Plugins the manager will try again.</summary>
    public int Retrying { get; }

    /// <summary>Plugins with a call running past the call timeout (<see cref="PluginRuntime.Stuck"/>), in any state.</summary>
    public int Stuck { get; }

    /// <summary>Every plugin, by name.</summary>
    public ImmutableSortedDictionary<string, PluginStatusEntry> Plugins { get; }

    /// <summary>What discovery could not load.</summary>
    public ImmutableArray<string> DiscoveryErrors { get; }
}
