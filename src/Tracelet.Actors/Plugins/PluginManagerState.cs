using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>What the journal knows about one plugin.</summary>
/// <param name="DesiredBy">Who asked for <see cref="WantActive"/>: an operator's wish outlives the configuration, a file's does not.</param>
public sealed record PluginRecord(
    string Name,
    PluginState State,
    bool WantActive,
    string? Error,
    string? ConfigJson,
    string? ConfigHash,
    string? FileSectionHash,
    int Restarts,
    DateTimeOffset? LastTransition,
    Lifecycle.DesireSource DesiredBy = Lifecycle.DesireSource.Operator)
{
    /// <summary>A plugin the journal has not seen yet.</summary>
    public static PluginRecord New(string name) => new(name, PluginState.Discovered, false, null, null, null, null, 0, null);
}

/// <summary>The snapshot the PluginManager saves every N events.</summary>
public sealed record PluginManagerSnapshot(ImmutableArray<PluginRecord> Plugins);

/// <summary>The PluginManager's persisted state: changed only by <see cref="Apply"/>.</summary>
public sealed record PluginManagerState(ImmutableSortedDictionary<string, PluginRecord> Plugins)
{
    /// <summary>Nothing recorded.</summary>
    public static PluginManagerState Empty { get; } = new(ImmutableSortedDictionary.Create<string, PluginRecord>(StringComparer.Ordinal));

    /// <summary>The record of a plugin (a new one when the journal has none).</summary>
    public PluginRecord Get(string name) => Plugins.TryGetValue(name, out var r) ? r : PluginRecord.New(name);

    /// <summary>The state after an event.</summary>
    public PluginManagerState Apply(IPluginEvent e)
    {
        var record = Get(e.Plugin);
        record = e switch
        {
            PluginTransitioned t => record with
            {
                State = t.To,
                WantActive = t.WantActive,
                Error = t.Error,
                ConfigHash = t.ConfigHash ?? record.ConfigHash,
                Restarts = t.Restarts,
                LastTransition = t.At,
                DesiredBy = t.DesiredBy ?? record.DesiredBy,
            },
            PluginConfigured c => record with
            {
                ConfigJson = c.ConfigJson,
                ConfigHash = c.ConfigHash,
                FileSectionHash = c.FileSectionHash ?? record.FileSectionHash,
            },
            _ => record,
        };
        return new PluginManagerState(Plugins.SetItem(e.Plugin, record));
    }

    /// <summary>The state as a snapshot.</summary>
    public PluginManagerSnapshot ToSnapshot() => new([.. Plugins.Values]);

    /// <summary>The state from a snapshot.</summary>
    public static PluginManagerState FromSnapshot(PluginManagerSnapshot snapshot) =>
        new(snapshot.Plugins.ToImmutableSortedDictionary(p => p.Name, p => p, StringComparer.Ordinal));
}
