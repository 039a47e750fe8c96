using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Persistence;

/// <summary>
/// A node that runs, crashes (its ActorSystem ends without StopAllPlugins) and comes back on the same
/// journal with the same node id. The TestKit's own system only hosts probes; each run gets a system of its own.
/// </summary>
public abstract class RecoverySpecBase : PluginManagerSpecBase
{
    protected const string Counter = CountingCollector.PluginName;
    protected const string Echo = EchoBackend.PluginName;
    protected const string Thrower = ThrowingCollector.PluginName;
    protected const string Native = NativeMissingCollector.PluginName;

    private protected RecoverySpecBase(TestNode node, string systemName, ITestOutputHelper output) : base(node, systemName, output)
    {
    }

    /// <summary>What the first run left behind, to compare with after recovery.</summary>
    protected sealed record FirstRunResult(string CounterInstance, string? NativeError);

    protected ActorSystem NewSystem(string name)
    {
        var system = ActorSystem.Create(name, Node.SystemConfig);
        InitializeLogger(system);
        return system;
    }

    /// <summary>
    /// Brings plugins to every kind of state: active with a config (counter, value 42), active without
    /// (echo), stopped by the operator (chain-c), failed for good (native), initialized only (thrower).
    /// Then the system ends as in a crash: the manager is never asked to stop its plugins.
    /// </summary>
    protected async Task<FirstRunResult> RunAndCrash(TraceletSettings settings)
    {
        var system = NewSystem("first-run");
        try
        {
            var manager = StartManager(settings, system);
            AwaitReady(manager, system);
            Succeeds(manager, new InitializePlugin(Counter, PluginConfig.Parse("""{ "interval": "50ms", "value": 42, "label": "before-crash" }""")), PluginState.Initialized, system);
            Succeeds(manager, new StartPlugin(Counter), PluginState.Active, system);
            Succeeds(manager, new StartPlugin(Echo), PluginState.Active, system);
            Succeeds(manager, new StartPlugin("chain-c"), PluginState.Active, system);
            Succeeds(manager, new StopPlugin("chain-c"), PluginState.Stopped, system);
            Succeeds(manager, new InitializePlugin(Thrower, PluginConfig.Parse("""{ "fail-in": "start" }""")), PluginState.Initialized, system);
            Succeeds(manager, new StartPlugin(Native), PluginState.Active, system);
            var native = AwaitState(manager, Native, PluginStatusState.Error, system);
            AwaitPlugin(manager, Echo, e => Assert.True(Number(e.Status, "samples") > 0), system);
            var counter = AwaitPlugin(manager, Counter, e => Assert.Equal(42d, Convert.ToDouble(e.Status?["value"])), system);

            // A status answer comes only after every pending transition is written: the crash loses nothing.
            var before = Status(manager, system);
            Assert.Equal((2, 1), (before.Active, before.Errors));
            return new FirstRunResult((string)counter.Status!["instance"]!, native.Error);
        }
        finally
        {
            await system.Terminate().WaitAsync(Dilated(CommandTimeout));
        }
    }

    /// <summary>Starts a new system on the same journal and checks every plugin is back where it was.</summary>
    protected async Task AssertRecovered(TraceletSettings settings, FirstRunResult first)
    {
        var system = NewSystem("second-run");
        try
        {
            var manager = StartManager(settings, system);
            var status = AwaitReady(manager, system);

            Assert.Equal(settings.NodeId, status.NodeId);
            Assert.Equal(PluginStatusState.Active, status.Plugins[Echo].State);
            Assert.Equal(PluginStatusState.Stopped, status.Plugins["chain-c"].State);
            Assert.Equal(PluginStatusState.Initialized, status.Plugins[Thrower].State);
            Assert.Equal((PluginStatusState.Error, first.NativeError), (status.Plugins[Native].State, status.Plugins[Native].Error));
            Assert.Equal(PluginStatusState.Discovered, status.Plugins["chain-a"].State);
            Assert.Equal((2, 1), (status.Active, status.Errors));

            // A new instance, started with the config the journal kept.
            var counter = AwaitPlugin(manager, Counter, e =>
            {
                Assert.Equal(PluginStatusState.Active, e.State);
                Assert.Equal(42d, Convert.ToDouble(e.Status?["value"]));
                Assert.Equal("before-crash", e.Status?["label"]);
            }, system);
            Assert.NotEqual(first.CounterInstance, counter.Status!["instance"]);
            AwaitPlugin(manager, Echo, e => Assert.True(Number(e.Status, "samples") > 0, "samples no longer reach the backend"), system);
        }
        finally
        {
            await system.Terminate().WaitAsync(Dilated(CommandTimeout));
        }
    }
}
