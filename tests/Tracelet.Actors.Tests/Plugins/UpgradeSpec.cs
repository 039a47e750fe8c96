using System.Collections.Immutable;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>
/// Hot swap of a folder plugin (swap-counter 1.0.0 → 2.0.0, and a broken 3.0.0) while a collector and a
/// backend run beside it, and re-discovery of the folder, through one <see cref="PluginCatalog"/> as a node has.
/// </summary>
[Trait("Category", "PluginManager")]
public sealed class UpgradeSpec : PluginManagerSpecBase
{
    private const string Swap = "swap-counter";
    private const string Echo = EchoBackend.PluginName;
    private const string Counter = CountingCollector.PluginName;

    private readonly string _folder;
    private readonly PluginCatalog _catalog;
    private readonly TraceletSettings _settings;

    public UpgradeSpec(ITestOutputHelper output) : base(TestNode.Create(), "upgrade-spec", output)
    {
        _folder = Path.Combine(Node.DataDirectory, "plugins");
        PluginFixtures.CopySwapPlugin(_folder, SwapPluginVersion.V1);
        _settings = Node.CreateSettings($$"""
            tracelet.discovery.paths = [{{TraceletConfigLoader.Quote(_folder)}}]
            tracelet.plugins.{{Swap}} { enabled = on, config { interval_ms = 50 } }
            tracelet.plugins.{{Echo}} { enabled = on }
            tracelet.plugins.{{Counter}} { enabled = on, config { interval = 50ms, value = 1 } }
            """);
        _catalog = new PluginCatalog(_settings.Discovery, ImmutableDictionary<string, string>.Empty, [typeof(EchoBackend).Assembly]);
    }

    private IActorRef StartNode()
    {
        var manager = StartManager(_settings, discover: _catalog.Discover, upgrades: _catalog);
        foreach (var name in new[] { Swap, Echo, Counter }) AwaitPlugin(manager, name, e => Assert.Equal(PluginStatusState.Active, e.State));
        AwaitPlugin(manager, Echo, e => Assert.Contains("swap.counter", (string)e.Status!["metrics"]!));
        return manager;
    }

    private static long Collections(PluginStatusEntry e) => Convert.ToInt64(e.Status!["collections"]);

    [Fact]
    public void Discovering_a_plugin_folder_again_reports_no_duplicates_and_keeps_every_state()
    {
        var manager = StartNode();
        var again = Ask<PluginsDiscovered>(manager, DiscoverPlugins.Instance);
        Assert.Empty(again.Errors);
        Assert.Contains(Swap, again.Plugins);
        var status = Status(manager);
        Assert.Empty(status.DiscoveryErrors);
        Assert.Equal((PluginStatusState.Active, "1.0.0"), (status.Plugins[Swap].State, status.Plugins[Swap].Version));
    }

    [Fact]
    public void An_upgrade_swaps_the_running_version_and_touches_no_other_plugin()
    {
        var manager = StartNode();
        var before = Status(manager);
        var echoBefore = before.Plugins[Echo];
        var counterBefore = before.Plugins[Counter];

        var deployed = PluginFixtures.CopySwapPlugin(_folder, SwapPluginVersion.V2);
        // Discovery (at start, on request, every rescan-interval) shows the new file without loading it over the running one.
        Assert.Empty(Ask<PluginsDiscovered>(manager, DiscoverPlugins.Instance).Errors);
        var offered = Status(manager).Plugins[Swap];
        Assert.Equal(($"2.0.0 ({deployed})", "1.0.0", PluginStatusState.Active), (offered.UpdateAvailable, offered.Version, offered.State));

        var upgraded = Assert.IsType<PluginOperationSucceeded>(Ask<PluginOperationResult>(manager, new UpgradePlugin(Swap)));
        Assert.Equal((PluginState.Active, "upgraded 1.0.0 -> 2.0.0"), (upgraded.State, upgraded.Detail));

        // The new version runs, under the same config, and its samples reach the backend.
        var swap = AwaitPlugin(manager, Swap, e => Assert.Equal(("2.0.0", "2.0.0"), (e.Version, (string?)e.Status?["version"])));
        AwaitPlugin(manager, Swap, e => Assert.True(Collections(e) > 3, "the new version does not collect"));
        Assert.Equal(PluginStatusState.Active, swap.State);
        // Neither the backend nor the other collector was restarted, and the backend kept receiving.
        var after = AwaitPlugin(manager, Echo, e => Assert.True(Convert.ToInt64(e.Status!["samples"]) > Convert.ToInt64(echoBefore.Status!["samples"])));
        Assert.Equal((echoBefore.LastTransition, echoBefore.Status!["instance"]), (after.LastTransition, after.Status!["instance"]));
        var counter = Status(manager).Plugins[Counter];
        Assert.Equal((counterBefore.LastTransition, 0), (counter.LastTransition, counter.Restarts));

        // Discovery afterwards knows 2.0.0 as the running version: no update, no duplicate.
        Assert.Empty(Ask<PluginsDiscovered>(manager, DiscoverPlugins.Instance).Errors);
        Assert.Equal(("2.0.0", null), (Status(manager).Plugins[Swap].Version, Status(manager).Plugins[Swap].UpdateAvailable));
    }

    [Fact]
    public void A_new_version_that_fails_to_start_is_rolled_back_to_the_running_one()
    {
        var manager = StartNode();
        PluginFixtures.CopySwapPlugin(_folder, SwapPluginVersion.Broken);

        var failed = Fails(manager, new UpgradePlugin(Swap));
        Assert.Equal(
            "upgrade to 3.0.0 failed: start failed: InvalidOperationException: swap-counter 3.0.0 is broken on purpose; rolled back to 1.0.0, which is active",
            failed.Reason);
        Assert.Equal(PluginState.Active, failed.State);
        var swap = AwaitPlugin(manager, Swap, e => Assert.True(Collections(e) > 3, "the rolled-back version does not collect"));
        Assert.Equal((PluginStatusState.Active, "1.0.0", "1.0.0"), (swap.State, swap.Version, (string?)swap.Status!["version"]));
    }

    [Fact]
    public void An_upgrade_with_nothing_new_is_refused_and_the_plugin_keeps_running()
    {
        var manager = StartNode();
        var refused = Fails(manager, new UpgradePlugin(Swap));
        Assert.Contains("already running this version", refused.Reason);
        Assert.Equal(PluginStatusState.Active, Status(manager).Plugins[Swap].State);

        var builtIn = Fails(manager, new UpgradePlugin(Counter));
        Assert.StartsWith($"upgrade of '{Counter}' failed:", builtIn.Reason);
    }
}
