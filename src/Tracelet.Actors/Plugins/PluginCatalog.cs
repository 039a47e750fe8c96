using System.Collections.Immutable;
using System.Reflection;
using System.Security.Cryptography;

namespace Tracelet.Actors.Plugins;

/// <summary>An upgrade candidate loaded by <see cref="PluginCatalog.LoadUpgrade"/>, or why there is none.</summary>
/// <param name="Candidate">The new version's descriptor, in a new load context; null on error.</param>
/// <param name="Error">Why the new version cannot be used; null when <paramref name="Candidate"/> is set.</param>
public sealed record PluginUpgradeLoad(PluginDescriptor? Candidate, string? Error);

/// <summary>
/// A node's plugin discovery, which remembers what it loaded. A plugin folder file is loaded once
/// per content: discovery again returns the same descriptors (the same Type objects) for a file
/// whose path and SHA-256 are unchanged, and reports a changed file as a <see cref="PluginUpdate"/>
/// without loading it over the running version. An upgrade loads the new content into a new
/// collectible context (<see cref="LoadUpgrade"/>), becomes the known version with
/// <see cref="Commit"/>, and the old context is unloaded by <see cref="Release"/> once none of its
/// plugins is the running version. Safe to call from any thread; calls are serialised.
/// </summary>
public sealed class PluginCatalog : IPluginUpgradeSource
{
    private readonly Lock _gate = new();
    private readonly DiscoverySettings _settings;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly ImmutableArray<Assembly> _extraAssemblies;

    // Built-in and registered assemblies live in the default context and never change: scanned once.
    private (ImmutableArray<PluginDescriptor> Plugins, ImmutableArray<string> Errors)? _hostScan;

    // Per file: the running version of each plugin it provided (several versions may coexist while
    // one plugin of a shared file is upgraded and the others are not).
    private readonly Dictionary<string, Dictionary<string, PluginDescriptor>> _running = new(StringComparer.Ordinal);

    // Every loaded version whose context is still alive, by file and content hash.
    private readonly Dictionary<(string Path, string Hash), LoadedVersion> _versions = [];

    // Candidates handed out by LoadUpgrade and neither committed nor released: they keep their context.
    private readonly HashSet<PluginDescriptor> _candidates = new(ReferenceEqualityComparer.Instance);

    // Content that was read without keeping a context (no plugin in it, refused, or an update probe),
    // so that discovery again does not load it again.
    private readonly Dictionary<string, Scan> _scans = new(StringComparer.Ordinal);

    public PluginCatalog(DiscoverySettings settings, IReadOnlyDictionary<string, string> environment, IEnumerable<Assembly>? extraAssemblies = null)
    {
        _settings = settings;
        _environment = environment;
        _extraAssemblies = [.. extraAssemblies ?? []];
    }

    /// <summary>
    /// Runs discovery; compatible with the PluginManager's <c>Func&lt;DiscoveryResult&gt;</c>. Never
    /// throws for a bad plugin, file or path: those become errors in the result.
    /// </summary>
    public DiscoveryResult Discover()
    {
        lock (_gate)
        {
            var run = new Run();
            var host = _hostScan ??= ScanHost();
            run.Errors.AddRange(host.Errors);
            foreach (var d in host.Plugins) run.Add(d);

            foreach (var (path, mustExist) in PluginDiscovery.Sources(_settings, _environment))
            {
                IEnumerable<string> files;
                var single = File.Exists(path);
                if (single) files = [path];
                else if (Directory.Exists(path))
                {
                    files = Directory.EnumerateFiles(path, "*.dll", SearchOption.AllDirectories)
                        .Where(f => !string.Equals(Path.GetFileNameWithoutExtension(f), PluginDiscovery.AbstractionsAssembly, StringComparison.Ordinal))
                        .Order(StringComparer.Ordinal);
                }
                else
                {
                    if (mustExist) run.Errors.Add($"plugin path {path} (tracelet.discovery.paths) does not exist");
                    continue;
                }
                foreach (var file in files) DiscoverFile(file, explicitFile: single, run);
            }
            return new DiscoveryResult([.. run.Plugins], [.. run.Errors], [.. run.Updates]);
        }
    }

