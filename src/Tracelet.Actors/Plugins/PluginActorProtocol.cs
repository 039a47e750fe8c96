using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

// Messages between the PluginManager and its plugin actors. Every message from a plugin actor
// carries the incarnation it belongs to, so the manager can ignore a stopping predecessor.

/// <summary>Manager → plugin actor: call StartAsync.</summary>
internal sealed record StartInstance
{
    public static StartInstance Instance { get; } = new();

    private StartInstance() { }
}

/// <summary>
/// Manager → plugin actor: call StopAsync (after any call in flight) and stop. <paramref name="Withdraw"/>:
/// the plugin is going away (an operator stop, node shutdown), so a backend's producers drop what waits for
/// it (durable links keep it). Otherwise (restart, upgrade) a backend's links only pause: producers keep
/// their buffers and deliver to the next incarnation.
/// </summary>
internal sealed record StopInstance(bool Withdraw)
{
    /// <summary>The plugin goes away for good.</summary>
    public static StopInstance Withdrawing { get; } = new(true);

    /// <summary>Another instance of the plugin follows (restart, upgrade).</summary>
    public static StopInstance Pausing { get; } = new(false);
}

/// <summary>Plugin actor → manager: InitializeAsync returned.</summary>
internal sealed record InstanceInitialized(string Name, int Incarnation);

/// <summary>Plugin actor → manager: StartAsync returned; the plugin is working.</summary>
internal sealed record InstanceStarted(string Name, int Incarnation);

/// <summary>Plugin actor → manager: StopAsync returned (or threw: <paramref name="Error"/>); the actor is stopping.</summary>
internal sealed record InstanceStopped(string Name, int Incarnation, string? Error);

/// <summary>Plugin actor → manager: a plugin call threw; the actor stops the plugin and itself.</summary>
/// <param name="Phase">initialize, start, collect or write.</param>
/// <param name="Permanent">Retrying cannot help (missing native library, <see cref="PluginPermanentException"/>).</param>
internal sealed record InstanceFailed(string Name, int Incarnation, string Phase, string Error, bool Permanent);

/// <summary>Plugin actor → manager: the plugin's own status and the actor's counters, after each call.</summary>
internal sealed record InstanceStatus(string Name, int Incarnation, IReadOnlyDictionary<string, object?> Status, PluginRuntime Runtime);
