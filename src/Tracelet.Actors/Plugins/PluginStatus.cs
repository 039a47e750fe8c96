using System.Collections.Immutable;

namespace Tracelet.Actors.Plugins;

/// <summary>One plugin in the node's status.</summary>
/// <param name="State">Lower-case state name, as in the Python Tracelet ("active", "error"...).</param>
/// <param name="Type">Lower-case type ("collector", "backend"...).</param>
/// <param name="Version">The plugin's version.</param>
/// <param name="Error">The last error, when the state is error.</param>
/// <param name="Status">What the plugin reports about itself (<c>IPlugin.GetStatus</c>), when it has an instance.</param>
/// <param name="Runtime">What its actor counts: collections, samples, skipped ticks, queue and drops.</param>
/// <param name="Restarts">Supervised restarts so far.</param>
/// <param name="LastTransition">When its state last changed.</param>
/// <param name="Origin">Where it was discovered.</param>
public sealed record PluginStatusEntry(
    string State,
    string Type,
    string Version,
    string? Error,
    IReadOnlyDictionary<string, object?>? Status,
    IReadOnlyDictionary<string, object?>? Runtime,
    int Restarts,
    DateTimeOffset? LastTransition,
    string Origin);

/// <summary>
/// The node's plugin status, in the Python Tracelet's shape (discovered, loaded, active, errors,
/// plugins) plus what the runtime adds. As in the Python code, "loaded" counts every plugin past
/// discovery, including stopped and failed ones.
/// </summary>
public sealed record NodePluginStatus(
    string NodeId,
    bool Ready,
    int Discovered,
    int Loaded,
    int Active,
    int Errors,
    ImmutableSortedDictionary<string, PluginStatusEntry> Plugins,
    ImmutableArray<string> DiscoveryErrors);
