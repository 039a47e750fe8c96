using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tracelet.Testing;

namespace Tracelet.Bench.Collectors;

/// <summary>
/// The process half: two real nodes side by side for the same window, so they share the
/// machine's noise: ours runs the system collector at 1 s with the jsonl and console backends,
/// the baseline the same node and backends with only the heartbeat. Each node's CPU is its
/// utime + stime from /proc/&lt;pid&gt;/stat over the window, as percent of one core; RSS is read at the end.
/// </summary>
internal static class NodeCost
{
    public const string CpuPercent = "node.cpu_percent";
    public const string RssMib = "node.rss_mib";
    public const string BaselineCpuPercent = "node.baseline_cpu_percent";
    public const string BaselineRssMib = "node.baseline_rss_mib";
    public const string SystemCpuPercent = "node.system_collector_cpu_percent";
    public const string SystemSamplesPerSecond = "node.system_samples_per_s";

    // /proc reports process times in USER_HZ, which the kernel fixes at 100 for user space whatever its own tick rate.
    private const double UserHz = 100;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    // Both nodes: the console and jsonl backends and a 1 s heartbeat; the role file's prometheus
    // backend off, so that the only difference is the system collector (on in the role file too).
    private const string Backends = """
        console { enabled = on }
        jsonl { enabled = on }
        prometheus { enabled = off }
        heartbeat { enabled = on, config { interval = 1s } }
        """;

    public static async Task RunAsync(BenchContext context, string nodeDll, TimeSpan settle, TimeSpan window)
    {
        var ct = context.Cancellation;
        var root = context.CreateTempDirectory("collectors");
        await using var ours = Start(context, nodeDll, root, "with-system", $"tracelet.plugins {{\n{Backends}\nsystem {{ enabled = on, config {{ interval = 1s }} }}\n}}\n");
        await using var baseline = Start(context, nodeDll, root, "heartbeat-only", $"tracelet.plugins {{\n{Backends}\nsystem {{ enabled = off }}\n}}\n");

        await WaitActiveAsync(ours, ["system", "heartbeat", "jsonl", "console"], ct);
        await WaitActiveAsync(baseline, ["heartbeat", "jsonl", "console"], ct);
        // The first seconds after start are JIT tiering and cluster formation, the same for both nodes and not what a node costs for days.
        context.Log($"both nodes ready; settling for {settle.TotalSeconds:0} s, then measuring for {window.TotalSeconds:0} s");
        await Task.Delay(settle, ct);

        var producedBefore = SamplesProduced(await ours.TryGetStatusAsync(ct));
        var oursBefore = CpuSeconds(ours.ProcessId);
        var baselineBefore = CpuSeconds(baseline.ProcessId);
        var clock = Stopwatch.StartNew();
        await Task.Delay(window, ct);
        var oursCpu = CpuSeconds(ours.ProcessId) - oursBefore;
        var baselineCpu = CpuSeconds(baseline.ProcessId) - baselineBefore;
        var seconds = clock.Elapsed.TotalSeconds;
        var status = await ours.TryGetStatusAsync(ct);
        var produced = SamplesProduced(status) - producedBefore;
        var oursRss = RssMebibytes(ours.ProcessId);
        var baselineRss = RssMebibytes(baseline.ProcessId);

        context.Check(produced > 0, $"the system collector produced no samples during the window; status {status}");
        context.Check(File.Exists(Path.Combine(root, "with-system", "data", "jsonl", "with-system.jsonl")), "the jsonl backend wrote no file");
        if (status is { } s) context.Log($"system status: {s.GetProperty("plugins").GetProperty("system")}");

        var f = context.Figures;
        f.Report(CpuPercent, oursCpu / seconds * 100, "%");
        f.Report(RssMib, oursRss, "MiB");
        f.Report(BaselineCpuPercent, baselineCpu / seconds * 100, "%");
        f.Report(BaselineRssMib, baselineRss, "MiB");
        f.Report(SystemCpuPercent, (oursCpu - baselineCpu) / seconds * 100, "%");
        f.Report(SystemSamplesPerSecond, produced / seconds, "samples/s");
    }

    private static NodeProcess Start(BenchContext context, string nodeDll, string root, string nodeId, string config)
    {
        var folder = Directory.CreateDirectory(Path.Combine(root, nodeId)).FullName;
        var configFile = Path.Combine(folder, "node.conf");
        File.WriteAllText(configFile, config);
        var launch = new NodeLaunch(nodeDll, Path.Combine(folder, "data"), NodeBuild.FreeLoopbackPort(), nodeId, Path.Combine(folder, "home"),
            Path.Combine(folder, "node.log"), ["--config", configFile]);
        context.Log($"starting node {nodeId} (log {launch.LogFile})");
        return NodeProcess.Start(context.Children, launch);
    }

    private static async Task WaitActiveAsync(NodeProcess node, string[] plugins, CancellationToken ct)
    {
        var (at, status) = await node.WaitForStatusAsync(
            s => NodeProcess.IsReady(s) && plugins.All(p => NodeProcess.PluginStates(s).GetValueOrDefault(p) == "active"), StartTimeout, ct);
        if (at is null)
            throw new TimeoutException($"node {node.Launch.NodeId} was not ready with {string.Join(", ", plugins)} active within {StartTimeout.TotalSeconds:0}s; last status {status}; output:\n{node.Tail()}");
    }

    private static long SamplesProduced(JsonElement? status) =>
        status is { } s && s.TryGetProperty("plugins", out var plugins) && plugins.TryGetProperty("system", out var system)
        && system.TryGetProperty("runtime", out var runtime) && runtime.TryGetProperty("samples_produced", out var produced)
            ? produced.GetInt64() : 0;

    /// <summary>utime + stime of a process, seconds (fields 14 and 15 of /proc/&lt;pid&gt;/stat, counted after the command's closing parenthesis).</summary>
    private static double CpuSeconds(int pid)
    {
        var text = File.ReadAllText($"/proc/{pid}/stat");
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / UserHz;
    }

    /// <summary>VmRSS from /proc/&lt;pid&gt;/status, MiB.</summary>
    private static double RssMebibytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
