using System.Collections.Immutable;

namespace Tracelet.Abstractions;

/// <summary>
/// What a plugin says about itself: every field of the Python Tracelet's <c>PluginMetadata</c>.
/// </summary>
/// <param name="Name">Unique name on a node: letters, digits, '_', '-' and '.'. It is the key under
/// <c>tracelet.plugins</c> in configuration.</param>
/// <param name="Version">The plugin's version, shown in status.</param>
/// <param name="Type">Collector, backend, ...</param>
public sealed record PluginMetadata(string Name, string Version, PluginType Type)
{
    /// <summary>One line for people reading status.</summary>
    public string Description { get; init; } = "";

    /// <summary>Who wrote it.</summary>
    public string Author { get; init; } = "";

    /// <summary>Names of plugins that must be active before this one starts (plugin names, not packages).</summary>
    public ImmutableArray<string> Dependencies { get; init; } = [];

    /// <summary>
    /// A JSON Schema (draft 2020-12) for the plugin's <c>config</c> object, as JSON text. The runtime
    /// validates configuration against it before <see cref="IPlugin.InitializeAsync"/> and reports
    /// the failing key. Null accepts any configuration.
    /// </summary>
    public string? ConfigSchema { get; init; }

    /// <summary>Free-form capability tags (for example "gpu", "flush").</summary>
    public ImmutableHashSet<string> Capabilities { get; init; } = [];
}
