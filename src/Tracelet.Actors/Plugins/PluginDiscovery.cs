using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>What a discovery run found: the plugins, what went wrong (duplicates, unloadable files, missing paths), and newer versions waiting in plugin folders.</summary>
public sealed record DiscoveryResult(ImmutableArray<PluginDescriptor> Plugins, ImmutableArray<string> Errors, ImmutableArray<PluginUpdate> Updates)
{
    /// <summary>A result without updates.</summary>
    public DiscoveryResult(ImmutableArray<PluginDescriptor> plugins, ImmutableArray<string> errors)
        : this(plugins, errors, [])
    {
    }
}

/// <summary>
/// A plugin folder file changed since the running version of <paramref name="Name"/> was loaded
/// from it: <paramref name="AvailableVersion"/> can be loaded by an upgrade. Discovery never loads
/// it over the running version.
/// </summary>
public sealed record PluginUpdate(string Name, string CurrentVersion, string AvailableVersion, string AssemblyPath);

/// <summary>One type asked about by <see cref="PluginDiscovery.Describe"/>: its descriptor, or why it is not a plugin.</summary>
public sealed record DescribedType(PluginDescriptor? Descriptor, string? Error);

/// <summary>
/// Finds plugin types: built-in assemblies, then configured paths (folders or single .dll files),
/// then ~/.tracelet/plugins, then TRACELET_PLUGIN_PATH. Every public, non-abstract IPlugin type
/// with a parameterless constructor counts (several per assembly). The order is deterministic
/// (sources in that order, files and types sorted by name); a name seen again is reported as an
/// error on the later one and never replaces the first. A node keeps one <see cref="PluginCatalog"/>,
/// which remembers what it loaded; the static <see cref="Discover"/> is a one-shot run.
/// </summary>
public static partial class PluginDiscovery
{
    /// <summary>The environment variable that lists extra plugin folders.</summary>
    public const string PluginPathVariable = "TRACELET_PLUGIN_PATH";

    /// <summary>The plugin SDK's assembly name: shared with the host, never loaded from a plugin folder.</summary>
    public const string AbstractionsAssembly = "Tracelet.Abstractions";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex ValidName();

    /// <summary>The Tracelet.Abstractions version this node runs: the plugin ABI.</summary>
    public static Version HostAbstractionsVersion { get; } = typeof(IPlugin).Assembly.GetName().Version!;

    /// <summary>The paths to scan for these settings, in order (folders, or single assembly files).</summary>
    public static ImmutableArray<string> Folders(DiscoverySettings settings, IReadOnlyDictionary<string, string> environment) =>
        [.. Sources(settings, environment).Select(s => s.Path)];

    /// <summary>The paths to scan; only configured ones must exist (the user folder and the variable's entries are optional).</summary>
    internal static ImmutableArray<(string Path, bool MustExist)> Sources(DiscoverySettings settings, IReadOnlyDictionary<string, string> environment)
    {
        var sources = new List<(string Path, bool MustExist)>();
        sources.AddRange(settings.Paths.Select(p => (p, true)));
        if (settings.UserDirectory)
            sources.Add((Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".tracelet", "plugins"), false));
        if (settings.EnvironmentVariable && environment.TryGetValue(PluginPathVariable, out var list))
        {
            foreach (var entry in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                sources.Add((Path.GetFullPath(TraceletSettings.ExpandHome(entry)), false));
        }
        return [.. sources.DistinctBy(s => s.Path, StringComparer.Ordinal)];
    }

    /// <summary>
    /// A one-shot discovery run: every call loads plugin folder assemblies again, into new contexts.
    /// A node uses one <see cref="PluginCatalog"/> instead, whose <see cref="PluginCatalog.Discover"/>
    /// can run again. Never throws for a bad plugin or file: those become errors in the result.
    /// </summary>
    public static DiscoveryResult Discover(DiscoverySettings settings, IReadOnlyDictionary<string, string> environment, IEnumerable<Assembly>? extraAssemblies = null) =>
        new PluginCatalog(settings, environment, extraAssemblies).Discover();

    /// <summary>
    /// Describes one type: its descriptor, or why it is not a usable plugin (not a plugin type,
    /// metadata that throws, an invalid name). Looks at nothing else in its assembly.
    /// </summary>
    public static DescribedType Describe(Type type, string origin)
    {
        if (!IsPluginType(type))
            return new DescribedType(null, $"{type.FullName} is not a plugin type (public, non-abstract, IPlugin, parameterless constructor)");
        PluginMetadata? metadata;
        try
        {
            metadata = ((IPlugin)Activator.CreateInstance(type)!).Metadata;
        }
        catch (Exception e)
        {
            var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
            return new DescribedType(null, $"plugin type {type.FullName} from {origin} could not report its metadata: {cause.GetType().Name}: {cause.Message}");
        }
        if (metadata is null || !ValidName().IsMatch(metadata.Name ?? ""))
            return new DescribedType(null, $"plugin type {type.FullName} from {origin} has an invalid name '{metadata?.Name}' (letters, digits, '_', '-', '.'; at most 64)");
        return new DescribedType(new PluginDescriptor(metadata, type, origin), null);
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
            var described = Describe(type, origin);
            if (described.Error is not null) errors.Add(described.Error);
            else yield return described.Descriptor!;
        }
    }

    /// <summary>
    /// Reads which Tracelet.Abstractions a file was built against, without loading it. Returns false
    /// for a file that is not a managed assembly (a native library beside a plugin); a managed
    /// assembly that does not reference the SDK holds no plugin and gets a null version.
    /// </summary>
    internal static bool TryReadAbstractionsReference(byte[] image, out Version? version)
    {
        version = null;
        try
        {
            using var pe = new PEReader(new MemoryStream(image, writable: false));
            if (!pe.HasMetadata) return false;
            var reader = pe.GetMetadataReader();
            if (!reader.IsAssembly) return false;
            foreach (var handle in reader.AssemblyReferences)
            {
                var reference = reader.GetAssemblyReference(handle);
                if (reader.StringComparer.Equals(reference.Name, AbstractionsAssembly))
                {
                    version = reference.Version;
                    break;
                }
            }
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// The ABI rule: a plugin built against another major version of Tracelet.Abstractions, or a newer
    /// one than this node runs, is refused (the runtime could not bind it, or it would call members
    /// this node lacks). Returns why, or null when the plugin may load.
    /// </summary>
    public static string? AbiProblem(string file, Version builtAgainst)
    {
        var host = HostAbstractionsVersion;
        if (builtAgainst.Major != host.Major)
            return $"plugin assembly {file} was built against {AbstractionsAssembly} {Format(builtAgainst)}; this node runs {host.Major}.x ({Format(host)}): a plugin needs the same major version";
        if (builtAgainst > host)
            return $"plugin assembly {file} was built against {AbstractionsAssembly} {Format(builtAgainst)}; this node runs {Format(host)}, which is older: upgrade the node or build the plugin against {Format(host)}";
        return null;
    }

    private static string Format(Version v) => v.ToString(3);

    private static bool IsPluginType(Type t) =>
        t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false, IsVisible: true } &&
        typeof(IPlugin).IsAssignableFrom(t) &&
        t.GetConstructor(Type.EmptyTypes) is not null;
}
