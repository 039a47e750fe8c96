using System.Collections.Immutable;
using System.Runtime.Loader;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>
/// Discovery from plugin folders holding the built Tracelet.TestPlugins.dll (copied from this test
/// project's output, where the build put it), as a plugin author would deploy it: without
/// Tracelet.Abstractions.dll, which the host shares.
/// </summary>
[Trait("Category", "Discovery")]
public sealed class DiscoverySpec : IDisposable
{
    private static readonly ImmutableDictionary<string, string> NoEnvironment = ImmutableDictionary<string, string>.Empty;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "tracelet-tests", "discovery-" + Guid.NewGuid().ToString("N"));

    public DiscoverySpec() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Loaded plugin files may still be mapped; the temp folder is cleaned by the OS.
        }
    }

    private static string BuiltPluginAssembly
    {
        get
        {
            var path = typeof(CountingCollector).Assembly.Location;
            Assert.True(File.Exists(path), $"the build should have put Tracelet.TestPlugins.dll at {path}");
            return path;
        }
    }

    /// <summary>A plugin folder (optionally nested) holding a copy of the test plugins.</summary>
    private string PluginFolder(string name, string? subFolder = null)
    {
        var folder = Path.Combine(_root, name);
        var target = subFolder is null ? folder : Path.Combine(folder, subFolder);
        Directory.CreateDirectory(target);
        File.Copy(BuiltPluginAssembly, Path.Combine(target, Path.GetFileName(BuiltPluginAssembly)));
        return folder;
    }

    private static DiscoverySettings Settings(params string[] paths) => new([], [.. paths], UserDirectory: false, EnvironmentVariable: false);

    [Fact]
    public void Finds_every_plugin_of_an_assembly_in_a_plugin_folder()
    {
        var folder = PluginFolder("plugins", subFolder: "vendor");

        var result = PluginDiscovery.Discover(Settings(folder), NoEnvironment);

        Assert.Empty(result.Errors);
        Assert.Equal<string>(TestPluginNames.All, result.Plugins.Select(p => p.Name).Order(StringComparer.Ordinal));
        var file = Path.Combine(folder, "vendor", "Tracelet.TestPlugins.dll");
        Assert.All(result.Plugins, p => Assert.Equal(file, p.Origin));
        var counter = result.Plugins.Single(p => p.Name == CountingCollector.PluginName);
        Assert.Equal(("1.0.0", PluginType.Collector), (counter.Metadata.Version, counter.Metadata.Type));
        Assert.Equal<string>(["chain-b"], result.Plugins.Single(p => p.Name == "chain-a").Metadata.Dependencies);
    }

    [Fact]
    public void Loads_a_plugin_assembly_in_its_own_load_context_that_shares_the_sdk_with_the_host()
    {
        var folder = PluginFolder("plugins");

        var result = PluginDiscovery.Discover(Settings(folder), NoEnvironment);

        var counter = result.Plugins.Single(p => p.Name == CountingCollector.PluginName);
        var context = AssemblyLoadContext.GetLoadContext(counter.PluginType.Assembly);
        Assert.NotNull(context);
        Assert.NotSame(AssemblyLoadContext.Default, context);
        Assert.NotSame(typeof(CountingCollector), counter.PluginType); // not the copy this test project references
        Assert.Equal(typeof(CountingCollector).FullName, counter.PluginType.FullName);
        // The plugin's IPlugin and base classes are the host's types, so the runtime can call it.
        Assert.Same(typeof(IPlugin), counter.PluginType.GetInterface(nameof(IPlugin)));
        Assert.Same(typeof(CollectorPlugin), counter.PluginType.BaseType);
        Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(counter.PluginType.BaseType!.Assembly));
        var instance = counter.CreateInstance();
        Assert.IsAssignableFrom<CollectorPlugin>(instance);
        Assert.Equal(CountingCollector.PluginName, instance.Metadata.Name);
        // Every plugin of one assembly shares that assembly's context.
        Assert.All(result.Plugins, p => Assert.Same(context, AssemblyLoadContext.GetLoadContext(p.PluginType.Assembly)));
    }

    [Fact]
    public void Each_plugin_folder_gets_a_load_context_of_its_own()
    {
        var first = PluginFolder("first");
        var second = PluginFolder("second");

        var a = PluginDiscovery.Discover(Settings(first), NoEnvironment).Plugins.Single(p => p.Name == EchoBackend.PluginName);
        var b = PluginDiscovery.Discover(Settings(second), NoEnvironment).Plugins.Single(p => p.Name == EchoBackend.PluginName);

        Assert.NotSame(AssemblyLoadContext.GetLoadContext(a.PluginType.Assembly), AssemblyLoadContext.GetLoadContext(b.PluginType.Assembly));
        Assert.NotSame(a.PluginType, b.PluginType);
    }

    [Fact]
    public void A_duplicate_plugin_name_is_an_error_on_the_later_one_and_the_first_wins()
    {
        var first = PluginFolder("a-first");
        var second = PluginFolder("b-second");

        var result = PluginDiscovery.Discover(Settings(first, second), NoEnvironment);

        var firstFile = Path.Combine(first, "Tracelet.TestPlugins.dll");
        var secondFile = Path.Combine(second, "Tracelet.TestPlugins.dll");
        Assert.Equal<string>(TestPluginNames.All, result.Plugins.Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.All(result.Plugins, p => Assert.Equal(firstFile, p.Origin));
        Assert.Equal(TestPluginNames.All.Length, result.Errors.Length);
        var echo = Assert.Single(result.Errors, e => e.StartsWith($"duplicate plugin name '{EchoBackend.PluginName}'", StringComparison.Ordinal));
        Assert.Equal(
            $"duplicate plugin name 'test-echo': Tracelet.TestPlugins.EchoBackend from {secondFile} ignored; " +
            $"'test-echo' is already provided by Tracelet.TestPlugins.EchoBackend from {firstFile}",
            echo);
    }

    [Fact]
    public void Honours_TRACELET_PLUGIN_PATH_split_on_the_path_separator()
    {
        var missing = Path.Combine(_root, "not-there");
        var folder = PluginFolder("from-env");
        var environment = ImmutableDictionary<string, string>.Empty
            .Add(PluginDiscovery.PluginPathVariable, $"{missing}{Path.PathSeparator} {folder} {Path.PathSeparator}");
        var settings = Settings() with { EnvironmentVariable = true };

        var folders = PluginDiscovery.Folders(settings, environment);
        var result = PluginDiscovery.Discover(settings, environment);

        Assert.Equal<string>([missing, folder], folders);
        Assert.Empty(result.Errors);
        Assert.Equal(TestPluginNames.All.Length, result.Plugins.Length);
        Assert.All(result.Plugins, p => Assert.StartsWith(folder, p.Origin, StringComparison.Ordinal));
        // Switched off in the settings, the variable is ignored.
        Assert.Empty(PluginDiscovery.Discover(settings with { EnvironmentVariable = false }, environment).Plugins);
    }

    [Fact]
    public void Configured_paths_come_before_TRACELET_PLUGIN_PATH()
    {
        var configured = PluginFolder("configured");
        var fromEnvironment = PluginFolder("from-env");
        var environment = ImmutableDictionary<string, string>.Empty.Add(PluginDiscovery.PluginPathVariable, fromEnvironment);

        var result = PluginDiscovery.Discover(Settings(configured) with { EnvironmentVariable = true }, environment);

        Assert.All(result.Plugins, p => Assert.StartsWith(configured, p.Origin, StringComparison.Ordinal));
        Assert.Equal(TestPluginNames.All.Length, result.Errors.Length);
        Assert.All(result.Errors, e => Assert.Contains($"from {fromEnvironment}", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Files_that_are_not_managed_assemblies_are_skipped()
    {
        var folder = PluginFolder("plugins");
        File.WriteAllText(Path.Combine(folder, "libnative.dll"), "not a managed assembly");
        File.Copy(typeof(IPlugin).Assembly.Location, Path.Combine(folder, "Tracelet.Abstractions.dll"));

        var result = PluginDiscovery.Discover(Settings(folder), NoEnvironment);

        Assert.Empty(result.Errors);
        Assert.Equal(TestPluginNames.All.Length, result.Plugins.Length);
        var counter = result.Plugins.Single(p => p.Name == CountingCollector.PluginName);
        Assert.Same(typeof(IPlugin), counter.PluginType.GetInterface(nameof(IPlugin)));
    }

    [Fact]
    public void A_single_dll_in_the_configured_paths_loads_that_assembly()
    {
        var file = Path.Combine(PluginFolder("single"), "Tracelet.TestPlugins.dll");

        var result = PluginDiscovery.Discover(Settings(file), NoEnvironment);

        Assert.Empty(result.Errors);
        Assert.Equal<string>(TestPluginNames.All, result.Plugins.Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.All(result.Plugins, p => Assert.Equal(file, p.AssemblyPath));
    }

    [Fact]
    public void A_configured_path_that_does_not_exist_is_reported_by_name()
    {
        var folder = PluginFolder("present");
        var missing = Path.Combine(_root, "not-deployed", "vendor.dll");

        var result = PluginDiscovery.Discover(Settings(missing, folder), NoEnvironment);

        Assert.Equal($"plugin path {missing} (tracelet.discovery.paths) does not exist", Assert.Single(result.Errors));
        Assert.Equal(TestPluginNames.All.Length, result.Plugins.Length);
    }

    [Fact]
    public void A_plugin_built_against_another_major_version_of_the_sdk_is_refused_naming_both_versions()
    {
        var folder = Path.Combine(_root, "future");
        var file = PluginFixtures.Deploy(PluginFixtures.FutureAbiPluginBuild, Path.Combine(folder, PluginFixtures.FutureAbiPluginFile));

        var result = PluginDiscovery.Discover(Settings(folder), NoEnvironment);

        Assert.Empty(result.Plugins);
        Assert.Equal(
            $"plugin assembly {file} was built against Tracelet.Abstractions 2.0.0; this node runs 1.x (1.0.0): a plugin needs the same major version",
            Assert.Single(result.Errors));
    }
}
