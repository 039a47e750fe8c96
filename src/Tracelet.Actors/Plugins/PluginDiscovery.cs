using System.Collections.Immutable;
using System.Reflection;
using System.Text.RegularExpressions;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>What a discovery run found: the plugins, and what went wrong (duplicates, unloadable files).</summary>
public sealed record DiscoveryResult(ImmutableArray<PluginDescriptor> Plugins, ImmutableArray<string> Errors);

/// <summary>
/// Finds plugin types: built-in assemblies, then configured folders, then ~/.tracelet/plugins,
/// then TRACELET_PLUGIN_PATH. Every public, non-abstract IPlugin type with a parameterless
/// constructor counts (several per assembly). The order is deterministic (sources in that order,
/// files and types sorted by name); a name seen again is reported as an error on the later one and
/// never replaces the first.
/// </summary>
public static partial class PluginDiscovery
{
    /// <summary>The environment variable that lists extra plugin folders.</summary>
    public const string PluginPathVariable = "TRACELET_PLUGIN_PATH";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex ValidName();

    /// <summary>The folders to scan for these settings, in order.</summary>
    public static ImmutableArray<string> Folders(DiscoverySettings settings, IReadOnlyDictionary<string, string> environment)
    {
        var folders = ImmutableArray.CreateBuilder<string>();
        folders.AddRange(settings.Paths);
        if (settings.UserDirectory)
            folders.Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".tracelet", "plugins"));
        if (settings.EnvironmentVariable && environment.TryGetValue(PluginPathVariable, out var list))
        {
            foreach (var entry in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                folders.Add(Path.GetFullPath(TraceletSettings.ExpandHome(entry)));
        }
        return folders.Distinct().ToImmutableArray();
    }

    /// <summary>Runs discovery. Never throws for a bad plugin or file: those become errors in the result.</summary>
    public static DiscoveryResult Discover(DiscoverySettings settings, IReadOnlyDictionary<string, string> environment, IEnumerable<Assembly>? extraAssemblies = null)
    {
        var found = new List<PluginDescriptor>();
        var errors = new List<string>();
        var seen = new Dictionary<string, PluginDescriptor>(StringComparer.Ordinal);

        void Add(Assembly assembly, string origin)
        {
            foreach (var descriptor in ScanAssembly(assembly, origin, errors))
            {
                if (seen.TryGetValue(descriptor.Name, out var first))
                {
                    errors.Add($"duplicate plugin name '{descriptor.Name}': {descriptor.PluginType.FullName} from {descriptor.Origin} " +
                               $"ignored; '{descriptor.Name}' is already provided by {first.PluginType.FullName} from {first.Origin}");
                    continue;
                }
                seen[descriptor.Name] = descriptor;
                found.Add(descriptor);
            }
        }

        foreach (var name in settings.BuiltInAssemblies)
        {
            Assembly assembly;
            try
            {
                assembly = Assembly.Load(new AssemblyName(name));
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
            {
                errors.Add($"built-in plugin assembly '{name}' could not be loaded: {e.Message}");
                continue;
            }
            Add(assembly, $"built-in:{name}");
        }
        foreach (var assembly in extraAssemblies ?? [])
            Add(assembly, $"registered:{assembly.GetName().Name}");

        foreach (var folder in Folders(settings, environment))
        {
            if (!Directory.Exists(folder)) continue;
            var files = Directory.EnumerateFiles(folder, "*.dll", SearchOption.AllDirectories)
                .Where(f => !string.Equals(Path.GetFileName(f), "Tracelet.Abstractions.dll", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal);
            foreach (var file in files)
            {
                Assembly assembly;
                try
                {
                    AssemblyName.GetAssemblyName(file); // throws for native or corrupt files, before loading anything
                    assembly = new PluginLoadContext(file).LoadFromAssemblyPath(file);
                }
                catch (BadImageFormatException)
                {
                    continue; // a native library beside a plugin: not ours to scan
                }
                catch (Exception e) when (e is FileLoadException or IOException)
                {
                    errors.Add($"plugin assembly {file} could not be loaded: {e.Message}");
                    continue;
                }
                Add(assembly, file);
            }
        }
        return new DiscoveryResult([.. found], [.. errors]);
    }

    /// <summary>Finds the plugin types of one assembly, sorted by type name.</summary>
    public static IEnumerable<PluginDescriptor> ScanAssembly(Assembly assembly, string origin, List<string> errors)
    {
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException)
        {
            errors.Add($"plugin assembly {origin} could not be inspected: {e.Message}");
            yield break;
        }
        foreach (var type in types.Where(IsPluginType).OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            PluginMetadata? metadata = null;
            string? error = null;
            try
            {
                metadata = ((IPlugin)Activator.CreateInstance(type)!).Metadata;
            }
            catch (Exception e)
            {
                var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
                error = $"plugin type {type.FullName} from {origin} could not report its metadata: {cause.GetType().Name}: {cause.Message}";
            }
            if (error is not null)
            {
                errors.Add(error);
                continue;
            }
            if (metadata is null || !ValidName().IsMatch(metadata.Name ?? ""))
            {
                errors.Add($"plugin type {type.FullName} from {origin} has an invalid name '{metadata?.Name}' (letters, digits, '_', '-', '.'; at most 64)");
                continue;
            }
            yield return new PluginDescriptor(metadata, type, origin);
        }
    }

    private static bool IsPluginType(Type t) =>
        t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false } &&
        typeof(IPlugin).IsAssignableFrom(t) &&
        t.GetConstructor(Type.EmptyTypes) is not null;
}
