using System.Text.Json;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>
/// What a long run hits at start: a plugin whose dependency (a database, a GPU driver) is not ready yet,
/// a node restarted while such a fault is still there, a role no longer given, a status poll during a restart.
/// </summary>
[Trait("Category", "Supervision")]
public sealed class RetrySpec : PluginManagerSpecBase
{
    private const string Thrower = ThrowingCollector.PluginName;
    private const string Counter = CountingCollector.PluginName;

    public RetrySpec(ITestOutputHelper output) : base(TestNode.Create(), "retry-spec", output)
    {
    }

    /// <summary>The thrower as a file section enables it: its start fails the first two times of <paramref name="fault"/>.</summary>
    private TraceletSettings FlakySettings(string fault, string backoff = "200ms") => Node.CreateSettings($$"""
        tracelet.plugin-manager.supervision.min-backoff = {{backoff}}
        tracelet.plugins.{{Thrower}} {
          enabled = on
          config { interval = 50ms, fail-in = start, fail-times = 2, fault = "{{fault}}", message = "database not up yet" }
        }
        """);

    private List<JsonElement> Transitions(string plugin) =>
        [.. SqliteJournal.Events(Node.SqliteFile)
            .Where(r => r.Manifest == "pt1")
            .Select(r => r.Json)
            .Where(j => j.GetProperty("plugin").GetString() == plugin)];

    private void Restart(ref IActorRef manager, TraceletSettings settings, Func<DiscoveryResult>? discover = null)
    {
        Watch(manager);
        manager.Tell(PoisonPill.Instance);
        ExpectTerminated(manager, Dilated(CommandTimeout));
        manager = StartManager(settings, discover: discover);
    }

    [Fact]
    public void A_collector_whose_first_two_starts_fail_comes_up_by_itself_and_again_after_a_node_restart()
    {
        var fault = Guid.NewGuid().ToString("N");
        var settings = FlakySettings(fault);
        var manager = StartManager(settings);

        // While it waits for the next attempt, status says so, with when and why.
        var retrying = AwaitPlugin(manager, Thrower, e => Assert.Equal(PluginStatusState.Retrying, e.State));
        Assert.Matches(@"^restarting in 0\.[24]s after: start failed: InvalidOperationException: database not up yet$", retrying.Error);
        var retry = Assert.IsType<PluginRetry>(retrying.Retry);
        Assert.Equal("start failed: InvalidOperationException: database not up yet", retry.LastError);
        Assert.InRange(retry.Attempt, 1, 2);
        Assert.InRange(retry.NextAttemptAt, retrying.LastTransition!.Value, retrying.LastTransition.Value.AddSeconds(1));

        AwaitPlugin(manager, Thrower, e => Assert.Equal(PluginStatusState.Active, e.State), within: TimeSpan.FromSeconds(20));
        Assert.Equal(3, ThrowingCollector.AttemptsOf(fault));
        // Never persisted as "do not bring back": every transition into Error still wants it active.
        Assert.All(Transitions(Thrower).Where(t => t.GetProperty("to").GetInt32() == (int)PluginState.Error),
            t => Assert.True(t.GetProperty("want_active").GetBoolean()));

        // The fault is back after a node restart (the database restarted too): the same again, by itself.
        ThrowingCollector.ResetFault(fault);
        Restart(ref manager, settings);
        AwaitPlugin(manager, Thrower, e => Assert.Equal(PluginStatusState.Retrying, e.State));
        AwaitPlugin(manager, Thrower, e => Assert.Equal(PluginStatusState.Active, e.State), within: TimeSpan.FromSeconds(20));
        Assert.Equal(3, ThrowingCollector.AttemptsOf(fault));
    }

    [Fact]
    public void An_operator_start_that_fails_answers_with_the_retry_and_the_plugin_comes_up_later()
    {
        var fault = Guid.NewGuid().ToString("N");
        var manager = StartManager(Node.CreateSettings("tracelet.plugin-manager.supervision.min-backoff = 200ms"));
        AwaitReady(manager);
        var config = PluginConfig.Parse($$"""{ "interval": "50ms", "fail-in": "start", "fail-times": 1, "fault": "{{fault}}", "message": "driver not loaded" }""");
        Succeeds(manager, new InitializePlugin(Thrower, config), PluginState.Initialized);

        var failed = Fails(manager, new StartPlugin(Thrower));
        Assert.Equal("restarting in 0.2s after: start failed: InvalidOperationException: driver not loaded", failed.Reason);

        AwaitPlugin(manager, Thrower, e => Assert.Equal(PluginStatusState.Active, e.State));
        Assert.True(Transitions(Thrower)[^1].GetProperty("want_active").GetBoolean());
    }

