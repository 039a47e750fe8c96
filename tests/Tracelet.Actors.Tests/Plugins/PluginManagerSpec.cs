using System.Collections.Immutable;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>The PluginManager's protocol: the seed's API as messages, every answer explicit.</summary>
[Trait("Category", "PluginManager")]
public sealed class PluginManagerSpec : PluginManagerSpecBase
{
    private const string Counter = CountingCollector.PluginName;
    private const string Echo = EchoBackend.PluginName;
    private const string Thrower = ThrowingCollector.PluginName;

    public PluginManagerSpec(ITestOutputHelper output) : base(TestNode.Create(), "plugin-manager-spec", output)
    {
    }

    private static PluginConfig CounterConfig(double value, string label = "") =>
        PluginConfig.Parse($$"""{ "interval": "50ms", "value": {{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}, "label": "{{label}}" }""");

    [Fact]
    public void Status_counts_discovered_loaded_active_and_errors_like_the_seed()
    {
        var manager = StartManager();
        var fresh = AwaitReady(manager);
        Assert.Equal(Node.NodeId, fresh.NodeId);
        Assert.Equal(TestPluginNames.All, fresh.Plugins.Keys);
        Assert.Equal((TestPluginNames.All.Length, 0, 0, 0), (fresh.Discovered, fresh.Loaded, fresh.Active, fresh.Errors));
        Assert.All(fresh.Plugins.Values, e => Assert.Equal(PluginStatusState.Discovered, e.State));
        Assert.Empty(fresh.DiscoveryErrors);

        Succeeds(manager, new LoadPlugin("chain-c"), PluginState.Loaded);
        Succeeds(manager, new InitializePlugin(Counter, CounterConfig(1)), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active);
        Succeeds(manager, new StopPlugin(Echo), PluginState.Stopped);
        Fails(manager, new StartPlugin("needs-ghost"));

        var counter = AwaitPlugin(manager, Counter, e => Assert.NotNull(e.Status));
        var status = Status(manager);
        // Seed parity: "loaded" counts every plugin past discovery, stopped and failed ones included.
        Assert.Equal((TestPluginNames.All.Length, 4, 1, 1), (status.Discovered, status.Loaded, status.Active, status.Errors));
        Assert.Equal((PluginStatusState.Active, PluginType.Collector, "1.0.0", null), (counter.State, counter.Type, counter.Version, counter.Error));
        Assert.Equal("registered:Tracelet.TestPlugins", counter.Origin);
        Assert.IsType<CollectorRuntime>(counter.Runtime);
        Assert.NotNull(counter.LastTransition);
        var echo = status.Plugins[Echo];
        Assert.Equal((PluginStatusState.Stopped, PluginType.Backend, "2.1.0", null), (echo.State, echo.Type, echo.Version, echo.Error));
        Assert.Null(echo.Status); // no instance once stopped
        Assert.Equal(PluginStatusState.Loaded, status.Plugins["chain-c"].State);
        Assert.Equal(PluginStatusState.Error, status.Plugins["needs-ghost"].State);
        Assert.Contains("'ghost'", status.Plugins["needs-ghost"].Error);
        Assert.Equal(PluginStatusState.Discovered, status.Plugins["chain-a"].State);
        Assert.Null(status.Plugins["chain-a"].Error);
    }

