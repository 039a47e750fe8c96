namespace Tracelet.Abstractions;

/// <summary>What the runtime hands a plugin at initialization.</summary>
/// <param name="NodeId">The stable id of the node the plugin runs on.</param>
/// <param name="DataDirectory">The node's data directory; a plugin may keep files in a sub-folder named after itself.</param>
/// <param name="Config">The plugin's validated configuration.</param>
public sealed record PluginContext(string NodeId, string DataDirectory, PluginConfig Config);
