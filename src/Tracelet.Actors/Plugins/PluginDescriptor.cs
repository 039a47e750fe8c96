using System.Collections.Immutable;
using System.Runtime.Loader;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>A discovered plugin type: what it says about itself and where it came from.</summary>
/// <param name="Metadata">Read from a throw-away instance at discovery.</param>
/// <param name="PluginType">The CLR type; instantiated once per plugin actor incarnation.</param>
/// <param name="Origin">The assembly file (or "built-in: name") that provided it.</param>
/// <param name="AssemblyPath">The plugin folder file it was loaded from; null for built-in and registered plugins.</param>
/// <param name="ContentHash">SHA-256 (lower-case hex) of the file's bytes that were loaded; null when there is no file.</param>
/// <param name="LoadContext">The collectible context holding the type; null for built-in and registered plugins.</param>
public sealed record PluginDescriptor(
    PluginMetadata Metadata,
    Type PluginType,
    string Origin,
    string? AssemblyPath = null,
    string? ContentHash = null,
    AssemblyLoadContext? LoadContext = null)
{
    /// <summary>The plugin's name.</summary>
    public string Name => Metadata.Name;

    /// <summary>The metadata's dependency entries, read with their version constraints.</summary>
    public ImmutableArray<PluginDependency> Dependencies => PluginDependency.ParseAll(Metadata.Dependencies);

    /// <summary>Creates a fresh instance.</summary>
    public IPlugin CreateInstance() => (IPlugin)Activator.CreateInstance(PluginType)!;
}