    [Fact]
    public void A_plugin_enabled_only_by_a_configuration_no_longer_given_is_not_brought_back_but_an_operators_start_is()
    {
        var withRole = Node.CreateSettings($$"""tracelet.plugins.{{Counter}} { enabled = on, config { interval = 50ms, value = 1 } }""");
        var manager = StartManager(withRole);
        AwaitPlugin(manager, Counter, e => Assert.Equal(PluginStatusState.Active, e.State));
        Succeeds(manager, new StartPlugin("chain-c"), PluginState.Active); // an operator's wish

        // Started again without the file (or role) that enabled the counter.
        Restart(ref manager, Node.Settings);
        var status = AwaitReady(manager);
        Assert.Equal((PluginStatusState.Stopped, null), (status.Plugins[Counter].State, status.Plugins[Counter].Error));
        Assert.Equal(PluginStatusState.Active, status.Plugins["chain-c"].State);
        var last = Transitions(Counter)[^1];
        Assert.Equal("no longer enabled by the configuration", last.GetProperty("error").GetString());
        Assert.False(last.GetProperty("want_active").GetBoolean());
    }

    [Fact]
    public void Status_polled_while_a_node_restarts_never_shows_a_false_error()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new InitializePlugin(Counter, PluginConfig.Parse("""{ "interval": "50ms", "value": 1 }""")), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        Succeeds(manager, new StartPlugin("chain-a"), PluginState.Active);

        // Discovery of the restarted node is held back, as a slow plugin folder would.
        using var discoveryMayFinish = new ManualResetEventSlim();
        Restart(ref manager, Node.Settings, () =>
        {
            discoveryMayFinish.Wait(TimeSpan.FromSeconds(30));
            return Node.Discover();
        });
        for (var i = 0; i < 10; i++)
        {
            var during = Status(manager);
            Assert.False(during.Ready);
            Assert.All(during.Plugins, p => Assert.NotEqual(PluginStatusState.Error, p.Value.State));
            Assert.Equal(0, during.Errors);
        }
        discoveryMayFinish.Set();
        var after = AwaitReady(manager);
        Assert.Equal(0, after.Errors);
        AwaitPlugin(manager, Counter, e => Assert.Equal(PluginStatusState.Active, e.State));
    }

    [Fact]
    public void Commands_sent_before_discovery_has_finished_wait_for_it_instead_of_failing()
    {
        using var discoveryMayFinish = new ManualResetEventSlim();
        var manager = StartManager(discover: () =>
        {
            discoveryMayFinish.Wait(TimeSpan.FromSeconds(30));
            return Node.Discover();
        });
        var probe = CreateTestProbe();
        manager.Tell(new StartPlugin("chain-c"), probe.Ref);
        manager.Tell(GetPluginStatus.Instance, probe.Ref);
        Assert.False(probe.ExpectMsg<CurrentPluginStatus>().Status.Ready); // queries are answered meanwhile

        discoveryMayFinish.Set();
        var started = probe.ExpectMsg<PluginOperationResult>(Dilated(CommandTimeout));
        Assert.Equal(PluginState.Active, Assert.IsType<PluginOperationSucceeded>(started).State);
    }

    [Fact]
    public void A_node_stopping_before_discovery_has_finished_is_answered_at_once_and_starts_nothing_afterwards()
    {
        var settings = Node.CreateSettings($$"""tracelet.plugins.{{Counter}} { enabled = on, config { interval = 50ms, value = 1 } }""");
        using var discoveryMayFinish = new ManualResetEventSlim();
        var manager = StartManager(settings, discover: () =>
        {
            discoveryMayFinish.Wait(TimeSpan.FromSeconds(30));
            return Node.Discover();
        });
        Ask<AllPluginsStopped>(manager, StopAllPlugins.Instance);

        discoveryMayFinish.Set();
        var status = AwaitReady(manager);
        Assert.NotEqual(PluginStatusState.Active, status.Plugins[Counter].State);
        Assert.DoesNotContain(Transitions(Counter), t => t.GetProperty("to").GetInt32() == (int)PluginState.Active);
    }
}
