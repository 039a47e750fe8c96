using System.Collections.Immutable;
using Tracelet.Abstractions;
using static Tracelet.Actors.Plugins.Lifecycle.LifecycleEffect;
using In = Tracelet.Actors.Plugins.Lifecycle.LifecycleInput;
using Phase = Tracelet.Actors.Plugins.Lifecycle.LifecyclePhase;

namespace Tracelet.Actors.Plugins.Lifecycle;

/// <summary>One plugin as the lifecycle sees it: what the journal says, what its instance is doing, its recent failures and the version it runs.</summary>
public sealed record PluginLifecycleState(PluginRecord Record, LifecyclePhase Phase, SupervisionWindow Window, PluginDescriptor Descriptor)
{
    /// <summary>A plugin with no instance.</summary>
    public static PluginLifecycleState Idle(PluginRecord record, PluginDescriptor descriptor) =>
        new(record, LifecyclePhase.Idle.Instance, SupervisionWindow.Empty, descriptor);
}

/// <summary>What a decision needs besides the state: the clock, the restart policy, the next incarnation number and a jitter sample.</summary>
/// <param name="Jitter">A random number in [0, 1) for the backoff's jitter.</param>
public sealed record LifecycleContext(DateTimeOffset Now, SupervisionSettings Supervision, int NextIncarnation, double Jitter);

/// <summary>The state after an input and what to do about it.</summary>
public sealed record LifecycleDecision(PluginLifecycleState State, ImmutableArray<LifecycleEffect> Effects);

