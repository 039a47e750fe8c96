using System.Collections.Concurrent;
using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>The call watchdog: a plugin call running past call-timeout is shown as stuck, and only shown.</summary>
public sealed class WatchdogSpec : PluginManagerSpecBase
{
    public WatchdogSpec(ITestOutputHelper output)
        : base(TestNode.Create("tracelet.plugin-manager.call-timeout = 300ms"), "watchdog-spec", output)
    {
    }

    [Fact]
    public void A_collection_that_never_returns_shows_as_stuck_after_the_call_timeout_and_clears_when_it_returns()
    {
        var run = Guid.NewGuid().ToString("N");
        var manager = StartManager(discover: () => PluginDiscovery.Discover(Node.Settings.Discovery, ImmutableDictionary<string, string>.Empty, [typeof(HangingCollector).Assembly]));
        AwaitReady(manager);
        var config = PluginConfig.Parse($$"""{ "interval": "50ms", "run": "{{run}}" }""");
        Succeeds(manager, new InitializePlugin(HangingCollector.PluginName, config), PluginState.Initialized);
        var startedAt = DateTimeOffset.UtcNow;
        Succeeds(manager, new StartPlugin(HangingCollector.PluginName), PluginState.Active);

        // Its first collection never returns and ignores its cancellation token: shown as stuck, still active.
        var stuck = AwaitPlugin(manager, HangingCollector.PluginName, e => Assert.NotNull(e.Runtime?.Stuck), within: TimeSpan.FromSeconds(5));
        Assert.Equal(PluginStatusState.Active, stuck.State);
        Assert.Equal("collect", stuck.Runtime!.Stuck!.Call);
        Assert.InRange(stuck.Runtime.Stuck.Since, startedAt.AddSeconds(-1), DateTimeOffset.UtcNow);
        Assert.Equal(1, stuck.Runtime.StuckCalls);
        var counters = Assert.IsType<CollectorRuntime>(stuck.Runtime);
        Assert.Equal(0, counters.Collections);
        Assert.True(counters.SkippedTicks > 0, "ticks during the stuck collection are skipped");

        // The watchdog cancels nothing: when the plugin returns by itself, stuck clears and collecting goes on.
        HangingCollector.Release(run);
        var cleared = AwaitPlugin(manager, HangingCollector.PluginName, e =>
        {
            Assert.Null(e.Runtime?.Stuck);
            Assert.True(Assert.IsType<CollectorRuntime>(e.Runtime).Collections >= 2, "collections go on after the stuck one returned");
        });
        Assert.Equal(1, cleared.Runtime!.StuckCalls);
        Assert.Equal(PluginStatusState.Active, cleared.State);
    }
}

/// <summary>
/// A collector whose first collection waits, ignoring its cancellation token, until the test
/// releases its <c>run</c>: a plugin stuck in a call that cannot be cancelled (a hung native call).
/// </summary>
public sealed class HangingCollector : CollectorPlugin
{
    public const string PluginName = "test-hanging";

    private static readonly ConcurrentDictionary<string, TaskCompletionSource> Gates = new(StringComparer.Ordinal);

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector);

    public static void Release(string run) => Gate(run).TrySetResult();

    public override async ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        await Gate(Config.GetString("run", "")).Task.ConfigureAwait(false);
        writer.Write("test.hanging.collected", 1);
    }

    private static TaskCompletionSource Gate(string run) => Gates.GetOrAdd(run, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
}
