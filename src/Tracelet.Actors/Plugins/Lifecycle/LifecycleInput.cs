namespace Tracelet.Actors.Plugins.Lifecycle;

/// <summary>Something that happens to one plugin: an operator's (or the boot's) request, or its instance's answer.</summary>
public abstract record LifecycleInput
{
    // ------------------------------------------------------------ requests

    /// <summary>Resolve the plugin's type (Discovered → Loaded).</summary>
    /// <param name="Problem">Why it cannot be loaded, checked by the manager.</param>
    public sealed record Load(string? Problem) : LifecycleInput;

    /// <summary>Check metadata, schema and dependencies (→ Validated).</summary>
    public sealed record Validate(Blocker? Blocker) : LifecycleInput;

    /// <summary>Create and initialize an instance without starting it.</summary>
    public sealed record Initialize(Blocker? Blocker) : LifecycleInput;

    /// <summary>Bring the plugin to Active (running earlier steps as needed).</summary>
    /// <param name="Blocker">Why it cannot start now, if anything.</param>
    /// <param name="By">Who wants it.</param>
    public sealed record Start(Blocker? Blocker, DesireSource By) : LifecycleInput;

    /// <summary>Stop the instance; <paramref name="Then"/> says what follows.</summary>
    public sealed record Stop(AfterStop Then) : LifecycleInput;

    /// <summary>An operator restart: clears the error and the supervision window, then starts a fresh instance.</summary>
    public sealed record Restart(Blocker? Blocker) : LifecycleInput;

    /// <summary>Swap the running version for <paramref name="Candidate"/>.</summary>
    /// <param name="Blocker">Why the candidate cannot run (its config fails the new schema...).</param>
    public sealed record Upgrade(PluginDescriptor Candidate, Blocker? Blocker) : LifecycleInput;

    /// <summary>The scheduled retry is due.</summary>
    public sealed record RetryDue(Blocker? Blocker) : LifecycleInput;

    // ------------------------------------------------------------ the instance answers

    /// <summary>InitializeAsync returned.</summary>
    public sealed record Initialized(int Incarnation) : LifecycleInput;

    /// <summary>StartAsync returned.</summary>
    public sealed record Started(int Incarnation) : LifecycleInput;

    /// <summary>StopAsync returned (or threw: <paramref name="Error"/>); the actor is gone.</summary>
    public sealed record Stopped(int Incarnation, string? Error) : LifecycleInput;

    /// <summary>A plugin call threw; the actor released the plugin and is gone.</summary>
    public sealed record Failed(int Incarnation, string Error, bool Permanent) : LifecycleInput;

    /// <summary>The plugin's actor stopped without saying why.</summary>
    public sealed record Terminated(int Incarnation) : LifecycleInput;

    /// <summary>The call the manager was waiting for did not answer within the operation timeout.</summary>
    public sealed record TimedOut(int Incarnation, TimeSpan Timeout) : LifecycleInput;
}

/// <summary>Why a plugin cannot start (or validate) now.</summary>
/// <param name="Reason">In words an operator can act on.</param>
/// <param name="Permanent">Retrying cannot help (its config fails the schema, a dependency is missing); otherwise it may pass later (a dependency is not active yet).</param>
public sealed record Blocker(string Reason, bool Permanent);
