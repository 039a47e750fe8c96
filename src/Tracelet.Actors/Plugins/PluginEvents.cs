using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

// Persisted events. The serializer writes them under short manifests of its own; renaming a type
// is safe, renaming or removing a field is not: add fields, never reuse names.

/// <summary>Marker for the PluginManager's journal events.</summary>
public interface IPluginEvent
{
    /// <summary>The plugin the event is about.</summary>
    string Plugin { get; }
}

/// <summary>A plugin changed state.</summary>
/// <param name="At">When (UTC).</param>
/// <param name="NodeId">The node.</param>
/// <param name="Plugin">The plugin.</param>
/// <param name="From">The state before.</param>
/// <param name="To">The state after.</param>
/// <param name="WantActive">Whether the node should bring the plugin back to Active after a restart.</param>
/// <param name="ConfigHash">Hash of the config the plugin runs (or ran) with.</param>
/// <param name="Error">The error, for <see cref="PluginState.Error"/>.</param>
/// <param name="Restarts">Supervised restarts so far.</param>
/// <param name="DesiredBy">Who set <paramref name="WantActive"/>, when this transition set it (absent: unchanged).</param>
public sealed record PluginTransitioned(
    DateTimeOffset At,
    string NodeId,
    string Plugin,
    PluginState From,
    PluginState To,
    bool WantActive,
    string? ConfigHash,
    string? Error,
    int Restarts,
    Lifecycle.DesireSource? DesiredBy = null) : IPluginEvent;

/// <summary>A plugin was given a config (from a file or a command).</summary>
/// <param name="At">When (UTC).</param>
/// <param name="NodeId">The node.</param>
/// <param name="Plugin">The plugin.</param>
/// <param name="ConfigJson">The config as compact JSON.</param>
/// <param name="ConfigHash">Its hash.</param>
/// <param name="FileSectionHash">When it came from a configuration file: the hash of that file section, to notice edits.</param>
public sealed record PluginConfigured(
    DateTimeOffset At,
    string NodeId,
    string Plugin,
    string ConfigJson,
    string ConfigHash,
    string? FileSectionHash) : IPluginEvent;
