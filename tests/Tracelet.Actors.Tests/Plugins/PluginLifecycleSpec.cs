using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.Actors.Plugins.Lifecycle;
using Tracelet.TestPlugins;
using Xunit;
using Effect = Tracelet.Actors.Plugins.Lifecycle.LifecycleEffect;
using In = Tracelet.Actors.Plugins.Lifecycle.LifecycleInput;
using Phase = Tracelet.Actors.Plugins.Lifecycle.LifecyclePhase;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>
/// The lifecycle as a table: every transition of <see cref="PluginLifecycle.Decide"/>, without an
/// ActorSystem. Backoff here: 100 ms doubling to 1 s, no jitter, 3 restarts within 60 s.
/// </summary>
[Trait("Category", "Lifecycle")]
public sealed class PluginLifecycleSpec
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly SupervisionSettings Supervision = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), 0, 3, TimeSpan.FromSeconds(60));
    private static readonly PluginDescriptor V1 = Descriptor("1.0.0");
    private static readonly PluginDescriptor V2 = Descriptor("2.0.0");

    private static PluginDescriptor Descriptor(string version) =>
        new(new PluginMetadata("p", version, PluginType.Collector), typeof(CountingCollector), "test");

    private static LifecycleContext Context(int next = 7, DateTimeOffset? at = null) => new(at ?? Now, Supervision, next, 0);

    private static PluginLifecycleState State(LifecyclePhase phase, PluginState state = PluginState.Validated, bool want = false, int restarts = 0) =>
        new(PluginRecord.New("p") with { State = state, WantActive = want, Restarts = restarts }, phase, SupervisionWindow.Empty, V1);

    private static LifecycleDecision Decide(PluginLifecycleState s, LifecycleInput input, LifecycleContext? c = null) => PluginLifecycle.Decide(s, input, c ?? Context());

    /// <summary>Applies the decision's Persist effects to the record, as the actor does.</summary>
    private static PluginLifecycleState Persisted(LifecycleDecision d)
    {
        var record = d.State.Record;
        foreach (var p in d.Effects.OfType<Effect.Persist>())
            record = record with { State = p.To, WantActive = p.WantActive, Error = p.Error, Restarts = p.Restarts, DesiredBy = p.DesiredBy ?? record.DesiredBy };
        return d.State with { Record = record };
    }

    private static Blocker Lasting(string why) => new(why, Permanent: true);

    // ------------------------------------------------------------ the seed's steps

    [Fact]
    public void Load_and_validate_move_a_discovered_plugin_forward_and_never_knock_an_active_one_back()
    {
        var load = Decide(State(Phase.Idle.Instance, PluginState.Discovered), new In.Load(null));
        Assert.Equal([new Effect.Persist(PluginState.Loaded, false, null, 0), new Effect.Done(true, PluginState.Loaded)], load.Effects.ToArray());

        var validate = Decide(State(Phase.Idle.Instance, PluginState.Discovered), new In.Validate(null));
        Assert.Equal([PluginState.Loaded, PluginState.Validated], validate.Effects.OfType<Effect.Persist>().Select(p => p.To));

        var active = Decide(State(new Phase.Running(3), PluginState.Active, want: true), new In.Validate(Lasting("schema broke")));
        Assert.Equal([new Effect.Done(true, PluginState.Active)], active.Effects.ToArray());
    }

    [Fact]
    public void A_validation_problem_is_an_error_naming_it()
    {
        var d = Decide(State(Phase.Idle.Instance, PluginState.Loaded), new In.Validate(Lasting("config: /port must be an integer")));
        Assert.Equal([new Effect.Persist(PluginState.Error, false, "config: /port must be an integer", 0), new Effect.Done(false, PluginState.Error, "config: /port must be an integer")], d.Effects.ToArray());
    }

    // ------------------------------------------------------------ start

    [Fact]
    public void Start_runs_the_earlier_steps_spawns_initializes_then_starts_and_records_who_wanted_it()
    {
        var d = Decide(State(Phase.Idle.Instance, PluginState.Discovered), new In.Start(null, DesireSource.Config));
        Assert.Equal(new Phase.Initializing(7, true, new PendingStart(DesireSource.Config, 0)), d.State.Phase);
        Assert.Equal([new Effect.Persist(PluginState.Loaded, false, null, 0), new Effect.Persist(PluginState.Validated, false, null, 0), new Effect.Spawn(V1, 7)], d.Effects.ToArray());
        Assert.True(d.State.Phase.IsBusy);

        var initialized = Decide(Persisted(d), new In.Initialized(7));
        Assert.Equal(new Phase.Starting(7, new PendingStart(DesireSource.Config, 0)), initialized.State.Phase);
        Assert.Equal([new Effect.Persist(PluginState.Initialized, true, null, 0, DesireSource.Config), new Effect.TellStart(7)], initialized.Effects.ToArray());

        var started = Decide(Persisted(initialized), new In.Started(7));
        Assert.Equal(new Phase.Running(7), started.State.Phase);
        Assert.Equal([new Effect.Persist(PluginState.Active, true, null, 0, DesireSource.Config), new Effect.Done(true, PluginState.Active)], started.Effects.ToArray());
    }

    [Fact]
    public void Initialize_alone_leaves_an_instance_that_start_then_starts()
    {
        var d = Decide(State(Phase.Idle.Instance), new In.Initialize(null));
        var initialized = Decide(Persisted(d), new In.Initialized(7));
        Assert.Equal(new Phase.Initialized(7), initialized.State.Phase);
        Assert.Contains(new Effect.Done(true, PluginState.Initialized), initialized.Effects.ToArray());

        var start = Decide(Persisted(initialized), new In.Start(null, DesireSource.Operator));
        Assert.Equal([new Effect.TellStart(7)], start.Effects.ToArray());
        Assert.IsType<Phase.Starting>(start.State.Phase);
    }

    [Fact]
    public void Starting_an_active_plugin_changes_nothing_and_initializing_it_is_refused()
    {
        var running = State(new Phase.Running(3), PluginState.Active, want: true);
        Assert.Equal([new Effect.Done(true, PluginState.Active)], Decide(running, new In.Start(null, DesireSource.Operator)).Effects.ToArray());
        var init = Decide(running, new In.Initialize(null));
        Assert.Equal([new Effect.Done(false, PluginState.Active, "plugin 'p' is active; stop it before initializing it again")], init.Effects.ToArray());
        Assert.Equal(running.Phase, init.State.Phase);
    }

    [Fact]
    public void Answers_from_another_incarnation_are_ignored()
    {
        var s = State(new Phase.Starting(7, new PendingStart(DesireSource.Operator, 0)));
        Assert.Empty(Decide(s, new In.Failed(6, "stale", false)).Effects);
        Assert.Empty(Decide(s, new In.Started(6)).Effects);
        Assert.Equal(s, Decide(s, new In.Stopped(6, null)).State);
    }

    // ------------------------------------------------------------ failures and retries

    [Fact]
    public void A_failed_start_is_retried_with_backoff_and_the_desired_state_stays_active()
    {
        var s = State(new Phase.Starting(7, new PendingStart(DesireSource.Operator, 0)));
        var d = Decide(s, new In.Failed(7, "start failed: database not up", false));
        Assert.Equal(new Phase.Waiting(Now.AddMilliseconds(100), 1, "start failed: database not up"), d.State.Phase);
        Assert.Equal(
        [
            new Effect.Persist(PluginState.Error, true, "restarting in 0.1s after: start failed: database not up", 1, DesireSource.Operator),
            new Effect.ScheduleRetry(TimeSpan.FromMilliseconds(100)),
            new Effect.Done(false, PluginState.Error, "restarting in 0.1s after: start failed: database not up"),
        ], d.Effects.ToArray());

        var retry = Decide(Persisted(d), new In.RetryDue(null), Context(next: 8));
        Assert.Equal(new Phase.Initializing(8, true, new PendingStart(DesireSource.Operator, 1)), retry.State.Phase);
        Assert.Equal([Effect.CancelRetry.Instance, new Effect.Spawn(V1, 8)], retry.Effects.ToArray());
    }

    [Fact]
    public void Backoff_doubles_and_the_plugin_is_given_up_on_after_max_restarts_within_the_window_still_wanted()
    {
        var s = State(new Phase.Running(1), PluginState.Active, want: true);
        var delays = new List<TimeSpan>();
        for (var i = 1; i <= 3; i++)
        {
            var failed = Persisted(Decide(s, new In.Failed(i, "collect failed: boom", false), Context(at: Now.AddSeconds(i))));
            delays.Add(((Phase.Waiting)failed.Phase).NextAttemptAt - Now.AddSeconds(i));
            var again = Persisted(Decide(failed, new In.RetryDue(null), Context(next: i + 1)));
            s = Persisted(Decide(Persisted(Decide(again, new In.Initialized(i + 1))), new In.Started(i + 1)));
            Assert.Equal((PluginState.Active, i), (s.Record.State, s.Record.Restarts));
        }
        Assert.Equal([TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400)], delays);

        var gaveUp = Decide(s, new In.Failed(4, "collect failed: boom", false), Context(at: Now.AddSeconds(4)));
        Assert.Equal(Phase.Idle.Instance, gaveUp.State.Phase);
        var persist = Assert.Single(gaveUp.Effects.OfType<Effect.Persist>());
        Assert.Equal(new Effect.Persist(PluginState.Error, true, "gave up after 3 restarts within 60s; last error: collect failed: boom", 3, DesireSource.Operator), persist);
        Assert.DoesNotContain(gaveUp.Effects, e => e is Effect.ScheduleRetry);
    }

    [Fact]
    public void Failures_older_than_the_window_fall_out_of_it()
    {
        var window = SupervisionWindow.Empty.Add(Now, TimeSpan.FromSeconds(60)).Add(Now.AddSeconds(30), TimeSpan.FromSeconds(60));
        Assert.Equal(2, window.Count);
        Assert.Equal(2, window.Add(Now.AddSeconds(61), TimeSpan.FromSeconds(60)).Count);
        Assert.True(window.Add(Now.AddSeconds(31), TimeSpan.FromSeconds(60)).Add(Now.AddSeconds(32), TimeSpan.FromSeconds(60)).GivesUp(Supervision));
    }

    [Fact]
    public void A_permanent_fault_is_an_error_at_once_without_retry()
    {
        var s = State(new Phase.Initializing(7, true, new PendingStart(DesireSource.Config, 0)));
        var d = Decide(s, new In.Failed(7, "initialize failed: DllNotFoundException: libnvidia-ml.so.1", Permanent: true));
        Assert.Equal(Phase.Idle.Instance, d.State.Phase);
        Assert.Equal(
        [
            new Effect.Persist(PluginState.Error, true, "initialize failed: DllNotFoundException: libnvidia-ml.so.1 (permanent fault: not restarted)", 0, DesireSource.Config),
            new Effect.Done(false, PluginState.Error, "initialize failed: DllNotFoundException: libnvidia-ml.so.1 (permanent fault: not restarted)"),
        ], d.Effects.ToArray());
    }

    [Fact]
    public void A_start_blocked_by_its_config_is_an_error_at_once_and_one_blocked_by_a_dependency_is_retried()
    {
        var lasting = Decide(State(Phase.Idle.Instance), new In.Start(Lasting("config: /port must be an integer"), DesireSource.Operator));
        Assert.Equal(new Effect.Persist(PluginState.Error, true, "config: /port must be an integer", 0, DesireSource.Operator), lasting.Effects[0]);
        Assert.DoesNotContain(lasting.Effects, e => e is Effect.ScheduleRetry or Effect.Spawn);

        var passing = Decide(State(Phase.Idle.Instance), new In.Start(new Blocker("dependency 'db' (retrying) is not active", false), DesireSource.Operator));
        Assert.IsType<Phase.Waiting>(passing.State.Phase);
        Assert.Contains(new Effect.ScheduleRetry(TimeSpan.FromMilliseconds(100)), passing.Effects.ToArray());
    }

    [Fact]
    public void A_call_that_does_not_answer_in_time_is_killed_and_counted_as_a_failure()
    {
        var d = Decide(State(new Phase.Starting(7, new PendingStart(DesireSource.Operator, 0))), new In.TimedOut(7, TimeSpan.FromSeconds(10)));
        Assert.Equal(new Effect.Kill(7), d.Effects[0]);
        Assert.Equal("restarting in 0.1s after: start did not finish within 10s", d.Effects.OfType<Effect.Persist>().Single().Error);
    }

    [Fact]
    public void An_actor_that_stops_without_a_word_is_a_failure()
    {
        var d = Decide(State(new Phase.Running(7), PluginState.Active, want: true), new In.Terminated(7));
        Assert.Equal("restarting in 0.1s after: the plugin's actor stopped unexpectedly", d.Effects.OfType<Effect.Persist>().Single().Error);
    }

    // ------------------------------------------------------------ stop

    [Fact]
    public void Stop_asks_the_instance_to_withdraw_then_records_stopped_not_wanted()
    {
        var s = State(new Phase.Running(7), PluginState.Active, want: true);
        var stop = Decide(s, new In.Stop(new AfterStop.Rest()));
        Assert.Equal([new Effect.TellStop(7, Withdraw: true)], stop.Effects.ToArray());
        var stopped = Decide(stop.State, new In.Stopped(7, null));
        Assert.Equal(Phase.Idle.Instance, stopped.State.Phase);
        Assert.Equal([new Effect.Persist(PluginState.Stopped, false, null, 0, DesireSource.Operator), new Effect.Done(true, PluginState.Stopped)], stopped.Effects.ToArray());
    }

    [Fact]
    public void Stopping_a_retrying_plugin_cancels_the_retry()
    {
        var s = State(new Phase.Waiting(Now, 1, "boom"), PluginState.Error, want: true);
        var d = Decide(s, new In.Stop(new AfterStop.Rest()));
        Assert.Equal([Effect.CancelRetry.Instance, new Effect.Persist(PluginState.Stopped, false, null, 0, DesireSource.Operator), new Effect.Done(true, PluginState.Stopped)], d.Effects.ToArray());
        Assert.Empty(Decide(d.State, new In.RetryDue(null)).Effects); // a late timer changes nothing
    }

    [Fact]
    public void A_node_shutdown_stops_the_instance_and_records_nothing_so_it_comes_back()
    {
        var s = State(new Phase.Running(7), PluginState.Active, want: true);
        var stop = Decide(s, new In.Stop(AfterStop.Shutdown.Instance));
        Assert.Equal([new Effect.TellStop(7, Withdraw: true)], stop.Effects.ToArray());
        Assert.Equal([new Effect.Done(true, PluginState.Active)], Decide(stop.State, new In.Stopped(7, null)).Effects.ToArray());
    }

    [Fact]
    public void A_stop_that_hangs_is_killed_and_still_recorded()
    {
        var s = State(new Phase.Stopping(7, new AfterStop.Rest()), PluginState.Active, want: true);
        var d = Decide(s, new In.TimedOut(7, TimeSpan.FromSeconds(10)));
        Assert.Equal([new Effect.Kill(7), new Effect.Persist(PluginState.Stopped, false, "stop did not finish within 10s", 0, DesireSource.Operator), new Effect.Done(true, PluginState.Stopped)], d.Effects.ToArray());
    }

    // ------------------------------------------------------------ restart

    [Fact]
    public void An_operator_restart_pauses_rather_than_withdraws_clears_the_window_and_starts_afresh()
    {
        var s = State(new Phase.Running(7), PluginState.Active, want: true, restarts: 2) with { Window = SupervisionWindow.Empty.Add(Now, TimeSpan.FromSeconds(60)) };
        var restart = Decide(s, new In.Restart(null));
        Assert.Equal([new Effect.TellStop(7, Withdraw: false)], restart.Effects.ToArray());
        Assert.Equal(0, restart.State.Window.Count);

        var stopped = Decide(restart.State, new In.Stopped(7, null), Context(next: 8));
        Assert.Equal(new Phase.Initializing(8, true, new PendingStart(DesireSource.Operator, 0)), stopped.State.Phase);
        Assert.Equal([new Effect.Spawn(V1, 8)], stopped.Effects.ToArray());
    }

    [Fact]
    public void A_restart_that_could_not_start_again_is_refused_and_the_instance_keeps_running()
    {
        var s = State(new Phase.Running(7), PluginState.Active, want: true);
        var d = Decide(s, new In.Restart(Lasting("config: /port must be an integer")));
        Assert.Equal([new Effect.Done(false, PluginState.Active, "config: /port must be an integer")], d.Effects.ToArray());
        Assert.Equal(s.Phase, d.State.Phase);
    }

    // ------------------------------------------------------------ upgrade

    [Fact]
    public void An_upgrade_pauses_the_running_version_starts_the_candidate_and_releases_the_old_one()
    {
        var s = State(new Phase.Running(7), PluginState.Active, want: true);
        var upgrade = Decide(s, new In.Upgrade(V2, null));
        Assert.Equal([new Effect.TellStop(7, Withdraw: false)], upgrade.Effects.ToArray());

        var stopped = Decide(upgrade.State, new In.Stopped(7, null), Context(next: 8));
        Assert.Equal([new Effect.Spawn(V2, 8)], stopped.Effects.ToArray());
        Assert.Equal(V2, stopped.State.Descriptor);

        var started = Decide(Persisted(Decide(stopped.State, new In.Initialized(8))), new In.Started(8));
        Assert.Equal(
        [
            new Effect.Persist(PluginState.Active, true, null, 0, DesireSource.Operator),
            new Effect.Commit(V2),
            new Effect.Release(V1),
            new Effect.Done(true, PluginState.Active, Detail: "upgraded 1.0.0 -> 2.0.0"),
        ], started.Effects.ToArray());
    }

    [Fact]
    public void A_candidate_that_fails_to_start_is_rolled_back_to_the_running_version()
    {
        var starting = State(new Phase.Starting(8, new PendingStart(DesireSource.Operator, 0, new UpgradeAttempt(V1, V2))), PluginState.Initialized, want: true) with { Descriptor = V2 };
        var failed = Decide(starting, new In.Failed(8, "start failed: InvalidOperationException: broken build", false), Context(next: 9));
        Assert.Equal([new Effect.Spawn(V1, 9)], failed.Effects.ToArray());
        Assert.Equal(V1, failed.State.Descriptor);
        Assert.DoesNotContain(failed.Effects, e => e is Effect.Persist { To: PluginState.Error });

        var back = Decide(Persisted(Decide(failed.State, new In.Initialized(9))), new In.Started(9));
        Assert.Equal(
        [
            new Effect.Persist(PluginState.Active, true, null, 0, DesireSource.Operator),
            new Effect.Release(V2),
            new Effect.Done(false, PluginState.Active, "upgrade to 2.0.0 failed: start failed: InvalidOperationException: broken build; rolled back to 1.0.0, which is active"),
        ], back.Effects.ToArray());
    }

    [Fact]
    public void An_upgrade_whose_candidate_is_blocked_is_refused_without_touching_the_instance()
    {
        var s = State(new Phase.Running(7), PluginState.Active, want: true);
        var d = Decide(s, new In.Upgrade(V2, Lasting("config: /extra is not allowed")));
        Assert.Equal([new Effect.Release(V2), new Effect.Done(false, PluginState.Active, "upgrade to 2.0.0 refused: config: /extra is not allowed; 1.0.0 keeps running")], d.Effects.ToArray());
        Assert.Equal(s.Phase, d.State.Phase);
    }
}
