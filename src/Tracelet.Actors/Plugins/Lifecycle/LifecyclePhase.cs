namespace Tracelet.Actors.Plugins.Lifecycle;

/// <summary>
/// What a plugin's instance is doing right now. Not persisted: after a restart every plugin is
/// <see cref="Idle"/> and the journal's desired state says what to bring back. While a phase is
/// <see cref="IsBusy"/>, the manager waits for the instance's answer before it begins other work.
/// </summary>
public abstract record LifecyclePhase
{
    /// <summary>Waiting for the plugin's actor to answer a call.</summary>
    public virtual bool IsBusy => false;

    /// <summary>No instance: the journal's state (discovered, loaded, validated, stopped, error) is all there is.</summary>
    public sealed record Idle : LifecyclePhase
    {
        /// <summary>The single instance.</summary>
        public static Idle Instance { get; } = new();

        private Idle() { }
    }

    /// <summary>An instance was created and is running InitializeAsync.</summary>
    /// <param name="Incarnation">The instance's number: answers from other incarnations are ignored.</param>
    /// <param name="ThenStart">Go on to StartAsync once initialized (start), or stay initialized (initialize).</param>
    /// <param name="Start">What the start is for, when <paramref name="ThenStart"/>.</param>
    public sealed record Initializing(int Incarnation, bool ThenStart, PendingStart Start) : LifecyclePhase
    {
        /// <inheritdoc />
        public override bool IsBusy => true;
    }

    /// <summary>Initialized, not started.</summary>
    public sealed record Initialized(int Incarnation) : LifecyclePhase;

    /// <summary>The instance is running StartAsync.</summary>
    public sealed record Starting(int Incarnation, PendingStart Start) : LifecyclePhase
    {
        /// <inheritdoc />
        public override bool IsBusy => true;
    }

    /// <summary>Started: collecting or taking deliveries.</summary>
    public sealed record Running(int Incarnation) : LifecyclePhase;

    /// <summary>The instance was asked to stop; <paramref name="Then"/> says what follows.</summary>
    public sealed record Stopping(int Incarnation, AfterStop Then) : LifecyclePhase
    {
        /// <inheritdoc />
        public override bool IsBusy => true;
    }

    /// <summary>Failed; the next attempt is scheduled (shown as <c>retrying</c>).</summary>
    public sealed record Waiting(DateTimeOffset NextAttemptAt, int Attempt, string LastError) : LifecyclePhase;
}

/// <summary>Why an instance is being started, carried until it is active or has failed.</summary>
/// <param name="By">Who wants it active: kept as the desired state's source.</param>
/// <param name="Restarts">The supervised-restart count to record once active (an operator restart starts again from 0).</param>
/// <param name="Upgrade">Set while starting a new version (or rolling back to the old one).</param>
public sealed record PendingStart(DesireSource By, int Restarts, UpgradeAttempt? Upgrade = null);

/// <summary>A hot swap in progress.</summary>
/// <param name="Previous">The version that ran before; started again if the candidate fails.</param>
/// <param name="Candidate">The new version.</param>
/// <param name="FailedWith">Set once the candidate failed and the previous version is being started again.</param>
public sealed record UpgradeAttempt(PluginDescriptor Previous, PluginDescriptor Candidate, string? FailedWith = null);

/// <summary>What follows a stop.</summary>
public abstract record AfterStop
{
    /// <summary>The plugin rests: Stopped is recorded and it stays stopped across node restarts.</summary>
    /// <param name="Note">Recorded with the transition (e.g. that a dependency was stopped).</param>
    public sealed record Rest(string? Note = null) : AfterStop;

    /// <summary>The node is going down: nothing is recorded, so the plugin comes back as it was.</summary>
    public sealed record Shutdown : AfterStop
    {
        /// <summary>The single instance.</summary>
        public static Shutdown Instance { get; } = new();

        private Shutdown() { }
    }

    /// <summary>An operator restart: a fresh instance follows.</summary>
    public sealed record Restart : AfterStop
    {
        /// <summary>The single instance.</summary>
        public static Restart Instance { get; } = new();

        private Restart() { }
    }

    /// <summary>A hot swap: the candidate's instance follows.</summary>
    public sealed record Upgrade(PluginDescriptor Candidate) : AfterStop;

    /// <summary>Whether a backend's producers drop what waits for it: only when it goes away for good.</summary>
    public bool Withdraws => this is Rest or Shutdown;
}

/// <summary>Who asked for a plugin to be active; only an operator's wish outlives the configuration.</summary>
public enum DesireSource
{
    /// <summary>A command (HTTP, CLI, API): kept until another command changes it.</summary>
    Operator = 0,

    /// <summary>A configuration file or role (<c>enabled = on</c>): dropped when the configuration no longer says so.</summary>
    Config = 1,
}
