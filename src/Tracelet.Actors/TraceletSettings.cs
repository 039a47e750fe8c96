using System.Collections.Immutable;
using Akka.Configuration;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;

namespace Tracelet.Actors;

/// <summary>Which database holds the journal and snapshots.</summary>
public enum PersistenceProvider
{
    /// <summary>An embedded SQLite file per node (WAL mode).</summary>
    Sqlite,

    /// <summary>A shared PostgreSQL database.</summary>
    PostgreSql,
}

/// <summary>tracelet.persistence.</summary>
public sealed record PersistenceSettings(PersistenceProvider Provider, string ConnectionString, string Schema);

/// <summary>tracelet.plugin-manager.supervision.</summary>
public sealed record SupervisionSettings(TimeSpan MinBackoff, TimeSpan MaxBackoff, double RandomFactor, int MaxRestarts, TimeSpan Within);

/// <summary>tracelet.plugin-manager.</summary>
/// <param name="CallTimeout">A plugin call running longer is shown as stuck in status (never cancelled).</param>
public sealed record PluginManagerSettings(
    int SnapshotEvery,
    TimeSpan OperationTimeout,
    TimeSpan StatusInterval,
    SupervisionSettings Supervision,
    TimeSpan DrainTimeout,
    TimeSpan CallTimeout);

/// <summary>tracelet.discovery.</summary>
/// <param name="RescanInterval">How often plugin folders are looked at again for new versions (zero: only at start and on request).</param>
public sealed record DiscoverySettings(
    ImmutableArray<string> BuiltInAssemblies,
    ImmutableArray<string> Paths,
    bool UserDirectory,
    bool EnvironmentVariable,
    TimeSpan RescanInterval = default);

/// <summary>The node's Tracelet settings, parsed from the <c>tracelet</c> section.</summary>
public sealed record TraceletSettings(
    string NodeId,
    string DataDirectory,
    PersistenceSettings Persistence,
    PluginManagerSettings PluginManager,
    DiscoverySettings Discovery,
    ImmutableSortedDictionary<string, PluginSection> Plugins,
    Tracelet.Actors.Pipeline.PipelineSettings Pipeline)
{
    /// <summary>The persistence id of this node's PluginManager: derived from the node id, never from an address.</summary>
    public string PluginManagerPersistenceId => $"plugin-manager-{NodeId}";

    /// <summary>The SQLite file in the data directory (used when the provider is SQLite).</summary>
    public string SqliteFile => Path.Combine(DataDirectory, "tracelet.db");

    /// <summary>Parses settings from a configuration without file origins (tests, code-first hosting).</summary>
    public static TraceletSettings Create(Config config) =>
        Create(new LoadedConfig(config, ImmutableDictionary<string, SettingOrigin>.Empty));

    /// <summary>Parses settings; a bad value throws <see cref="TraceletConfigException"/> naming its file, line and key.</summary>
    public static TraceletSettings Create(LoadedConfig loaded)
    {
        var c = loaded.Config;
        var nodeId = loaded.Text("tracelet.node-id");
        if (string.IsNullOrWhiteSpace(nodeId)) nodeId = Environment.MachineName.ToLowerInvariant();
        if (nodeId.Any(ch => !(char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.')))
            throw loaded.Error("tracelet.node-id", $"'{nodeId}' may only hold letters, digits, '-', '_' and '.'");

        var dataDir = loaded.Text("tracelet.data-dir");
        if (string.IsNullOrWhiteSpace(dataDir))
            dataDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".tracelet", "data");
        dataDir = Path.GetFullPath(ExpandHome(dataDir));

        var providerText = loaded.Text("tracelet.persistence.provider").ToLowerInvariant();
        var provider = providerText switch
        {
            "sqlite" => PersistenceProvider.Sqlite,
            "postgresql" or "postgres" => PersistenceProvider.PostgreSql,
            _ => throw loaded.Error("tracelet.persistence.provider", $"'{providerText}' is not a provider (use sqlite or postgresql)"),
        };
        var connection = loaded.Text("tracelet.persistence.connection-string");
        if (provider == PersistenceProvider.PostgreSql && string.IsNullOrWhiteSpace(connection))
            throw loaded.Error("tracelet.persistence.connection-string", "provider postgresql needs a connection string (or TRACELET_POSTGRES)");

        // A zero backoff restarts a failing plugin as fast as it fails (hundreds of times a minute).
        var supervision = new SupervisionSettings(
            loaded.PositiveDuration("tracelet.plugin-manager.supervision.min-backoff"),
            loaded.PositiveDuration("tracelet.plugin-manager.supervision.max-backoff"),
            loaded.Number("tracelet.plugin-manager.supervision.random-factor", 0, 1),
            (int)loaded.Integer("tracelet.plugin-manager.supervision.max-restarts", 0, 1000),
            loaded.PositiveDuration("tracelet.plugin-manager.supervision.within"));
        if (supervision.MaxBackoff < supervision.MinBackoff)
            throw loaded.Error("tracelet.plugin-manager.supervision.max-backoff",
                $"'{loaded.Text("tracelet.plugin-manager.supervision.max-backoff")}' is shorter than min-backoff ({loaded.Text("tracelet.plugin-manager.supervision.min-backoff")})");
        // Zero would mark every call stuck the moment it starts.
        var callTimeout = loaded.PositiveDuration("tracelet.plugin-manager.call-timeout");
        var manager = new PluginManagerSettings(
            (int)loaded.Integer("tracelet.plugin-manager.snapshot-every", 1, 1_000_000),
            loaded.Duration("tracelet.plugin-manager.operation-timeout"),
            loaded.Duration("tracelet.plugin-manager.status-interval"),
            supervision,
            loaded.Duration("tracelet.pipeline.flush-timeout"),
            callTimeout);
        var discovery = new DiscoverySettings(
            [.. c.GetStringList("tracelet.discovery.built-in-assemblies")],
            [.. c.GetStringList("tracelet.discovery.paths").Select(p => Path.GetFullPath(ExpandHome(p)))],
            loaded.Bool("tracelet.discovery.user-directory"),
            loaded.Bool("tracelet.discovery.environment-variable"),
            loaded.Duration("tracelet.discovery.rescan-interval"));

        var plugins = PluginSection.ReadAll(loaded);
        return new TraceletSettings(nodeId, dataDir, new PersistenceSettings(provider, connection, loaded.Text("tracelet.persistence.schema")),
            manager, discovery, plugins, Tracelet.Actors.Pipeline.PipelineSettings.Create(loaded));
    }

    /// <summary>Replaces a leading '~' with the user's home folder.</summary>
    public static string ExpandHome(string path) =>
        path.StartsWith('~') ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..] : path;
}
