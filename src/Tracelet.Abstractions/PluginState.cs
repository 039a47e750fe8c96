namespace Tracelet.Abstractions;

/// <summary>
/// A plugin's lifecycle state. The numbers are the Python Tracelet's and are persisted in the
/// journal: never renumber them. Unlike the Python code, the runtime never compares states
/// numerically; every transition goes through an explicit table.
/// </summary>
public enum PluginState
{
    /// <summary>Found by discovery; its metadata has been read.</summary>
    Discovered = 1,

    /// <summary>Its type has been resolved and can be instantiated.</summary>
    Loaded = 2,

    /// <summary>Its metadata, schema and dependencies have been checked.</summary>
    Validated = 3,

    /// <summary>An instance exists and has accepted its configuration.</summary>
    Initialized = 4,

    /// <summary>Running: collecting or receiving samples.</summary>
    Active = 5,

    /// <summary>Failed; the error says why. Stays until an operator restarts it.</summary>
    Error = 6,

    /// <summary>Stopped by an operator; stays stopped across node restarts.</summary>
    Stopped = 7,
}
