using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>
/// A node's catalog across several discovery runs and upgrades: an unchanged file is recognised by
/// path and content hash, a changed one is offered as an update, and an upgrade's old context goes
/// away once nothing runs from it.
/// </summary>
[Trait("Category", "Discovery")]
public sealed class PluginCatalogSpec : IDisposable
{
    private const string SwapCounter = "swap-counter";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "tracelet-tests", "catalog-" + Guid.NewGuid().ToString("N"));

    public PluginCatalogSpec() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // The temp folder is cleaned by the OS.
        }
    }

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    private static PluginCatalog Catalog(params string[] paths) =>
        new(new DiscoverySettings([], [.. paths], UserDirectory: false, EnvironmentVariable: false), ImmutableDictionary<string, string>.Empty);

    /// <summary>Load contexts that hold a version of <paramref name="file"/> (a context is named after its file).</summary>
    private static int ContextsFor(string file) => AssemblyLoadContext.All.Count(c => c.Name == file);

    [Fact]
    public void Discovery_again_returns_the_same_types_without_errors_and_loads_nothing_again()
    {
        var folder = Folder("plugins");
        var file = PluginFixtures.Deploy(typeof(CountingCollector).Assembly.Location, Path.Combine(folder, "Tracelet.TestPlugins.dll"));
        var catalog = Catalog(folder);
        Func<DiscoveryResult> discover = catalog.Discover; // the shape the PluginManager takes

        var first = discover();
        var second = discover();

        Assert.Empty(first.Errors);
        Assert.Empty(second.Errors);
        Assert.Empty(second.Updates);
        Assert.Equal(first.Plugins.Length, second.Plugins.Length);
        Assert.All(first.Plugins.Zip(second.Plugins, (a, b) => (First: a, Second: b)), pair =>
        {
            Assert.Same(pair.First.PluginType, pair.Second.PluginType);
            Assert.Same(pair.First, pair.Second);
        });
        Assert.Equal(1, ContextsFor(file));
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));
        Assert.All(second.Plugins, p => Assert.Equal((file, hash), (p.AssemblyPath, p.ContentHash)));
    }

    [Fact]
    public void A_changed_file_is_reported_as_an_update_and_not_loaded_over_the_running_version()
    {
        var folder = Folder("plugins");
        var file = PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V1);
        var catalog = Catalog(folder);
        var running = Assert.Single(catalog.Discover().Plugins);

        PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V2);
        var afterChange = catalog.Discover();
        var again = catalog.Discover();

        Assert.Empty(afterChange.Errors);
        Assert.Same(running, Assert.Single(afterChange.Plugins));
        Assert.Equal("1.0.0", running.Metadata.Version);
        Assert.Equal(new PluginUpdate(SwapCounter, "1.0.0", "2.0.0", file), Assert.Single(afterChange.Updates));
        Assert.Equal<PluginUpdate>(afterChange.Updates, again.Updates);
        Assert.Same(running, Assert.Single(again.Plugins));
    }

    [Fact]
    public void An_upgrade_loads_the_new_version_beside_the_old_one_and_commit_makes_it_the_known_version()
    {
        var folder = Folder("plugins");
        PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V1);
        var catalog = Catalog(folder);
        var running = Assert.Single(catalog.Discover().Plugins);
        PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V2);

        var load = catalog.LoadUpgrade(running);

        Assert.Null(load.Error);
        var candidate = load.Candidate!;
        Assert.Equal((SwapCounter, "2.0.0"), (candidate.Name, candidate.Metadata.Version));
        Assert.NotSame(running.LoadContext, candidate.LoadContext);
        Assert.NotSame(running.PluginType, candidate.PluginType);
        Assert.Equal("2.0.0", candidate.CreateInstance().Metadata.Version);
        // Until it is committed, discovery still returns the running version and offers the update.
        Assert.Same(running, Assert.Single(catalog.Discover().Plugins));

        catalog.Commit(candidate);
        var afterCommit = catalog.Discover();

        Assert.Same(candidate, Assert.Single(afterCommit.Plugins));
        Assert.Empty(afterCommit.Updates);
        Assert.Empty(afterCommit.Errors);
    }

    [Fact]
    public void Release_unloads_the_old_version_once_nothing_runs_from_it()
    {
        var folder = Folder("plugins");
        PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V1);
        var catalog = Catalog(folder);

        var (oldContext, candidate) = UpgradeAndRelease(catalog, folder);

        AssertCollected(oldContext);
        Assert.Equal("2.0.0", candidate.CreateInstance().Metadata.Version);
        Assert.Same(candidate, Assert.Single(catalog.Discover().Plugins));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference OldContext, PluginDescriptor Candidate) UpgradeAndRelease(PluginCatalog catalog, string folder)
    {
        var running = Assert.Single(catalog.Discover().Plugins);
        PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V2);
        var candidate = catalog.LoadUpgrade(running).Candidate!;
        var unloading = false;
        running.LoadContext!.Unloading += _ => unloading = true;
        catalog.Commit(candidate);
        catalog.Release(running);
        Assert.True(unloading, "Release should unload the old version's context");
        return (new WeakReference(running.LoadContext), candidate);
    }

    [Fact]
    public void A_rolled_back_candidate_is_unloaded_and_the_running_version_stays()
    {
        var folder = Folder("plugins");
        var file = PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V1);
        var catalog = Catalog(folder);
        var running = Assert.Single(catalog.Discover().Plugins);

        var candidateContext = LoadBrokenAndRollBack(catalog, folder, running);

        AssertCollected(candidateContext);
        var result = catalog.Discover();
        Assert.Same(running, Assert.Single(result.Plugins));
        Assert.Equal(new PluginUpdate(SwapCounter, "1.0.0", "3.0.0", file), Assert.Single(result.Updates));
        Assert.Equal("1.0.0", running.CreateInstance().Metadata.Version);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference LoadBrokenAndRollBack(PluginCatalog catalog, string folder, PluginDescriptor running)
    {
        PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.Broken);
        var candidate = catalog.LoadUpgrade(running).Candidate!;
        Assert.Equal("3.0.0", candidate.Metadata.Version);
        catalog.Release(candidate);
        catalog.Release(running); // the running version: nothing happens
        return new WeakReference(candidate.LoadContext);
    }

    [Fact]
    public void A_shared_assembly_keeps_its_context_while_any_of_its_plugins_runs_from_it()
    {
        var folder = Folder("plugins");
        var file = PluginFixtures.Deploy(typeof(CountingCollector).Assembly.Location, Path.Combine(folder, "Tracelet.TestPlugins.dll"));
        var catalog = Catalog(folder);
        var plugins = catalog.Discover().Plugins;
        var counter = plugins.Single(p => p.Name == CountingCollector.PluginName);
        var oldContext = counter.LoadContext!;
        var unloaded = false;
        oldContext.Unloading += _ => unloaded = true;
        // New content with the same code: a trailing byte changes the hash, not the assembly.
        File.AppendAllText(file, " ");

        var update = catalog.Discover().Updates;
        var candidate = catalog.LoadUpgrade(counter).Candidate!;
        catalog.Commit(candidate);
        catalog.Release(counter);

        Assert.Equal(TestPluginNames.All.Length, update.Length);
        Assert.False(unloaded, "the other plugins of the file still run from the old context");
        var echo = plugins.Single(p => p.Name == EchoBackend.PluginName);
        Assert.Same(oldContext, echo.LoadContext);
        Assert.Equal(EchoBackend.PluginName, echo.CreateInstance().Metadata.Name);

        // Upgrading every other plugin of the file frees the old context.
        foreach (var other in plugins.Where(p => p != counter))
        {
            var next = catalog.LoadUpgrade(other);
            Assert.Same(candidate.LoadContext, next.Candidate!.LoadContext); // one context per file version
            catalog.Commit(next.Candidate);
            catalog.Release(other);
        }
        Assert.True(unloaded);
        Assert.Empty(catalog.Discover().Updates);
    }

    [Fact]
    public void An_upgrade_that_cannot_be_loaded_says_why_and_the_running_version_stays()
    {
        var folder = Folder("plugins");
        var file = PluginFixtures.CopySwapPlugin(folder, SwapPluginVersion.V1);
        var catalog = Catalog(folder);
        var running = Assert.Single(catalog.Discover().Plugins);

        var unchanged = catalog.LoadUpgrade(running).Error;
        PluginFixtures.Deploy(typeof(CountingCollector).Assembly.Location, file);
        var pluginGone = catalog.LoadUpgrade(running).Error;
        PluginFixtures.Deploy(PluginFixtures.FutureAbiPluginBuild, file);
        var abi = catalog.LoadUpgrade(running).Error;
        File.Delete(file);
        var fileGone = catalog.LoadUpgrade(running).Error;
        var builtIn = catalog.LoadUpgrade(running with { AssemblyPath = null, ContentHash = null, Origin = "built-in:Tracelet.Collectors" }).Error;

        Assert.Equal($"plugin '{SwapCounter}' is already running this version of {file} (1.0.0, content unchanged)", unchanged);
        Assert.Equal($"plugin '{SwapCounter}' is no longer in {file}; the running version stays", pluginGone);
        Assert.Equal(
            $"plugin '{SwapCounter}': the new content of {file} cannot be used: plugin assembly {file} was built against Tracelet.Abstractions 2.0.0; " +
            "this node runs 1.x (1.0.0): a plugin needs the same major version",
            abi);
        Assert.Equal($"plugin '{SwapCounter}': its assembly {file} is gone; the running version stays", fileGone);
        Assert.Equal($"plugin '{SwapCounter}' comes from built-in:Tracelet.Collectors, not from a plugin folder file: only a folder plugin can be upgraded", builtIn);
        Assert.Equal("1.0.0", running.CreateInstance().Metadata.Version);
    }

    private static void AssertCollected(WeakReference reference)
    {
        for (var i = 0; i < 20 && reference.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.False(reference.IsAlive, "the unloaded load context should have been collected");
    }
}