/// <summary>
/// The plugin lifecycle as one pure function: <c>Decide(state, input) → (state, effects)</c>. The manager
/// actor persists the <see cref="Persist"/> effects and runs the others; nothing here touches an actor, so
/// every transition is tested without an ActorSystem. The table (docs/architecture.md has it too):
/// <code>
/// phase            input                     → phase              effects
/// Idle             Load / Validate           Idle                 persist Loaded / Validated, or Error
/// Idle, Waiting    Start (ok)                Initializing(start)  persist earlier steps, spawn
/// Idle, Waiting    Start (blocked, lasting)  Idle                 persist Error
/// Idle, Waiting    Start (blocked, for now)  Waiting | Idle       counted as a failure: retry with backoff, or give up
/// Idle             Initialize                Initializing         spawn
/// Initialized      Start                     Starting             tell start
/// Running          Start                     Running              (already active)
/// Initializing     Initialized               Starting | Initialized  persist Initialized (tell start)
/// Starting         Started                   Running              persist Active (upgrade: commit or roll back done)
/// Initializing, Starting, Running
///                  Failed / TimedOut / Terminated
///                                            Waiting | Idle       permanent → Error; budget left → retry; else gave up
///                                                                 (an upgrade's candidate failing → start the previous version)
/// Running, Initialized  Stop(then)           Stopping(then)       tell stop (withdraw only when it rests or the node stops)
/// Waiting          Stop                      Idle                 cancel retry, persist Stopped
/// Stopping         Stopped / Failed / TimedOut
///                                            Idle | Initializing  rest → persist Stopped; restart/upgrade → spawn
/// Running          Restart                   Stopping(restart)    clear the window
/// Idle, Waiting    Restart                   Initializing(start)  clear the window, cancel retry, spawn
/// Running          Upgrade                   Stopping(upgrade)    (refused when the candidate is blocked)
/// Waiting          RetryDue                  as Start
/// </code>
/// A persisted desired state changes only on requests (start, stop, restart), never on failures: a
/// plugin that failed or gave up is tried again at the next node start.
/// </summary>
public static class PluginLifecycle
{
    /// <summary>Decides what <paramref name="input"/> does to <paramref name="s"/>.</summary>
    public static LifecycleDecision Decide(PluginLifecycleState s, LifecycleInput input, LifecycleContext c) => (s.Phase, input) switch
    {
        // Instance answers from another incarnation (a stopping predecessor) change nothing.
        (_, In.Initialized i) when !Current(s, i.Incarnation) => Same(s),
        (_, In.Started i) when !Current(s, i.Incarnation) => Same(s),
        (_, In.Stopped i) when !Current(s, i.Incarnation) => Same(s),
        (_, In.Failed i) when !Current(s, i.Incarnation) => Same(s),
        (_, In.Terminated i) when !Current(s, i.Incarnation) => Same(s),
        (_, In.TimedOut i) when !Current(s, i.Incarnation) => Same(s),

        // ---------------------------------------------------------------- the seed's synchronous steps
        (_, In.Load l) => Load(s, l),
        (_, In.Validate v) => Validate(s, v),

        // ---------------------------------------------------------------- initialize
        (Phase.Running, In.Initialize) => Refuse(s, $"plugin '{s.Descriptor.Name}' is active; stop it before initializing it again"),
        (Phase.Idle or Phase.Waiting or Phase.Initialized, In.Initialize i) when i.Blocker is { } b => Blocked(s, c, b, new PendingStart(s.Record.DesiredBy, s.Record.Restarts), startWanted: false),
        (Phase.Idle or Phase.Waiting or Phase.Initialized, In.Initialize) => Spawn(s, c, thenStart: false, new PendingStart(s.Record.DesiredBy, s.Record.Restarts), KillCurrent(s)),

        // ---------------------------------------------------------------- start (and its retries)
        (Phase.Running, In.Start) => Then(s, s.Phase, Done(s, PluginState.Active)),
        (Phase.Initialized p, In.Start st) when st.Blocker is null =>
            Then(s, new Phase.Starting(p.Incarnation, new PendingStart(st.By, s.Record.Restarts)), new TellStart(p.Incarnation)),
        (Phase.Idle or Phase.Waiting or Phase.Initialized, In.Start st) when st.Blocker is { } b => Blocked(s, c, b, new PendingStart(st.By, s.Record.Restarts), startWanted: true),
        (Phase.Idle or Phase.Waiting, In.Start st) => Spawn(s, c, thenStart: true, new PendingStart(st.By, s.Record.Restarts)),
        (Phase.Waiting, In.RetryDue r) when r.Blocker is { } b => Blocked(s, c, b, new PendingStart(s.Record.DesiredBy, s.Record.Restarts), startWanted: true),
        (Phase.Waiting, In.RetryDue) => Spawn(s, c, thenStart: true, new PendingStart(s.Record.DesiredBy, s.Record.Restarts)),
        (_, In.RetryDue) => Same(s), // stopped or restarted meanwhile

        (Phase.Initializing p, In.Initialized) when p.ThenStart => Then(s, new Phase.Starting(p.Incarnation, p.Start),
            new Persist(PluginState.Initialized, true, null, p.Start.Restarts, p.Start.By), new TellStart(p.Incarnation)),
        (Phase.Initializing p, In.Initialized) => Then(s, new Phase.Initialized(p.Incarnation),
            new Persist(PluginState.Initialized, s.Record.WantActive, null, s.Record.Restarts), Done(s, PluginState.Initialized)),
        (Phase.Starting p, In.Started) => Active(s, p),

        // ---------------------------------------------------------------- failures
        (Phase.Initializing or Phase.Starting or Phase.Running or Phase.Initialized, In.Failed f) => Failure(s, c, f.Error, f.Permanent),
        (Phase.Initializing or Phase.Starting or Phase.Running or Phase.Initialized, In.Terminated or In.Stopped) =>
            Failure(s, c, "the plugin's actor stopped unexpectedly", permanent: false),
        (Phase.Initializing or Phase.Starting, In.TimedOut t) => Failure(s, c, $"{(s.Phase is Phase.Starting ? "start" : "initialize")} did not finish within {Seconds(t.Timeout)}s",
            permanent: false, new Kill(t.Incarnation)),

        // ---------------------------------------------------------------- stop
        (Phase.Running p, In.Stop st) => Then(s, new Phase.Stopping(p.Incarnation, st.Then), new TellStop(p.Incarnation, st.Then.Withdraws)),
        (Phase.Initialized p, In.Stop st) => Then(s, new Phase.Stopping(p.Incarnation, st.Then), new TellStop(p.Incarnation, st.Then.Withdraws)),
        (Phase.Idle or Phase.Waiting, In.Stop st) => StopIdle(s, st.Then),
        (Phase.Stopping p, In.Stopped st) => AfterStopped(s, c, p.Then, st.Error is null ? null : $"stopped, but stop threw: {st.Error}"),
        (Phase.Stopping p, In.Failed f) => AfterStopped(s, c, p.Then, null), // it failed while being stopped: what was asked has happened
        (Phase.Stopping p, In.Terminated) => AfterStopped(s, c, p.Then, null),
        (Phase.Stopping p, In.TimedOut t) => AfterStopped(s, c, p.Then, $"stop did not finish within {Seconds(t.Timeout)}s", new Kill(t.Incarnation)),

        // ---------------------------------------------------------------- restart
        (Phase.Running or Phase.Initialized, In.Restart r) when r.Blocker is { Permanent: true } b => Refuse(s, b.Reason),
        (Phase.Running p, In.Restart) => Then(s with { Window = SupervisionWindow.Empty }, new Phase.Stopping(p.Incarnation, AfterStop.Restart.Instance),
            new TellStop(p.Incarnation, Withdraw: false)),
        (Phase.Initialized p, In.Restart) => Then(s with { Window = SupervisionWindow.Empty }, new Phase.Stopping(p.Incarnation, AfterStop.Restart.Instance),
            new TellStop(p.Incarnation, Withdraw: false)),
        (Phase.Idle or Phase.Waiting, In.Restart r) when r.Blocker is { } b =>
            Blocked(s with { Window = SupervisionWindow.Empty }, c, b, new PendingStart(DesireSource.Operator, 0), startWanted: true, CancelRetry.Instance),
        (Phase.Idle or Phase.Waiting, In.Restart) =>
            Spawn(s with { Window = SupervisionWindow.Empty }, c, thenStart: true, new PendingStart(DesireSource.Operator, 0), CancelRetry.Instance),

        // ---------------------------------------------------------------- upgrade (hot swap)
        (_, In.Upgrade u) when u.Blocker is { } b => Then(s, s.Phase, new Release(u.Candidate),
            new Done(false, s.Record.State, $"upgrade to {u.Candidate.Metadata.Version} refused: {b.Reason}; {s.Descriptor.Metadata.Version} keeps running")),
        (Phase.Running p, In.Upgrade u) => Then(s, new Phase.Stopping(p.Incarnation, new AfterStop.Upgrade(u.Candidate)), new TellStop(p.Incarnation, Withdraw: false)),
        (Phase.Idle or Phase.Waiting, In.Upgrade u) => Then(s with { Descriptor = u.Candidate }, s.Phase, new Commit(u.Candidate), new Release(s.Descriptor),
            Done(s, s.Record.State, $"upgraded {s.Descriptor.Metadata.Version} -> {u.Candidate.Metadata.Version} (not running: takes effect at its next start)")),

        // Requests that cannot be served in this phase never reach here (the manager waits while a
        // phase is busy); anything else is answered rather than lost.
        (_, In.Start or In.Stop or In.Restart or In.Initialize or In.Upgrade) => Refuse(s, $"plugin '{s.Descriptor.Name}' is busy ({Describe(s.Phase)}); try again"),
        _ => Same(s),
    };