    /// <summary>
    /// Loads the plugin folder file of <paramref name="current"/> as it is now into a new collectible
    /// context and returns the plugin of the same name from it, checked (ABI, same plugin type). The
    /// candidate holds its context until it is passed to <see cref="Commit"/> or <see cref="Release"/>.
    /// </summary>
    public PluginUpgradeLoad LoadUpgrade(PluginDescriptor current)
    {
        lock (_gate)
        {
            var name = current.Name;
            if (current.AssemblyPath is not { } path || current.ContentHash is null)
                return Failed($"plugin '{name}' comes from {current.Origin}, not from a plugin folder file: only a folder plugin can be upgraded");
            byte[] image;
            try
            {
                image = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return Failed($"plugin '{name}': its assembly {path} is gone; the running version stays");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Failed($"plugin '{name}': its assembly {path} could not be read: {e.Message}");
            }
            var hash = Hash(image);
            if (hash == current.ContentHash)
                return Failed($"plugin '{name}' is already running this version of {path} ({current.Metadata.Version}, content unchanged)");

            var errors = new List<string>();
            var version = Load(path, hash, image, errors);
            if (version is null)
                return Failed($"plugin '{name}': the new content of {path} cannot be used: {string.Join("; ", errors)}");
            var candidate = version.Plugins.FirstOrDefault(d => d.Name == name);
            string? problem = null;
            if (candidate is null)
            {
                var scanErrors = errors.Count > 0 ? $" ({string.Join("; ", errors)})" : "";
                problem = $"plugin '{name}' is no longer in {path}{scanErrors}; the running version stays";
            }
            else if (candidate.Metadata.Type != current.Metadata.Type)
                problem = $"plugin '{name}' was a {Kind(current)}, the new version in {path} is a {Kind(candidate)}: an upgrade keeps the plugin type";
            if (problem is not null)
            {
                UnloadIfUnused(version);
                return Failed(problem);
            }
            _candidates.Add(candidate!);
            return new PluginUpgradeLoad(candidate, null);
        }

        static PluginUpgradeLoad Failed(string error) => new(null, error);
        static string Kind(PluginDescriptor d) => d.Metadata.Type.ToString().ToLowerInvariant();
    }

