using System.Text.Json;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>
/// Plugin failures: restarts with exponential backoff (min-backoff 50ms, max-restarts 3, random-factor 0
/// in <see cref="TestNode"/>), giving up into Error, permanent faults, and isolation from other plugins.
/// </summary>
[Trait("Category", "Supervision")]
public sealed class SupervisionSpec : PluginManagerSpecBase
{
    private const string Counter = CountingCollector.PluginName;
    private const string Echo = EchoBackend.PluginName;
    private const string Thrower = ThrowingCollector.PluginName;
    private const string Native = NativeMissingCollector.PluginName;
    private const string Failure = "collect failed: InvalidOperationException: sensor unplugged";

    public SupervisionSpec(ITestOutputHelper output) : base(TestNode.Create(), "supervision-spec", output)
    {
    }

    /// <summary>Starts the echo backend and the counter feeding it: the bystanders that must not notice a failing neighbour.</summary>
    private (IActorRef Manager, PluginStatusEntry Echo) StartWithBystanders()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active);
        Succeeds(manager, new InitializePlugin(Counter, PluginConfig.Parse("""{ "interval": "50ms", "value": 1 }""")), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        var echo = AwaitPlugin(manager, Echo, e => Assert.True(Number(e.Status, "samples") > 0));
        return (manager, echo);
    }

    private void StartThrower(IActorRef manager)
    {
        // Each incarnation collects once, then throws at its next tick.
        var config = PluginConfig.Parse("""{ "interval": "50ms", "fail-after": 1, "message": "sensor unplugged" }""");
        Succeeds(manager, new InitializePlugin(Thrower, config), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Thrower), PluginState.Active);
    }

    private PluginStatusEntry AwaitGaveUp(IActorRef manager) =>
        AwaitPlugin(manager, Thrower, e =>
        {
            Assert.Equal(PluginStatusState.Error, e.State);
            Assert.Equal($"gave up after 3 restarts within 60s; last error: {Failure}", e.Error);
        });

    /// <summary>The plugin's persisted transitions, oldest first.</summary>
    private List<JsonElement> Transitions(string plugin) =>
        [.. SqliteJournal.Events(Node.SqliteFile)
            .Where(r => r.Manifest == "pt1")
            .Select(r => r.Json)
            .Where(j => j.GetProperty("plugin").GetString() == plugin)];

    /// <summary>The restart count and error of each persisted transition into Error.</summary>
    private List<(int Restarts, string? Error)> ErrorTransitions(string plugin) =>
        [.. Transitions(plugin)
            .Where(t => t.GetProperty("to").GetInt32() == (int)PluginState.Error)
            .Select(t => (t.GetProperty("restarts").GetInt32(), t.GetProperty("error").GetString()))];

    private void AssertStillWorking(IActorRef manager, PluginStatusEntry echoBefore)
    {
        var samples = Number(Status(manager).Plugins[Echo].Status, "samples");
        var echo = AwaitPlugin(manager, Echo, e => Assert.True(Number(e.Status, "samples") > samples, "the backend stopped receiving samples"));
        Assert.Equal((PluginStatusState.Active, 0, echoBefore.LastTransition), (echo.State, echo.Restarts, echo.LastTransition));
        Assert.Equal(echoBefore.Status!["instance"], echo.Status!["instance"]);
        var counter = Status(manager).Plugins[Counter];
        Assert.Equal((PluginStatusState.Active, 0), (counter.State, counter.Restarts));
    }

    [Fact]
    public void A_failed_instance_releases_its_resources_before_the_next_incarnation_starts()
    {
        // Backoff here is 50 ms, the failed instance takes 400 ms to stop: the next must wait for it,
        // or a jsonl file, a listening port or a connection would be held by two incarnations at once.
        var manager = StartManager();
        AwaitReady(manager);
        var run = Guid.NewGuid().ToString("N");
        var config = PluginConfig.Parse($$"""{ "interval": "50ms", "stop-ms": 400, "run": "{{run}}" }""");
        Succeeds(manager, new InitializePlugin(SlowReleaseCollector.PluginName, config), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(SlowReleaseCollector.PluginName), PluginState.Active);

        AwaitAssert(() => Assert.True(SlowReleaseCollector.Events(run).Count(e => e.StartsWith("start", StringComparison.Ordinal)) >= 3),
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(50));

        // Strictly alternating: every start after the first comes after the previous instance was released.
        var events = SlowReleaseCollector.Events(run);
        for (var i = 1; i < events.Length; i++)
        {
            var expected = i % 2 == 1 ? "released" : "start";
            Assert.True(events[i].StartsWith(expected, StringComparison.Ordinal), $"event {i} should be '{expected} …': {string.Join(", ", events)}");
        }
    }

    [Fact]
    public void A_collector_that_keeps_failing_is_restarted_with_backoff_and_then_left_in_error()
    {
        var (manager, echoBefore) = StartWithBystanders();
        StartThrower(manager);

        var gaveUp = AwaitGaveUp(manager);

        Assert.Equal(3, gaveUp.Restarts);
        // The journal shows each restart, its growing backoff, and the restart count going up.
        var transitions = Transitions(Thrower);
        Assert.Equal<(int, string?)>(
        [
            (1, $"restarting in 0.05s after: {Failure}"),
            (2, $"restarting in 0.1s after: {Failure}"),
            (3, $"restarting in 0.2s after: {Failure}"),
            (3, $"gave up after 3 restarts within 60s; last error: {Failure}"),
        ], ErrorTransitions(Thrower));
        var activations = transitions.Where(t => t.GetProperty("to").GetInt32() == (int)PluginState.Active).Select(t => t.GetProperty("restarts").GetInt32());
        Assert.Equal([0, 1, 2, 3], activations);
        // Giving up is not an operator's stop: the desired state stays active, so a node restart tries again.
        Assert.True(transitions[^1].GetProperty("want_active").GetBoolean());

        AssertStillWorking(manager, echoBefore);
    }

    [Fact]
    public void A_plugin_that_gave_up_shows_its_last_error_and_is_tried_again_when_the_manager_restarts()
    {
        var (manager, _) = StartWithBystanders();
        StartThrower(manager);
        var gaveUp = AwaitGaveUp(manager);
        var activationsBefore = Activations(Thrower);

        Watch(manager);
        manager.Tell(PoisonPill.Instance);
        ExpectTerminated(manager, Dilated(CommandTimeout));
        var again = StartManager();

        // The fault may be gone after a restart (a driver loaded late, a database come up): the node tries again,
        // with a fresh restart budget, and gives up again only after as many attempts.
        AwaitPlugin(again, Thrower, e => Assert.True(Activations(Thrower) > activationsBefore, "the plugin was not started again"));
        var second = AwaitGaveUp(again);
        Assert.Equal(gaveUp.Error, second.Error);
        Assert.Equal(activationsBefore + 4, Activations(Thrower));
        var status = Status(again);
        Assert.Equal((PluginStatusState.Active, PluginStatusState.Active), (status.Plugins[Echo].State, status.Plugins[Counter].State));
    }

    private int Activations(string plugin) => Transitions(plugin).Count(t => t.GetProperty("to").GetInt32() == (int)PluginState.Active);

    [Fact]
    public void An_operator_restart_clears_the_error_and_the_restart_window()
    {
        var (manager, echoBefore) = StartWithBystanders();
        StartThrower(manager);
        AwaitGaveUp(manager);

        var before = Transitions(Thrower).Count;
        Succeeds(manager, new RestartPlugin(Thrower), PluginState.Active);

        // The restart begins afresh: no error carried over, restart count back to 0.
        var restarted = Transitions(Thrower)[before];
        Assert.Equal((int)PluginState.Initialized, restarted.GetProperty("to").GetInt32());
        Assert.Equal(0, restarted.GetProperty("restarts").GetInt32());
        Assert.False(restarted.TryGetProperty("error", out _));

        // A fresh window: three more restarts with the same backoffs before giving up again, not an immediate give-up.
        var second = AwaitGaveUp(manager);
        Assert.Equal(3, second.Restarts);
        var errors = ErrorTransitions(Thrower);
        Assert.Equal(8, errors.Count);
        Assert.Equal(errors[..4], errors[4..]);
        AssertStillWorking(manager, echoBefore);
    }

    [Fact]
    public void A_missing_native_library_puts_the_plugin_in_error_at_once_without_restarts()
    {
        var (manager, echoBefore) = StartWithBystanders();
        Succeeds(manager, new StartPlugin(Native), PluginState.Active);

        var native = AwaitPlugin(manager, Native, e => Assert.Equal(PluginStatusState.Error, e.State));

        Assert.Equal($"collect failed: DllNotFoundException: {NativeMissingCollector.LibraryMessage} (permanent fault: not restarted)", native.Error);
        Assert.Equal(0, native.Restarts);
        // A restart would come after min-backoff (50ms): give it ten times as long to show up.
        ExpectNoMsg(Dilated(TimeSpan.FromMilliseconds(500)));
        var later = Status(manager).Plugins[Native];
        Assert.Equal((PluginStatusState.Error, 0, native.LastTransition), (later.State, later.Restarts, later.LastTransition));
        var states = Transitions(Native).Select(t => (PluginState)t.GetProperty("to").GetInt32());
        Assert.Equal([PluginState.Loaded, PluginState.Validated, PluginState.Initialized, PluginState.Active, PluginState.Error], states);
        AssertStillWorking(manager, echoBefore);
    }
}