    private static bool Current(PluginLifecycleState s, int incarnation) => s.Phase switch
    {
        Phase.Initializing p => p.Incarnation == incarnation,
        Phase.Initialized p => p.Incarnation == incarnation,
        Phase.Starting p => p.Incarnation == incarnation,
        Phase.Running p => p.Incarnation == incarnation,
        Phase.Stopping p => p.Incarnation == incarnation,
        _ => false,
    };

    private static LifecycleDecision Load(PluginLifecycleState s, In.Load l)
    {
        if (s.Record.State != PluginState.Discovered) return Then(s, s.Phase, Done(s, s.Record.State));
        if (l.Problem is { } problem) return Then(s, s.Phase, new Persist(PluginState.Error, s.Record.WantActive, problem, s.Record.Restarts), new Done(false, PluginState.Error, problem));
        return Then(s, s.Phase, new Persist(PluginState.Loaded, s.Record.WantActive, null, s.Record.Restarts), Done(s, PluginState.Loaded));
    }

    private static LifecycleDecision Validate(PluginLifecycleState s, In.Validate v)
    {
        // Validating an initialized or active plugin must not knock it back.
        if (s.Phase is not Phase.Idle || s.Record.State is PluginState.Initialized or PluginState.Active) return Then(s, s.Phase, Done(s, s.Record.State));
        if (v.Blocker is { } b) return Then(s, s.Phase, new Persist(PluginState.Error, s.Record.WantActive, b.Reason, s.Record.Restarts), new Done(false, PluginState.Error, b.Reason));
        var steps = EarlierSteps(s.Record);
        if (steps.IsEmpty) return Then(s, s.Phase, Done(s, s.Record.State)); // Stopped and Error keep their state: start or restart moves them
        return Then(s, s.Phase, [.. steps, Done(s, PluginState.Validated)]);
    }

