using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>A discovered plugin type: what it says about itself and where it came from.</summary>
/// <param name="Metadata">Read from a throw-away instance at discovery.</param>
/// <param name="PluginType">The CLR type; instantiated once per plugin actor incarnation.</param>
/// <param name="Origin">The assembly file (or "built-in: name") that provided it.</param>
public sealed record PluginDescriptor(PluginMetadata Metadata, Type PluginType, string Origin)
{
    /// <summary>The plugin's name.</summary>
    public string Name => Metadata.Name;

    /// <summary>Creates a fresh instance.</summary>
    public IPlugin CreateInstance() => (IPlugin)Activator.CreateInstance(PluginType)!;
}
