using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tracelet.Testing;

namespace Tracelet.Bench.Cluster;

/// <summary>
/// `cluster`: N real node processes on 127.0.0.1 (default 5), each with about 40 plugins (built-ins,
/// Tracelet.TestPlugins, and Tracelet.DrillPlugins with its fifteen filler collectors). Measures SIGKILL of one node until a
/// survivor's GET /status/cluster shows it unreachable (baseline: Akka's failure detector bound,
/// heartbeat-interval + acceptable-heartbeat-pause), GET /status/cluster latency with that node down
/// (baseline: GET /healthz on the same node), and restart until all its enabled plugins are active in
/// the survivor's view (baseline: the same node's own GET /status ready, i.e. start-up without the
/// cluster's join and gossip).
/// </summary>
internal sealed class ClusterBenchmark : IBenchmark
{
    private const int FailureDetectorBoundMs = 1000 + 3000; // Akka.Cluster defaults: heartbeat-interval 1 s, acceptable-heartbeat-pause 3 s
    private const int StableAfterSeconds = 20; // hocon/*.conf

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly Option<int> _nodes = new("--nodes") { Description = "Node processes to start", DefaultValueFactory = _ => 5 };
    private readonly Option<int> _queries = new("--queries") { Description = "GET /status/cluster requests to time", DefaultValueFactory = _ => 300 };

    public string Name => "cluster";

    public string Description => "SIGKILL to flagged, restart to plugins active, /status/cluster latency (5 nodes x ~40 plugins) vs failure-detector bound and /healthz.";

    public IReadOnlyList<Option> Options => [_nodes, _queries];