    [Fact]
    public void Lifecycle_commands_succeed_step_by_step_and_run_earlier_steps_when_needed()
    {
        var manager = StartManager();
        AwaitReady(manager);

        Succeeds(manager, new LoadPlugin(Counter), PluginState.Loaded);
        Succeeds(manager, new LoadPlugin(Counter), PluginState.Loaded);
        Succeeds(manager, new ValidatePlugin(Counter), PluginState.Validated);
        Succeeds(manager, new InitializePlugin(Counter, CounterConfig(7)), PluginState.Initialized);
        Assert.Equal(PluginStatusState.Initialized, Status(manager).Plugins[Counter].State);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        AwaitPlugin(manager, Counter, e => Assert.Equal(7d, Convert.ToDouble(e.Status?["value"])));
        Succeeds(manager, new StopPlugin(Counter), PluginState.Stopped);
        Assert.Equal(PluginStatusState.Stopped, Status(manager).Plugins[Counter].State);

        // Restart and start use the recorded config: the operator does not have to repeat it.
        Succeeds(manager, new RestartPlugin(Counter), PluginState.Active);
        AwaitPlugin(manager, Counter, e => Assert.Equal(7d, Convert.ToDouble(e.Status?["value"])));
        Succeeds(manager, new StopPlugin(Counter), PluginState.Stopped);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        AwaitPlugin(manager, Counter, e => Assert.Equal(7d, Convert.ToDouble(e.Status?["value"])));

        // Start from Discovered loads, validates and initializes first.
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active);
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active); // already active: still a success
        Assert.Equal(2, Status(manager).Active);
    }

    [Fact]
    public void Lifecycle_commands_that_cannot_succeed_answer_with_a_reason()
    {
        var manager = StartManager();
        AwaitReady(manager);

        var load = Fails(manager, new LoadPlugin("no-such-plugin"));
        Assert.Equal(("no-such-plugin", null), (load.Name, load.State));
        Assert.Contains("not registered", load.Reason);

        Succeeds(manager, new InitializePlugin(Thrower, PluginConfig.Parse("""{ "fail-in": "start", "message": "no device" }""")), PluginState.Initialized);
        var start = Fails(manager, new StartPlugin(Thrower));
        Assert.Equal(PluginState.Error, start.State);
        Assert.Contains("start failed: InvalidOperationException: no device", start.Reason);
        Assert.Contains("no device", Status(manager).Plugins[Thrower].Error);

        var init = Fails(manager, new InitializePlugin(Thrower, PluginConfig.Parse("""{ "fail-in": "initialize", "message": "bad token" }""")));
        Assert.Equal(PluginState.Error, init.State);
        Assert.Contains("initialize failed: InvalidOperationException: bad token", init.Reason);

        var schema = Fails(manager, new ValidatePlugin(BrokenSchemaPlugin.PluginName));
        Assert.Equal(PluginState.Error, schema.State);
        Assert.StartsWith("config schema is not a valid JSON Schema:", schema.Reason);

        var config = Fails(manager, new InitializePlugin(Counter, PluginConfig.Parse("""{ "value": "seven" }""")));
        Assert.Equal(PluginState.Error, config.State);
        Assert.Contains("'value'", config.Reason);
        Assert.Contains("'value'", Status(manager).Plugins[Counter].Error);

        // The error is cleared once the plugin gets a config that works.
        Succeeds(manager, new InitializePlugin(Counter, CounterConfig(1)), PluginState.Initialized);
        var entry = Status(manager).Plugins[Counter];
        Assert.Equal((PluginStatusState.Initialized, null), (entry.State, entry.Error));
        Assert.Equal(2, Status(manager).Errors); // the thrower and the broken schema are left in error
    }

    [Fact]
    public void Starting_an_unknown_plugin_fails_and_changes_nothing()
    {
        var manager = StartManager();
        var before = AwaitReady(manager);

        var failed = Fails(manager, new StartPlugin("ghost"));

        Assert.Equal(("ghost", null), (failed.Name, failed.State));
        Assert.Equal("plugin 'ghost' is not registered", failed.Reason);
        var after = Status(manager);
        Assert.False(after.Plugins.ContainsKey("ghost"));
        Assert.Equal((before.Discovered, before.Loaded, before.Errors), (after.Discovered, after.Loaded, after.Errors));
    }

    [Fact]
    public void Validating_an_active_plugin_does_not_knock_it_back()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new InitializePlugin(Counter, CounterConfig(1)), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        var before = AwaitPlugin(manager, Counter, e => Assert.NotNull(e.Status));

        Succeeds(manager, new ValidatePlugin(Counter), PluginState.Active);
        Succeeds(manager, new LoadPlugin(Counter), PluginState.Active);

        var after = Status(manager).Plugins[Counter];
        Assert.Equal(PluginStatusState.Active, after.State);
        Assert.Equal(before.LastTransition, after.LastTransition);
        Assert.Equal(before.Status!["instance"], after.Status!["instance"]);
    }

    [Fact]
    public void Initializing_an_active_plugin_is_refused_and_the_running_instance_keeps_working()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new InitializePlugin(Counter, CounterConfig(1, "first")), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        var before = AwaitPlugin(manager, Counter, e => Assert.NotNull(e.Status));

        var refused = Fails(manager, new InitializePlugin(Counter, CounterConfig(2, "second")));

        Assert.Equal(PluginState.Active, refused.State);
        Assert.Contains("is active; stop it before initializing it again", refused.Reason);
        var collections = Number(before.Status, "collections");
        var after = AwaitPlugin(manager, Counter, e => Assert.True(Number(e.Status, "collections") > collections + 2, "the running instance stopped collecting"));
        Assert.Equal((PluginStatusState.Active, "first"), (after.State, (string?)after.Status!["label"]));
        Assert.Equal(before.Status!["instance"], after.Status["instance"]);
    }

    [Fact]
    public void Plugins_by_type_lists_each_type_sorted_by_name_with_metadata_and_state()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active);

        var collectors = Ask<CurrentPluginsByType>(manager, new GetPluginsByType(PluginType.Collector));
        var backends = Ask<CurrentPluginsByType>(manager, new GetPluginsByType(PluginType.Backend));
        var frameworks = Ask<CurrentPluginsByType>(manager, new GetPluginsByType(PluginType.Framework));

        Assert.Equal(PluginType.Collector, collectors.Type);
        Assert.Equal<string>([Counter, NativeMissingCollector.PluginName, SlowReleaseCollector.PluginName, Thrower], collectors.Plugins.Select(p => p.Metadata.Name));
        Assert.All(collectors.Plugins, p => Assert.Equal((PluginType.Collector, PluginState.Discovered), (p.Metadata.Type, p.State)));
        var counter = collectors.Plugins[0];
        Assert.Equal("counts collections and writes its configured value", counter.Metadata.Description);
        Assert.NotNull(counter.Metadata.ConfigSchema);
        Assert.Contains("test", counter.Metadata.Capabilities);
        var echo = Assert.Single(backends.Plugins);
        Assert.Equal((Echo, "2.1.0", PluginState.Active), (echo.Metadata.Name, echo.Metadata.Version, echo.State));
        Assert.Empty(frameworks.Plugins);
    }

    [Fact]
    public void Resolving_dependencies_puts_dependencies_first_and_breaks_ties_by_name()
    {
        var manager = StartManager();
        AwaitReady(manager);

        var chain = Ask<CurrentDependencyOrder>(manager, new ResolveDependencies([Echo, "chain-a", Counter])).Order;
        Assert.Equal<string>(["chain-c", "chain-b", "chain-a", Counter, Echo], chain.Order);
        Assert.Empty(chain.Problems);

        var broken = Ask<CurrentDependencyOrder>(manager, new ResolveDependencies(["needs-ghost", "ring-b", Echo])).Order;
        Assert.Equal<string>([Echo], broken.Order);
        Assert.Equal<string>(["needs-ghost", "ring-a", "ring-b", "ring-c"], broken.Problems.Keys);
        Assert.Contains("missing dependency: 'ghost'", broken.Problems["needs-ghost"]);
        Assert.All(["ring-a", "ring-b", "ring-c"], n => Assert.Equal("dependency cycle: ring-a -> ring-b -> ring-c -> ring-a", broken.Problems[n]));
    }

    [Fact]
    public void Starting_a_plugin_starts_its_dependencies_first_and_says_so()
    {
        var manager = StartManager();
        AwaitReady(manager);

        var started = Assert.IsType<PluginOperationSucceeded>(Ask<PluginOperationResult>(manager, new StartPlugin("chain-a")));
        Assert.Equal(PluginState.Active, started.State);
        Assert.Equal(["chain-c", "chain-b"], started.Cascaded.ToArray());
        var status = Status(manager);
        Assert.All(new[] { "chain-a", "chain-b", "chain-c" }, n => Assert.Equal((PluginStatusState.Active, null), (status.Plugins[n].State, status.Plugins[n].Error)));
        // Activated in dependency order.
        var activated = SqliteJournal.Events(Node.SqliteFile)
            .Where(r => r.Manifest == "pt1" && r.Json.GetProperty("to").GetInt32() == (int)PluginState.Active)
            .Select(r => r.Json.GetProperty("plugin").GetString());
        Assert.Equal(["chain-c", "chain-b", "chain-a"], activated);
    }

    [Fact]
    public void Stopping_a_dependency_stops_its_dependents_first_or_refuses_when_asked_not_to_cascade()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new StartPlugin("chain-a"), PluginState.Active);

        var refused = Fails(manager, new StopPlugin("chain-c", Cascade: false));
        Assert.Equal("'chain-a', 'chain-b' depend on 'chain-c' and are running; stop them first, or stop with cascade", refused.Reason);
        Assert.All(new[] { "chain-a", "chain-b", "chain-c" }, n => Assert.Equal(PluginStatusState.Active, Status(manager).Plugins[n].State));

        var stopped = Assert.IsType<PluginOperationSucceeded>(Ask<PluginOperationResult>(manager, new StopPlugin("chain-c")));
        Assert.Equal(PluginState.Stopped, stopped.State);
        Assert.Equal(["chain-a", "chain-b"], stopped.Cascaded.ToArray());
        var status = Status(manager);
        Assert.All(new[] { "chain-a", "chain-b", "chain-c" }, n => Assert.Equal(PluginStatusState.Stopped, status.Plugins[n].State));
        var stops = SqliteJournal.Events(Node.SqliteFile)
            .Where(r => r.Manifest == "pt1" && r.Json.GetProperty("to").GetInt32() == (int)PluginState.Stopped)
            .Select(r => (r.Json.GetProperty("plugin").GetString(), r.Json.TryGetProperty("error", out var e) ? e.GetString() : null));
        Assert.Equal(
        [
            ("chain-a", "stopped because its dependency 'chain-c' was stopped"),
            ("chain-b", "stopped because its dependency 'chain-c' was stopped"),
            ("chain-c", null),
        ], stops);
    }

    [Fact]
    public void Boot_starts_enabled_plugins_dependencies_first()
    {
        var settings = Node.CreateSettings("""
            tracelet.plugins {
              chain-a { enabled = on }
              chain-b { enabled = on }
              chain-c { enabled = on }
            }
            """);
        var manager = StartManager(settings);

        var status = AwaitReady(manager);

        Assert.Equal(3, status.Active);
        var (a, b, c) = (status.Plugins["chain-a"], status.Plugins["chain-b"], status.Plugins["chain-c"]);
        Assert.All([a, b, c], e => Assert.Equal(PluginStatusState.Active, e.State));
        Assert.True(c.LastTransition < b.LastTransition && b.LastTransition < a.LastTransition, "chain-c, chain-b, chain-a must start in that order");
    }

    [Fact]
    public void A_missing_dependency_puts_the_plugin_in_error_naming_it()
    {
        var manager = StartManager();
        AwaitReady(manager);

        var failed = Fails(manager, new StartPlugin("needs-ghost"));

        Assert.Equal(PluginState.Error, failed.State);
        Assert.Equal("missing dependency: 'ghost' (no such plugin is registered)", failed.Reason);
        var entry = Status(manager).Plugins["needs-ghost"];
        Assert.Equal((PluginStatusState.Error, failed.Reason), (entry.State, entry.Error));
    }

    [Fact]
    public void A_dependency_cycle_puts_every_plugin_on_it_in_error_naming_the_cycle()
    {
        const string cycle = "dependency cycle: ring-a -> ring-b -> ring-c -> ring-a";
        var manager = StartManager(Node.CreateSettings("tracelet.plugins.ring-a.enabled = on"));
        var status = AwaitReady(manager);

        Assert.All(["ring-a", "ring-b", "ring-c"], name =>
        {
            Assert.Equal(PluginStatusState.Error, status.Plugins[name].State);
            Assert.Equal(cycle, status.Plugins[name].Error);
        });

        var failed = Fails(manager, new StartPlugin("ring-b"));
        Assert.Equal(cycle, failed.Reason);
    }

    [Fact]
    public void A_config_that_breaks_the_schema_puts_only_that_plugin_in_error()
    {
        var settings = Node.CreateSettings("""
            tracelet.plugins {
              test-counter {
                enabled = on
                config { interval = 50ms, value = lots }
              }
              test-echo { enabled = on }
              chain-c { enabled = on }
            }
            """);
        var manager = StartManager(settings);

        var status = AwaitReady(manager);

        var counter = status.Plugins[Counter];
        Assert.Equal(PluginStatusState.Error, counter.State);
        Assert.StartsWith("config key 'value':", counter.Error);
        Assert.Equal(PluginStatusState.Active, status.Plugins[Echo].State);
        Assert.Equal(PluginStatusState.Active, status.Plugins["chain-c"].State);
        Assert.Equal((2, 1), (status.Active, status.Errors));
    }

    [Fact]
    public void A_collectors_samples_reach_an_active_backend()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active);
        Succeeds(manager, new InitializePlugin(Counter, CounterConfig(3.5)), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);

        var echo = AwaitPlugin(manager, Echo, e =>
        {
            Assert.True(Number(e.Status, "samples") >= 6, "the backend got fewer than 3 collections");
            Assert.True(Assert.IsType<BackendRuntime>(e.Runtime).SamplesWritten >= 6, "the backend's actor counted fewer than 3 collections");
        });

        Assert.Equal(Counter, echo.Status!["sources"]);
        Assert.Contains(CountingCollector.ValueMetric, (string)echo.Status["metrics"]!);
        // The node's pipeline (the manager's own, in this test) accounts for the link: nothing dropped.
        var probe = CreateTestProbe();
        Sys.ActorSelection("/user/plugin-manager/pipeline").Tell(Tracelet.Actors.Pipeline.GetPipelineStatus.Instance, probe.Ref);
        var link = probe.ExpectMsg<Tracelet.Actors.Pipeline.CurrentPipelineStatus>(CommandTimeout).Links.Single();
        Assert.Equal((Echo, 0L), (link.Backend, link.DroppedTotal));
        Assert.Equal(link.Produced, link.Delivered + link.Waiting + link.InFlight);
        var counter = AwaitPlugin(manager, Counter, e => Assert.True(Assert.IsType<CollectorRuntime>(e.Runtime).SamplesProduced >= 6));
        Assert.Equal(0.05, ((CollectorRuntime)counter.Runtime!).IntervalSeconds, 3);
    }

    [Fact]
    public void A_json_config_file_gives_plugins_the_config_they_start_with()
    {
        var manager = StartManager();
        AwaitReady(manager);
        var file = Path.Combine(Node.DataDirectory, "plugins.json");
        File.WriteAllText(file, """
            {
              // comments and trailing commas are allowed, as in the seed's config files
              "test-counter": { "enabled": true, "config": { "interval": "50ms", "value": 9, "label": "from-json", }, },
            }
            """);

        var loaded = Ask<PluginConfigLoaded>(manager, new LoadPluginConfig(file));
        Assert.Null(loaded.Error);
        Assert.Equal<string>([Counter], loaded.Plugins);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        AwaitPlugin(manager, Counter, e => Assert.Equal("from-json", e.Status?["label"]));

        var broken = Path.Combine(Node.DataDirectory, "broken.json");
        File.WriteAllText(broken, "{\n  \"test-echo\": { \"enabled\": tru }\n}\n");
        var refused = Ask<PluginConfigLoaded>(manager, new LoadPluginConfig(broken));
        Assert.Empty(refused.Plugins);
        Assert.StartsWith($"{broken}:2: not valid JSON", refused.Error);
    }

    [Fact]
    public void Discovering_again_keeps_the_state_of_known_plugins()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active);
        var before = AwaitPlugin(manager, Echo, e => Assert.NotNull(e.Status));

        var discovered = Ask<PluginsDiscovered>(manager, DiscoverPlugins.Instance);

        Assert.Equal<string>(TestPluginNames.All, discovered.Plugins);
        Assert.Empty(discovered.Errors);
        var after = Status(manager).Plugins[Echo];
        Assert.Equal((PluginStatusState.Active, before.LastTransition), (after.State, after.LastTransition));
        Assert.Equal(before.Status!["instance"], after.Status!["instance"]);
    }

    [Fact]
    public void Stopping_all_plugins_for_shutdown_keeps_their_recorded_states_and_refuses_new_work()
    {
        var manager = StartManager();
        AwaitReady(manager);
        Succeeds(manager, new StartPlugin("chain-c"), PluginState.Active);
        Succeeds(manager, new StartPlugin("chain-b"), PluginState.Active);
        Succeeds(manager, new StartPlugin(Echo), PluginState.Active);
        AwaitPlugin(manager, Echo, e => Assert.NotNull(e.Status));

        Ask<AllPluginsStopped>(manager, StopAllPlugins.Instance);

        // The journal still says active, so the node comes back as it was; the instances are gone.
        var status = Status(manager);
        Assert.All(["chain-c", "chain-b", Echo], name =>
        {
            Assert.Equal(PluginStatusState.Active, status.Plugins[name].State);
            Assert.Null(status.Plugins[name].Status);
        });
        var refused = Fails(manager, new StartPlugin(Counter));
        Assert.Equal("the node is shutting down", refused.Reason);
    }

    [Fact]
    public void Discovery_errors_are_reported_in_status_and_the_first_plugin_of_a_name_wins()
    {
        var assembly = typeof(CountingCollector).Assembly;
        var settings = Node.Settings;
        var manager = Sys.ActorOf(PluginManagerActor.Props(settings,
            () => PluginDiscovery.Discover(settings.Discovery, ImmutableDictionary<string, string>.Empty, [assembly, assembly])));

        var status = AwaitReady(manager);

        Assert.Equal(TestPluginNames.All, status.Plugins.Keys);
        Assert.Equal(TestPluginNames.All.Length, status.DiscoveryErrors.Length);
        Assert.Contains(status.DiscoveryErrors, e => e.StartsWith($"duplicate plugin name '{Counter}'", StringComparison.Ordinal));

        // Registering a known type again is no error; a type that is no plugin is named.
        var registered = Ask<PluginsDiscovered>(manager, new RegisterPlugins([typeof(EchoBackend), typeof(string)]));
        Assert.Equal<string>(TestPluginNames.All, registered.Plugins);
        Assert.Contains(registered.Errors, e => e.Contains("System.String is not a plugin type", StringComparison.Ordinal));
    }
}