    /// <summary>Discovered → Loaded → Validated, as far as the record still needs: initialize and start run the earlier steps.</summary>
    private static ImmutableArray<LifecycleEffect> EarlierSteps(PluginRecord r) => r.State switch
    {
        PluginState.Discovered => [new Persist(PluginState.Loaded, r.WantActive, null, r.Restarts), new Persist(PluginState.Validated, r.WantActive, null, r.Restarts)],
        PluginState.Loaded => [new Persist(PluginState.Validated, r.WantActive, null, r.Restarts)],
        _ => [],
    };

    private static LifecycleDecision Spawn(PluginLifecycleState s, LifecycleContext c, bool thenStart, PendingStart start, params LifecycleEffect[] first)
    {
        var incarnation = c.NextIncarnation;
        var descriptor = start.Upgrade is { FailedWith: null } u ? u.Candidate : start.Upgrade?.Previous ?? s.Descriptor;
        var cancel = s.Phase is Phase.Waiting && !first.Contains(CancelRetry.Instance) ? [CancelRetry.Instance] : Array.Empty<LifecycleEffect>();
        return Then(s with { Descriptor = descriptor }, new Phase.Initializing(incarnation, thenStart, start),
            [.. first, .. cancel, .. EarlierSteps(s.Record), new Spawn(descriptor, incarnation)]);
    }

    private static LifecycleEffect[] KillCurrent(PluginLifecycleState s) =>
        s.Phase is Phase.Initialized p ? [new Kill(p.Incarnation)] : [];

    private static LifecycleDecision Active(PluginLifecycleState s, Phase.Starting p)
    {
        var persist = new Persist(PluginState.Active, true, null, p.Start.Restarts, p.Start.By);
        var running = new Phase.Running(p.Incarnation);
        return p.Start.Upgrade switch
        {
            { FailedWith: null } u => Then(s, running, persist, new Commit(u.Candidate), new Release(u.Previous),
                new Done(true, PluginState.Active, Detail: $"upgraded {u.Previous.Metadata.Version} -> {u.Candidate.Metadata.Version}")),
            { } u => Then(s, running, persist, new Release(u.Candidate),
                new Done(false, PluginState.Active, $"upgrade to {u.Candidate.Metadata.Version} failed: {u.FailedWith}; rolled back to {u.Previous.Metadata.Version}, which is active")),
            null => Then(s, running, persist, new Done(true, PluginState.Active)),
        };
    }

    /// <summary>A start that cannot go ahead: a lasting reason is an error at once; a passing one counts as a failed attempt.</summary>
    private static LifecycleDecision Blocked(PluginLifecycleState s, LifecycleContext c, Blocker b, PendingStart start, bool startWanted, params LifecycleEffect[] before)
    {
        var want = startWanted || s.Record.WantActive;
        LifecycleEffect[] first = [.. before, .. KillCurrent(s)];
        if (b.Permanent)
            return Then(s with { Phase = Phase.Idle.Instance }, Phase.Idle.Instance,
                [.. first, new Persist(PluginState.Error, want, b.Reason, start.Restarts, startWanted ? start.By : null), new Done(false, PluginState.Error, b.Reason)]);
        return Retry(s, start, b.Reason, first, c);
    }

    private static LifecycleDecision Failure(PluginLifecycleState s, LifecycleContext c, string error, bool permanent, params LifecycleEffect[] first)
    {
        var (start, startWanted) = s.Phase switch
        {
            Phase.Initializing p => (p.Start, p.ThenStart),
            Phase.Starting p => (p.Start, true),
            _ => (new PendingStart(s.Record.DesiredBy, s.Record.Restarts), s.Phase is Phase.Running),
        };
        // The candidate of an upgrade failed: bring the previous version back instead of retrying the candidate.
        if (start.Upgrade is { FailedWith: null } u)
            return Spawn(s, c, thenStart: true, start with { Upgrade = u with { FailedWith = error } }, first);
        var release = start.Upgrade is { } failed ? new LifecycleEffect[] { new Release(failed.Candidate) } : [];
        var rollbackNote = start.Upgrade is { } r ? $"upgrade to {r.Candidate.Metadata.Version} failed: {r.FailedWith}; rolling back to {r.Previous.Metadata.Version} failed too: " : "";
        LifecycleEffect[] before = [.. first, .. release];
        if (!startWanted)
        {
            // Initialize alone failed: nothing wanted it running, so nothing retries it.
            return Then(s, Phase.Idle.Instance, [.. before, new Persist(PluginState.Error, s.Record.WantActive, rollbackNote + error, s.Record.Restarts),
                new Done(false, PluginState.Error, rollbackNote + error)]);
        }
        if (permanent)
        {
            var text = $"{rollbackNote}{error} (permanent fault: not restarted)";
            return Then(s, Phase.Idle.Instance, [.. before, new Persist(PluginState.Error, true, text, s.Record.Restarts, start.By), new Done(false, PluginState.Error, text)]);
        }
        return Retry(s, start with { Upgrade = null }, rollbackNote + error, before, c);
    }

