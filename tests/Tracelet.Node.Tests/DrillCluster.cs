using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Tracelet.DrillPlugins;
using Tracelet.Testing;
using Tracelet.TestPlugins;

namespace Tracelet.Node.Tests;

/// <summary>
/// Three real node processes on 127.0.0.1 for the fault drills: drill-1 (the seed) and drill-2 produce
/// numbered samples (<see cref="DrillSequenceCollector"/>); drill-3 is the backend node with a durable
/// <c>jsonl</c> link and a small drop-oldest <c>test-echo</c> link. Each node has its own data folder
/// (SQLite journal, durable outbox), fixed ports and a config file; disposing kills every process.
/// </summary>
public sealed class DrillCluster : IAsyncDisposable
{
    public const string Seed = "drill-1";
    public const string Producer = "drill-2";
    public const string Backend = "drill-3";
    public static readonly string[] NodeIds = [Seed, Producer, Backend];

    /// <summary>Small, so the backend's outage overflows it: the drop accounting is exercised.</summary>
    public const int EchoBufferSamples = 500;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly ChildProcesses _children = new();
    private readonly Dictionary<string, NodeProcess> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Cluster, int Http)> _ports = new(StringComparer.Ordinal);

    public DrillCluster(string name)
    {
        Root = Directory.CreateTempSubdirectory($"tracelet-drill-{name}-").FullName;
        var plugins = Directory.CreateDirectory(Path.Combine(Root, "plugins")).FullName;
        foreach (var assembly in new[] { "Tracelet.TestPlugins.dll", "Tracelet.DrillPlugins.dll" })
        {
            File.Copy(BuiltPluginAssembly(assembly), Path.Combine(plugins, assembly));
        }
        foreach (var id in NodeIds) _ports[id] = (NodeBuild.FreeLoopbackPort(), NodeBuild.FreeLoopbackPort());
        foreach (var id in NodeIds)
        {
            Directory.CreateDirectory(Path.Combine(Root, id));
            File.WriteAllText(ConfigFile(id), NodeConfig(id, plugins));
        }
    }

    /// <summary>The drill's folder: one sub-folder per node (data, log, config).</summary>
    public string Root { get; }

    public NodeProcess this[string id] => _nodes[id];

    public int HttpPort(string id) => _ports[id].Http;

    public string Url(string id) => $"http://127.0.0.1:{_ports[id].Http}";

    /// <summary>Where the backend's durable jsonl link writes (one file: the backend node's).</summary>
    public string JsonlDirectory => Path.Combine(Root, Backend, "data", "jsonl");

    public NodeProcess Start(string id)
    {
        var dir = Path.Combine(Root, id);
        var node = NodeProcess.Start(_children, new NodeLaunch(NodeBuild.NodeDll, Path.Combine(dir, "data"), _ports[id].Http, id, Path.Combine(dir, "home"),
            Path.Combine(dir, "node.log"), ["--config", ConfigFile(id)]));
        _nodes[id] = node;
        return node;
    }

    public void StartAll()
    {
        foreach (var id in NodeIds) Start(id);
    }

    /// <summary>Waits until every node's view shows all three nodes up and reachable and the drill plugins active.</summary>
    public async Task RequireFormedAsync(TimeSpan timeout)
    {
        foreach (var id in NodeIds)
        {
            await RequireClusterViewAsync(id, view => NodeIds.All(n => Member(view, n) is { } m
                && m.GetProperty("member_status").GetString() == "up" && m.GetProperty("reachable").GetBoolean()
                && (n == Backend || PluginState(m, DrillSequenceCollector.PluginName) == "active")
                && (n != Backend || PluginState(m, "jsonl") == "active")), timeout);
        }
        foreach (var id in NodeIds) await RequireReadyAsync(id, timeout);
    }

    /// <summary>
    /// Polls a node's GET /healthz until it answers 200: its PluginManager has discovered and booted. Until
    /// then status shows the journaled states, so "active" in the view alone does not mean it takes commands.
    /// </summary>
    public async Task RequireReadyAsync(string id, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_nodes[id].HasExited) throw new InvalidOperationException($"{id} exited:\n{_nodes[id].Tail(60)}");
            try
            {
                using var response = await Http.GetAsync(new Uri($"{Url(id)}/healthz"));
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{id} was not ready within {timeout}.\n{id}'s output:\n{_nodes[id].Tail(60)}");
    }

    /// <summary>GET /status/cluster on one node; null while it does not answer 200.</summary>
    public async Task<JsonElement?> TryGetClusterViewAsync(string id)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri($"{Url(id)}/status/cluster"));
            if (!response.IsSuccessStatusCode) return null;
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls one node's /status/cluster until <paramref name="until"/> holds; fails with the last view and the node's log.</summary>
    public async Task<JsonElement> RequireClusterViewAsync(string id, Func<JsonElement, bool> until, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        JsonElement? last = null;
        while (clock.Elapsed < timeout)
        {
            if (_nodes[id].HasExited) throw new InvalidOperationException($"{id} exited:\n{_nodes[id].Tail(60)}");
            if (await TryGetClusterViewAsync(id) is { } view)
            {
                last = view;
                if (until(view)) return view;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{id}'s /status/cluster never matched within {timeout}. Last view: {last?.ToString() ?? "(none)"}\n{id}'s output:\n{_nodes[id].Tail(60)}");
    }

    /// <summary>
    /// A node's entry in the view: the reachable one when a restarted node is listed next to its old,
    /// unreachable incarnation (same node id, new address uid), else the last one listed.
    /// </summary>
    public static JsonElement? Member(JsonElement view, string node)
    {
        var entries = view.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("node").GetString() == node).ToList();
        if (entries.Count == 0) return null;
        return entries.Where(e => e.GetProperty("reachable").GetBoolean()).Select(e => (JsonElement?)e).FirstOrDefault() ?? entries[^1];
    }

    public static string? PluginState(JsonElement member, string plugin) =>
        member.GetProperty("plugins").EnumerateArray().Where(p => p.GetProperty("name").GetString() == plugin)
            .Select(p => p.GetProperty("state").GetString()).FirstOrDefault();

    /// <summary>POST to a node's API (no token: loopback).</summary>
    public async Task<(int Status, string Body)> PostAsync(string id, string path)
    {
        using var content = new ByteArrayContent([]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await Http.PostAsync(new Uri($"{Url(id)}/{path}"), content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Resident memory of a node process in bytes, from /proc/&lt;pid&gt;/status (VmRSS).</summary>
    public long ResidentBytes(string id)
    {
        foreach (var line in File.ReadLines($"/proc/{_nodes[id].ProcessId}/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var kib = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            return kib * 1024;
        }
        throw new InvalidOperationException($"no VmRSS in /proc/{_nodes[id].ProcessId}/status");
    }

    /// <summary>Every drill sample the backend's jsonl files hold, in file order.</summary>
    public List<SequenceSample> ReadDeliveredSamples()
    {
        var samples = new List<SequenceSample>();
        if (!Directory.Exists(JsonlDirectory)) return samples;
        foreach (var file in Directory.GetFiles(JsonlDirectory, "*.jsonl").Order(StringComparer.Ordinal))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                // The backend fsyncs whole batches; a line still being written when read is incomplete and skipped.
                if (line.Length == 0 || line[^1] != '}' || !line.Contains(DrillSequenceCollector.SequenceMetric, StringComparison.Ordinal)) continue;
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                if (root.GetProperty("name").GetString() != DrillSequenceCollector.SequenceMetric) continue;
                samples.Add(new SequenceSample(root.GetProperty("node").GetString()!,
                    root.GetProperty("labels").GetProperty(DrillSequenceCollector.IncarnationLabel).GetString()!,
                    (long)root.GetProperty("value").GetDouble()));
            }
        }
        return samples;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes.Values) await node.DisposeAsync();
        _children.Dispose();
        if (Environment.GetEnvironmentVariable("TRACELET_DRILL_KEEP") is not { Length: > 0 })
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // a file still held for a moment; the OS cleans temp folders
            }
        }
    }

    private string ConfigFile(string id) => Path.Combine(Root, id, "node.conf");

    private string NodeConfig(string id, string pluginFolder)
    {
        var seed = $"akka.tcp://tracelet@127.0.0.1:{_ports[Seed].Cluster}";
        var producer = id != Backend;
        return $$"""
            tracelet {
              console.enabled = off
              # Only the drill's own samples travel: the sums below stay exact once the collectors stop.
              pipeline.self-telemetry-interval = 0s
              discovery { paths = [{{JsonSerializer.Serialize(pluginFolder)}}], user-directory = off, environment-variable = off }
              cluster { port = {{_ports[id].Cluster}}, seed-nodes = ["{{seed}}"], roles = ["{{(producer ? "worker" : "backend")}}"] }
              plugins {
                system.enabled = off
                self.enabled = off
                console.enabled = off
                prometheus.enabled = off
                heartbeat.enabled = off
                {{DrillSequenceCollector.PluginName}} { enabled = {{(producer ? "on" : "off")}}, config { interval = 100ms, per-tick = 10 } }
                {{CountingCollector.PluginName}} { enabled = {{(producer ? "on" : "off")}}, config { interval = 1s } }
                jsonl { enabled = {{(producer ? "off" : "on")}}, pipeline { overflow = durable } }
                {{EchoBackend.PluginName}} { enabled = {{(producer ? "off" : "on")}}, pipeline { overflow = drop-oldest, buffer-samples = {{EchoBufferSamples}}, window-samples = 100 } }
              }
            }
            # The role files' split-brain resolver (keep-majority), deciding sooner: the drills wait for it.
            akka.cluster {
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver { active-strategy = keep-majority, stable-after = 5s, down-all-when-unstable = on }
              run-coordinated-shutdown-when-down = on
            }
            """;
    }

    /// <summary>
    /// A test plugin assembly as built: next to the tests, or else in its own project's output (the
    /// same configuration). Once, in CI, it was missing next to the tests while the drills started.
    /// </summary>
    private static string BuiltPluginAssembly(string assembly)
    {
        var nextToTests = Path.Combine(AppContext.BaseDirectory, assembly);
        if (File.Exists(nextToTests)) return nextToTests;
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent?.Name ?? "Debug";
        var project = Path.GetFileNameWithoutExtension(assembly);
        var own = Path.Combine(NodeBuild.RepositoryRoot, "tests", project, "bin", configuration, "net10.0", assembly);
        if (File.Exists(own)) return own;
        throw new FileNotFoundException($"the build should have put {assembly} next to the tests at {nextToTests} (or at {own})");
    }
}

/// <summary>One <c>drill.seq</c> sample as the backend wrote it.</summary>
public readonly record struct SequenceSample(string Node, string Incarnation, long Value);
