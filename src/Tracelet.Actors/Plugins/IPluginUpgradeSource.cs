namespace Tracelet.Actors.Plugins;

/// <summary>Where the PluginManager gets a new version of a folder plugin for a hot swap.</summary>
public interface IPluginUpgradeSource
{
    /// <summary>Loads the current file of <paramref name="current"/>'s assembly into a fresh load context.</summary>
    /// <returns>The new version's descriptor, or why there is none (file gone, same content, incompatible...).</returns>
    PluginUpgradeLoad LoadUpgrade(PluginDescriptor current);

    /// <summary>The candidate now runs: discovery treats its file as the known version.</summary>
    void Commit(PluginDescriptor candidate);

    /// <summary>No instance uses this version any more: its load context may be unloaded.</summary>
    void Release(PluginDescriptor unused);
}
