using System.Collections.Immutable;
using Akka.Configuration;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;

namespace Tracelet.Actors.Tests;

/// <summary>
/// One test node's configuration: a fresh data directory (its SQLite journal lives there), fast
/// status refresh and tiny supervision backoffs, no built-in plugins and no user or environment
/// plugin folders. Deletes the directory when disposed.
/// </summary>
internal sealed class TestNode : IDisposable
{
    private readonly string _hocon;

    private TestNode(string dataDirectory, string nodeId, string hocon)
    {
        DataDirectory = dataDirectory;
        NodeId = nodeId;
        _hocon = hocon;
        Settings = CreateSettings();
        SystemConfig = TraceletRuntime.SystemConfig(Settings, TraceletConfig());
    }

    /// <summary>The node's data directory, under the system temp folder.</summary>
    public string DataDirectory { get; }

    public string NodeId { get; }

    /// <summary>The node's settings, without plugin sections.</summary>
    public TraceletSettings Settings { get; }

    /// <summary>The ActorSystem config: persistence (SQLite in the data directory, or what the extra HOCON says), Tracelet's serializer bindings.</summary>
    public Config SystemConfig { get; }

    public string SqliteFile => Settings.SqliteFile;

    /// <param name="extraHocon">Overrides for the <c>tracelet</c> section (persistence, supervision...).</param>
    public static TestNode Create(string? extraHocon = null, string nodeId = "test-node")
    {
        var dir = Path.Combine(Path.GetTempPath(), "tracelet-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var hocon = $$"""
            {{extraHocon ?? ""}}
            tracelet {
              node-id = {{TraceletConfigLoader.Quote(nodeId)}}
              data-dir = {{TraceletConfigLoader.Quote(dir)}}
              discovery {
                built-in-assemblies = []
                user-directory = off
                environment-variable = off
              }
              plugin-manager {
                status-interval = 100ms
                operation-timeout = 10s
                supervision {
                  min-backoff = 50ms
                  max-backoff = 1s
                  random-factor = 0
                  max-restarts = 3
                  within = 60s
                }
              }
            }
            akka.loglevel = INFO
            """;
        return new TestNode(dir, nodeId, hocon);
    }

    /// <summary>Settings with plugin sections (or other overrides) on top, as if a node file said so.</summary>
    public TraceletSettings CreateSettings(string? pluginHocon = null) =>
        TraceletSettings.Create(ConfigurationFactory.ParseString(pluginHocon ?? "").WithFallback(TraceletConfig()));

    /// <summary>Discovery of the Tracelet.TestPlugins assembly (loaded in the default context) and nothing else.</summary>
    public DiscoveryResult Discover() => DiscoverWith();

    /// <summary>Discovery of the test plugins plus the given built-in assemblies (the real collectors and backends).</summary>
    public DiscoveryResult DiscoverWith(params System.Reflection.Assembly[] builtIn) =>
        PluginDiscovery.Discover(Settings.Discovery, ImmutableDictionary<string, string>.Empty, [typeof(CountingCollector).Assembly, .. builtIn]);

    private Config TraceletConfig() => ConfigurationFactory.ParseString(_hocon).WithFallback(TraceletConfigLoader.ReferenceConfig());

    public void Dispose()
    {
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open elsewhere in the process: the temp folder is cleaned by the OS.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