    /// <summary>Counts a failed attempt in the window: retry after the backoff, or give up when the budget is spent.</summary>
    private static LifecycleDecision Retry(PluginLifecycleState s, PendingStart start, string error, LifecycleEffect[] first, LifecycleContext c)
    {
        var now = c.Now;
        var supervision = c.Supervision;
        var window = s.Window.Add(now, supervision.Within);
        var state = s with { Window = window };
        if (window.GivesUp(supervision))
        {
            var text = $"gave up after {supervision.MaxRestarts} restarts within {Seconds(supervision.Within)}s; last error: {error}";
            return Then(state, Phase.Idle.Instance, [.. first, new Persist(PluginState.Error, true, text, s.Record.Restarts, start.By), new Done(false, PluginState.Error, text)]);
        }
        var delay = RestartBackoff.Delay(supervision, window.Count, c.Jitter);
        var restarts = s.Record.Restarts + 1;
        var note = $"restarting in {delay.TotalSeconds:0.##}s after: {error}";
        return Then(state, new Phase.Waiting(now + delay, window.Count, error),
            [.. first, new Persist(PluginState.Error, true, note, restarts, start.By), new ScheduleRetry(delay), new Done(false, PluginState.Error, note)]);
    }

    private static LifecycleDecision StopIdle(PluginLifecycleState s, AfterStop then)
    {
        var cancel = s.Phase is Phase.Waiting ? new LifecycleEffect[] { CancelRetry.Instance } : [];
        if (then is AfterStop.Shutdown) return Then(s, Phase.Idle.Instance, [.. cancel, Done(s, s.Record.State)]);
        if (s.Record.State is PluginState.Stopped or PluginState.Discovered && s.Phase is Phase.Idle && !s.Record.WantActive)
            return Then(s, s.Phase, Done(s, s.Record.State));
        var note = then is AfterStop.Rest r ? r.Note : null;
        return Then(s, Phase.Idle.Instance, [.. cancel, new Persist(PluginState.Stopped, false, note, s.Record.Restarts, DesireSource.Operator), Done(s, PluginState.Stopped)]);
    }

    private static LifecycleDecision AfterStopped(PluginLifecycleState s, LifecycleContext c, AfterStop then, string? error, params LifecycleEffect[] first)
    {
        var idle = s with { Phase = Phase.Idle.Instance };
        return then switch
        {
            AfterStop.Shutdown => Then(idle, Phase.Idle.Instance, [.. first, Done(s, s.Record.State)]),
            AfterStop.Rest r => Then(idle, Phase.Idle.Instance,
                [.. first, new Persist(PluginState.Stopped, false, error ?? r.Note, s.Record.Restarts, DesireSource.Operator), Done(s, PluginState.Stopped)]),
            AfterStop.Restart => Spawn(idle, c, thenStart: true, new PendingStart(DesireSource.Operator, 0), first),
            AfterStop.Upgrade u => Spawn(idle, c, thenStart: true, new PendingStart(s.Record.DesiredBy, s.Record.Restarts, new UpgradeAttempt(s.Descriptor, u.Candidate)), first),
            _ => Same(s),
        };
    }

    private static LifecycleDecision Refuse(PluginLifecycleState s, string reason) => Then(s, s.Phase, new Done(false, s.Record.State, reason));

    private static Done Done(PluginLifecycleState s, PluginState state, string? detail = null) => new(true, state, Detail: detail);

    private static LifecycleDecision Same(PluginLifecycleState s) => new(s, []);

    private static LifecycleDecision Then(PluginLifecycleState s, LifecyclePhase phase, params LifecycleEffect[] effects) =>
        new(s with { Phase = phase }, [.. effects]);

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    private static string Describe(LifecyclePhase phase) => phase switch
    {
        Phase.Initializing => "initializing",
        Phase.Starting => "starting",
        Phase.Stopping => "stopping",
        _ => phase.GetType().Name.ToLowerInvariant(),
    };
}