    public async Task RunAsync(BenchContext context, ParseResult parse)
    {
        var count = Math.Clamp(parse.GetValue(_nodes), 3, 9);
        var queries = Math.Clamp(parse.GetValue(_queries), 10, 5000);
        var root = context.CreateTempDirectory("cluster");
        var plugins = Directory.CreateDirectory(Path.Combine(root, "plugins")).FullName;
        foreach (var assembly in new[] { "Tracelet.TestPlugins.dll", "Tracelet.DrillPlugins.dll" })
        {
            var built = Path.Combine(AppContext.BaseDirectory, assembly);
            if (!File.Exists(built)) throw new FileNotFoundException($"{assembly} is missing next to the bench at {built}");
            File.Copy(built, Path.Combine(plugins, assembly));
        }
        var ids = Enumerable.Range(1, count).Select(i => $"bench-{i}").ToArray();
        var ports = ids.ToDictionary(id => id, _ => (Cluster: NodeBuild.FreeLoopbackPort(), Http: NodeBuild.FreeLoopbackPort()));
        var nodes = new Dictionary<string, NodeProcess>();
        NodeProcess Start(string id)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, id)).FullName;
            var config = Path.Combine(dir, "node.conf");
            File.WriteAllText(config, Config(ports[id].Cluster, ports[ids[0]].Cluster, plugins));
            return nodes[id] = NodeProcess.Start(context.Children, new NodeLaunch(NodeBuild.NodeDll, Path.Combine(dir, "data"), ports[id].Http, id,
                Path.Combine(dir, "home"), Path.Combine(dir, "node.log"), ["--config", config]));
        }
        string Url(string id, string path) => $"http://127.0.0.1:{ports[id].Http}/{path}";

        foreach (var id in ids) Start(id);
        var observer = ids[0];
        var victim = ids[^1];
        var formed = await WaitView(Url(observer, "status/cluster"), v => ids.All(id => Entry(v, id) is { } e && e.GetProperty("reachable").GetBoolean() && AllEnabledActive(e)), TimeSpan.FromSeconds(150), context);
        var perNode = Entry(formed, victim)!.Value.GetProperty("plugins").GetArrayLength();
        var active = Entry(formed, victim)!.Value.GetProperty("plugins").EnumerateArray().Count(p => p.GetProperty("state").GetString() == "active");
        context.Log($"{count} nodes formed; {perNode} plugins per node in the view ({active} enabled and active)");
        context.Figures.Report("cluster.nodes", count, "nodes");
        context.Figures.Report("cluster.plugins_per_node", perNode, "plugins");

        var clock = Stopwatch.StartNew();
        nodes[victim].Kill();
        await WaitView(Url(observer, "status/cluster"), v => Entry(v, victim) is { } e && !e.GetProperty("reachable").GetBoolean(), TimeSpan.FromSeconds(60), context);
        context.Figures.Report("cluster.kill_to_flagged_ms", clock.Elapsed.TotalMilliseconds, "ms");
        context.Figures.Report("cluster.kill_to_flagged.failure_detector_bound_ms", FailureDetectorBoundMs, "ms");

        var status = await Latencies(Url(observer, "status/cluster"), queries, context);
        var health = await Latencies(Url(observer, "healthz"), queries, context);
        context.Figures.Report("cluster.status_query_ms", Figures.Median(status), "ms");
        context.Figures.Report("cluster.status_query_ms.p99", Percentile(status, 0.99), "ms");
        context.Figures.Report("cluster.status_query.healthz_baseline_ms", Figures.Median(health), "ms");
        context.Figures.Report("cluster.status_query.healthz_baseline_ms.p99", Percentile(health, 0.99), "ms");
        context.Figures.Report("cluster.status_query_bytes", (await Http.GetByteArrayAsync(Url(observer, "status/cluster"), context.Cancellation)).Length, "B");

        clock.Restart();
        var restarted = Start(victim);
        // Baseline: the restarted node's own GET /status shows it ready, without the cluster's part (join, gossip).
        var own = Task.Run(async () =>
        {
            var (at, _) = await restarted.WaitForStatusAsync(NodeProcess.IsReady, TimeSpan.FromSeconds(120), context.Cancellation);
            return at;
        });
        await WaitView(Url(observer, "status/cluster"), v => Entry(v, victim) is { } e && e.GetProperty("reachable").GetBoolean()
            && e.GetProperty("member_status").GetString() == "up" && AllEnabledActive(e) && ActiveCount(e) >= active, TimeSpan.FromSeconds(120), context);
        context.Figures.Report("cluster.restart_to_active_ms", clock.Elapsed.TotalMilliseconds, "ms");
        context.Figures.Report("cluster.restart_to_active.own_status_ready_ms", (await own)?.TotalMilliseconds ?? double.NaN, "ms");
    }

    private static string Config(int clusterPort, int seedPort, string pluginFolder)
    {
        var fillers = string.Join("\n", Enumerable.Range(1, 15).Select(i => $"    test-filler-{i:00} {{ enabled = on }}"));
        return $$"""
            tracelet {
              console.enabled = off
              discovery { paths = [{{JsonSerializer.Serialize(pluginFolder)}}], user-directory = off, environment-variable = off }
              cluster { port = {{clusterPort}}, seed-nodes = ["akka.tcp://tracelet@127.0.0.1:{{seedPort}}"] }
              plugins {
                console.enabled = off
                prometheus.enabled = off
                heartbeat { enabled = on, config { interval = 10s } }
                test-counter { enabled = on, config { interval = 5s } }
            {{fillers}}
              }
            }
            akka.cluster {
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver { active-strategy = keep-majority, stable-after = {{StableAfterSeconds}}s, down-all-when-unstable = on }
              run-coordinated-shutdown-when-down = on
            }
            """;
    }

    /// <summary>The node's reachable entry (a restarted node may be listed beside its old incarnation), else its last.</summary>
    private static JsonElement? Entry(JsonElement view, string id)
    {
        var entries = view.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("node").GetString() == id).ToList();
        if (entries.Count == 0) return null;
        return entries.Where(e => e.GetProperty("reachable").GetBoolean()).Select(e => (JsonElement?)e).FirstOrDefault() ?? entries[^1];
    }

    private static int ActiveCount(JsonElement entry) => entry.GetProperty("plugins").EnumerateArray().Count(p => p.GetProperty("state").GetString() == "active");

    /// <summary>Every plugin is active, or was never enabled (discovered) or stopped.</summary>
    private static bool AllEnabledActive(JsonElement entry) =>
        entry.GetProperty("plugins").EnumerateArray().All(p => p.GetProperty("state").GetString() is "active" or "discovered" or "stopped")
        && ActiveCount(entry) > 0;

    private static async Task<JsonElement> WaitView(string url, Func<JsonElement, bool> until, TimeSpan timeout, BenchContext context)
    {
        var clock = Stopwatch.StartNew();
        string last = "(none)";
        while (clock.Elapsed < timeout)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            try
            {
                var body = await Http.GetStringAsync(url, context.Cancellation);
                last = body;
                var view = JsonDocument.Parse(body).RootElement.Clone();
                if (until(view)) return view;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(50, context.Cancellation);
        }
        throw new TimeoutException($"{url} never matched within {timeout}; last answer: {last[..Math.Min(last.Length, 2000)]}");
    }

    private static async Task<List<double>> Latencies(string url, int count, BenchContext context)
    {
        for (var i = 0; i < 10; i++) await Http.GetByteArrayAsync(url, context.Cancellation); // warm up the connection and JIT
        var values = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var clock = Stopwatch.StartNew();
            await Http.GetByteArrayAsync(url, context.Cancellation);
            values.Add(clock.Elapsed.TotalMilliseconds);
        }
        return values;
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }
}
