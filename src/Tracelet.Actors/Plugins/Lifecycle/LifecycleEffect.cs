using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins.Lifecycle;

/// <summary>What the manager must do for a decision, in order.</summary>
public abstract record LifecycleEffect
{
    /// <summary>Record a transition in the journal.</summary>
    /// <param name="To">The new state.</param>
    /// <param name="WantActive">Whether the node brings the plugin back to Active after a restart.</param>
    /// <param name="Error">The error, for Error (or a note, for Stopped).</param>
    /// <param name="Restarts">Supervised restarts so far.</param>
    /// <param name="DesiredBy">Who asked for the desired state, when this transition sets it.</param>
    public sealed record Persist(PluginState To, bool WantActive, string? Error, int Restarts, DesireSource? DesiredBy = null) : LifecycleEffect;

    /// <summary>Create the plugin's actor for <paramref name="Descriptor"/> (it initializes the plugin).</summary>
    public sealed record Spawn(PluginDescriptor Descriptor, int Incarnation) : LifecycleEffect;

    /// <summary>Ask the instance to call StartAsync.</summary>
    public sealed record TellStart(int Incarnation) : LifecycleEffect;

    /// <summary>Ask the instance to stop; <paramref name="Withdraw"/>: a backend's producers drop what waits for it.</summary>
    public sealed record TellStop(int Incarnation, bool Withdraw) : LifecycleEffect;

    /// <summary>Stop the instance's actor without waiting for the plugin (it did not answer in time).</summary>
    public sealed record Kill(int Incarnation) : LifecycleEffect;

    /// <summary>Schedule <see cref="LifecycleInput.RetryDue"/> after <paramref name="Delay"/>.</summary>
    public sealed record ScheduleRetry(TimeSpan Delay) : LifecycleEffect;

    /// <summary>Cancel a scheduled retry.</summary>
    public sealed record CancelRetry : LifecycleEffect
    {
        /// <summary>The single instance.</summary>
        public static CancelRetry Instance { get; } = new();

        private CancelRetry() { }
    }

    /// <summary>The request this input answered is finished (success or failure); the manager replies and goes on.</summary>
    public sealed record Done(bool Succeeded, PluginState State, string? Reason = null, string? Detail = null) : LifecycleEffect;

    /// <summary>The upgrade went through: the candidate is now the plugin's version.</summary>
    public sealed record Commit(PluginDescriptor Candidate) : LifecycleEffect;

    /// <summary>No instance uses this version any more: its load context may be unloaded.</summary>
    public sealed record Release(PluginDescriptor Unused) : LifecycleEffect;
}