    /// <summary>
    /// Makes <paramref name="candidate"/> the running version of its plugin: discovery from now on
    /// returns it for its file and content, and reports no update for it.
    /// </summary>
    public void Commit(PluginDescriptor candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate.AssemblyPath);
        lock (_gate)
        {
            _candidates.Remove(candidate);
            if (!_running.TryGetValue(candidate.AssemblyPath, out var plugins))
                _running[candidate.AssemblyPath] = plugins = new Dictionary<string, PluginDescriptor>(StringComparer.Ordinal);
            plugins[candidate.Name] = candidate;
        }
    }

    /// <summary>
    /// Says <paramref name="descriptor"/> is no longer used (the old version after an upgrade, or a
    /// candidate that was rolled back). Its load context is unloaded once none of its plugins is the
    /// running version or a pending candidate. Releasing the running version does nothing.
    /// </summary>
    public void Release(PluginDescriptor descriptor)
    {
        if (descriptor.AssemblyPath is null || descriptor.ContentHash is null) return;
        lock (_gate)
        {
            if (IsRunning(descriptor)) return;
            _candidates.Remove(descriptor);
            if (_versions.TryGetValue((descriptor.AssemblyPath, descriptor.ContentHash), out var version))
                UnloadIfUnused(version);
        }
    }

    private void DiscoverFile(string file, bool explicitFile, Run run)
    {
        byte[] image;
        try
        {
            image = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            run.Errors.Add($"plugin assembly {file} could not be read: {e.Message}");
            return;
        }
        var hash = Hash(image);

        if (_running.TryGetValue(file, out var running) && running.Count > 0)
        {
            var plugins = running.Values.OrderBy(d => d.PluginType.FullName, StringComparer.Ordinal).ToList();
            foreach (var d in plugins) run.Add(d);
            foreach (var hashLoaded in plugins.Select(d => d.ContentHash!).Distinct(StringComparer.Ordinal))
            {
                if (_versions.TryGetValue((file, hashLoaded), out var own)) run.Errors.AddRange(own.Errors);
            }
            var stale = plugins.Where(d => d.ContentHash != hash).ToList();
            if (stale.Count > 0) ReportUpdates(file, hash, image, stale, run);
            return;
        }

        if (_versions.TryGetValue((file, hash), out var loaded))
        {
            StartRunning(loaded);
            run.Errors.AddRange(loaded.Errors);
            foreach (var d in loaded.Plugins) run.Add(d);
            return;
        }
        if (_scans.TryGetValue(file, out var scan) && scan.Hash == hash)
        {
            run.Errors.AddRange(scan.Errors);
            return;
        }

        var errors = new List<string>();
        var version = Load(file, hash, image, errors, explicitFile);
        run.Errors.AddRange(errors);
        if (version is null)
        {
            _scans[file] = new Scan(hash, [.. errors], ImmutableDictionary<string, string>.Empty);
            return;
        }
        StartRunning(version);
        foreach (var d in version.Plugins) run.Add(d);
    }

    /// <summary>Reads the versions in a changed file (once per content) and reports the plugins it would upgrade.</summary>
    private void ReportUpdates(string file, string hash, byte[] image, List<PluginDescriptor> stale, Run run)
    {
        if (!_scans.TryGetValue(file, out var scan) || scan.Hash != hash)
        {
            var errors = new List<string>();
            ImmutableDictionary<string, string> versions;
            if (_versions.TryGetValue((file, hash), out var candidate))
                versions = candidate.Plugins.ToImmutableDictionary(d => d.Name, d => d.Metadata.Version, StringComparer.Ordinal);
            else
            {
                // A probe: load, read the versions, unload right away; only strings survive it.
                var probe = Load(file, hash, image, errors);
                versions = probe is null
                    ? ImmutableDictionary<string, string>.Empty
                    : probe.Plugins.ToImmutableDictionary(d => d.Name, d => d.Metadata.Version, StringComparer.Ordinal);
                if (probe is not null) UnloadIfUnused(probe);
            }
            scan = new Scan(hash, [.. errors.Select(e => $"a new version of {file} cannot be loaded: {e}")], versions);
            _scans[file] = scan;
        }
        run.Errors.AddRange(scan.Errors);
        foreach (var d in stale)
        {
            if (scan.Versions.TryGetValue(d.Name, out var available))
                run.Updates.Add(new PluginUpdate(d.Name, d.Metadata.Version, available, file));
        }
    }

    /// <summary>
    /// Loads one content of a file into a new collectible context and scans it. Returns null, with
    /// the reason in <paramref name="errors"/> when there is one, for content that holds no plugin;
    /// its context is unloaded then.
    /// </summary>
    private LoadedVersion? Load(string file, string hash, byte[] image, List<string> errors, bool explicitFile = true)
    {
        if (_versions.TryGetValue((file, hash), out var known)) return known;
        if (!PluginDiscovery.TryReadAbstractionsReference(image, out var builtAgainst))
        {
            // A native library beside a plugin is not ours to scan; a file named in the settings is.
            if (explicitFile) errors.Add($"plugin assembly {file} is not a managed assembly");
            return null;
        }
        if (builtAgainst is null)
        {
            if (explicitFile) errors.Add($"plugin assembly {file} does not reference {PluginDiscovery.AbstractionsAssembly}, so it holds no plugin");
            return null;
        }
        if (PluginDiscovery.AbiProblem(file, builtAgainst) is { } abi)
        {
            errors.Add(abi);
            return null;
        }

        var context = new PluginLoadContext(file);
        Assembly assembly;
        try
        {
            assembly = context.LoadPlugin(image);
        }
        catch (Exception e) when (e is FileLoadException or IOException or BadImageFormatException)
        {
            context.Unload();
            errors.Add($"plugin assembly {file} could not be loaded: {e.Message}");
            return null;
        }
        var plugins = PluginDiscovery.ScanAssembly(assembly, file, errors)
            .Select(d => d with { AssemblyPath = file, ContentHash = hash, LoadContext = context })
            .ToImmutableArray();
        if (plugins.IsEmpty)
        {
            context.Unload();
            return null;
        }
        var version = new LoadedVersion(file, hash, context, plugins, [.. errors]);
        _versions[(file, hash)] = version;
        return version;
    }

    private void StartRunning(LoadedVersion version)
    {
        var plugins = new Dictionary<string, PluginDescriptor>(StringComparer.Ordinal);
        foreach (var d in version.Plugins) plugins.TryAdd(d.Name, d);
        _running[version.Path] = plugins;
    }

    private bool IsRunning(PluginDescriptor d) =>
        _running.TryGetValue(d.AssemblyPath!, out var plugins) && plugins.TryGetValue(d.Name, out var running) && ReferenceEquals(running, d);

    private void UnloadIfUnused(LoadedVersion version)
    {
        if (version.Plugins.Any(d => IsRunning(d) || _candidates.Contains(d))) return;
        _versions.Remove((version.Path, version.Hash));
        version.Context.Unload();
    }

    private (ImmutableArray<PluginDescriptor> Plugins, ImmutableArray<string> Errors) ScanHost()
    {
        var plugins = new List<PluginDescriptor>();
        var errors = new List<string>();
        foreach (var name in _settings.BuiltInAssemblies)
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
            plugins.AddRange(PluginDiscovery.ScanAssembly(assembly, $"built-in:{name}", errors));
        }
        foreach (var assembly in _extraAssemblies)
            plugins.AddRange(PluginDiscovery.ScanAssembly(assembly, $"registered:{assembly.GetName().Name}", errors));
        return ([.. plugins], [.. errors]);
    }

    private static string Hash(byte[] image) => Convert.ToHexStringLower(SHA256.HashData(image));

    private sealed record LoadedVersion(string Path, string Hash, PluginLoadContext Context, ImmutableArray<PluginDescriptor> Plugins, ImmutableArray<string> Errors);

    private sealed record Scan(string Hash, ImmutableArray<string> Errors, IReadOnlyDictionary<string, string> Versions);

    /// <summary>One discovery run: the first plugin of a name wins, a later one is reported.</summary>
    private sealed class Run
    {
        private readonly Dictionary<string, PluginDescriptor> _seen = new(StringComparer.Ordinal);

        public List<PluginDescriptor> Plugins { get; } = [];

        public List<string> Errors { get; } = [];

        public List<PluginUpdate> Updates { get; } = [];

        public void Add(PluginDescriptor descriptor)
        {
            if (_seen.TryGetValue(descriptor.Name, out var first))
            {
                Errors.Add($"duplicate plugin name '{descriptor.Name}': {descriptor.PluginType.FullName} from {descriptor.Origin} " +
                           $"ignored; '{descriptor.Name}' is already provided by {first.PluginType.FullName} from {first.Origin}");
                return;
            }
            _seen[descriptor.Name] = descriptor;
            Plugins.Add(descriptor);
        }
    }
}
