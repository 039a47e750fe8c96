using System.Diagnostics;
using System.Text.Json;
using Tracelet.Testing;

namespace Tracelet.Bench.Recovery;

/// <summary>
/// The process half of the recovery benchmark: the real node started cold on an empty data
/// folder, then killed with SIGKILL and started again on the same folder, against the start-up
/// cost of a trivial .NET program (<c>dotnet Tracelet.Bench.dll noop</c>).
/// </summary>
internal static class NodeRestarts
{
    public const string StartupMs = "node.startup_ms";
    public const string StartupHttpMs = "node.startup_http_ms";
    public const string StartupBaselineMs = "node.startup_baseline_ms";
    public const string StartupRatio = "node.startup.ratio";
    public const string RestartToActiveMs = "recovery.restart_to_active_ms";
    public const string RestartRatio = "recovery.ratio";
    public const string RestartVersusStartupRatio = "recovery.restart_vs_startup_ratio";
    public const string PluginsRestored = "recovery.plugins_restored";

    private const string NodeId = "bench";
    private const string OperatorStopped = "heartbeat";

    /// <summary>The plugins the default role (hocon/single-node.conf) runs.</summary>
    private static readonly string[] DefaultActive = ["console", "heartbeat"];

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>After `ready`, how long a wrong plugin state may take to settle before it counts as not restored.</summary>
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(BenchContext context, string nodeDll, int repeat)
    {
        var ct = context.Cancellation;
        List<double> baseline = [], startup = [], firstHttp = [], restart = [];
        int restored = 0, checkedPlugins = 0;

        for (var i = 1; i <= repeat; i++)
        {
            baseline.Add(await NoopMillisecondsAsync(context));

            var root = context.CreateTempDirectory($"node-{i}");
            var data = Path.Combine(root, "data");
            var home = Path.Combine(root, "home");
            NodeLaunch Launch(string log) => new(nodeDll, data, NodeBuild.FreeLoopbackPort(), NodeId, home, Path.Combine(root, log + ".log"));

            // 1. Cold start on an empty data folder: the default role's plugins become active.
            Dictionary<string, string> before;
            await using (var node = NodeProcess.Start(context.Children, Launch("start")))
            {
                var (at, status) = await node.WaitForStatusAsync(s => NodeProcess.IsReady(s) && AllActive(s), StartTimeout, ct);
                if (at is null)
                    throw new TimeoutException($"start {i}: the node was not ready with {string.Join(" and ", DefaultActive)} active within {StartTimeout.TotalSeconds:0}s; last status {status}; output:\n{node.Tail()}");
                startup.Add(at.Value.TotalMilliseconds);
                if (node.FirstHttpAnswer is { } http) firstHttp.Add(http.TotalMilliseconds);
                context.Log($"start {i}: first output {Ms(node.FirstOutput)}, first HTTP answer {Ms(node.FirstHttpAnswer)}, ready and active {Ms(at)}");
                before = NodeProcess.PluginStates(status!.Value);
                node.Kill();
            }

            // 2. SIGKILL with the plugins active, start again on the same folder: recovery from the journal.
            await using (var node = NodeProcess.Start(context.Children, Launch("restart")))
            {
                var (at, states) = await WaitRestoredAsync(context, node, before, $"restart {i}");
                if (at is { } a) restart.Add(a.TotalMilliseconds);
                restored += Matching(before, states);
                checkedPlugins += before.Count;

                // 3. An operator stops a plugin; after the next SIGKILL and start it must stay stopped.
                var (code, body) = await node.PostAsync($"plugins/{OperatorStopped}/stop", ct);
                context.Check(code == 200, $"POST /plugins/{OperatorStopped}/stop answered {code}: {body}");
                var (stoppedAt, stopped) = await node.WaitForStatusAsync(
                    s => NodeProcess.IsReady(s) && NodeProcess.PluginStates(s).GetValueOrDefault(OperatorStopped) == "stopped", node.Elapsed + SettleTimeout, ct);
                context.Check(stoppedAt is not null, $"{OperatorStopped} did not report stopped after POST stop; last status {stopped}");
                before = stopped is { } s ? NodeProcess.PluginStates(s) : before;
                node.Kill();
            }
            await using (var node = NodeProcess.Start(context.Children, Launch("restart-stopped")))
            {
                var (_, states) = await WaitRestoredAsync(context, node, before, $"restart {i} after operator stop");
                restored += Matching(before, states);
                checkedPlugins += before.Count;
                context.Check(states.GetValueOrDefault(OperatorStopped) == "stopped",
                    $"{OperatorStopped} was stopped by the operator but is '{states.GetValueOrDefault(OperatorStopped)}' after restart {i}");
            }
        }

        var f = context.Figures;
        f.Spread(StartupMs, startup, "ms");
        f.Report(StartupHttpMs, Figures.Median(firstHttp), "ms");
        f.Spread(StartupBaselineMs, baseline, "ms");
        f.Ratio(StartupRatio, Figures.Median(startup), Figures.Median(baseline));
        f.Spread(RestartToActiveMs, restart, "ms");
        f.Ratio(RestartRatio, Figures.Median(restart), Figures.Median(baseline));
        f.Ratio(RestartVersusStartupRatio, Figures.Median(restart), Figures.Median(startup));
        f.Report(PluginsRestored, $"{restored}/{checkedPlugins}", "plugins");
        context.Check(restored == checkedPlugins, $"{checkedPlugins - restored} plugin states were not restored after a restart");
    }

    /// <summary>`dotnet Tracelet.Bench.dll noop`: process start to exit.</summary>
    private static async Task<double> NoopMillisecondsAsync(BenchContext context)
    {
        var info = new ProcessStartInfo(NodeBuild.DotnetHost) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(typeof(NodeRestarts).Assembly.Location);
        info.ArgumentList.Add("noop");
        var clock = Stopwatch.StartNew();
        using var process = context.Children.Start(info);
        await process.WaitForExitAsync(context.Cancellation);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        context.Check(process.ExitCode == 0, $"dotnet {typeof(NodeRestarts).Assembly.Location} noop exited with {process.ExitCode}");
        return elapsed;
    }

    /// <summary>
    /// Waits until the restarted node is ready with every plugin in its state before the kill;
    /// returns when that held (null if never) and the states it ended with.
    /// </summary>
    private static async Task<(TimeSpan? At, Dictionary<string, string> States)> WaitRestoredAsync(
        BenchContext context, NodeProcess node, Dictionary<string, string> expected, string what)
    {
        var ct = context.Cancellation;
        var (readyAt, ready) = await node.WaitForStatusAsync(NodeProcess.IsReady, StartTimeout, ct);
        if (readyAt is null)
            throw new TimeoutException($"{what}: the node was not ready within {StartTimeout.TotalSeconds:0}s; last status {ready}; output:\n{node.Tail()}");
        var (at, status) = await node.WaitForStatusAsync(s => NodeProcess.IsReady(s) && Matching(expected, NodeProcess.PluginStates(s)) == expected.Count,
            readyAt.Value + SettleTimeout, ct);
        var states = NodeProcess.PluginStates(status ?? ready!.Value);
        context.Log($"{what}: ready {Ms(readyAt)}, states restored {Ms(at)}: {Describe(states)}");
        context.Check(at is not null, $"{what}: expected {Describe(expected)}, got {Describe(states)}");
        return (at, states);
    }

    private static bool AllActive(JsonElement status)
    {
        var states = NodeProcess.PluginStates(status);
        return DefaultActive.All(p => states.GetValueOrDefault(p) == "active");
    }

    private static int Matching(Dictionary<string, string> expected, Dictionary<string, string> actual) =>
        expected.Count(kv => actual.GetValueOrDefault(kv.Key) == kv.Value);

    private static string Describe(Dictionary<string, string> states) =>
        string.Join(", ", states.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));

    private static string Ms(TimeSpan? t) => t is { } v ? $"{v.TotalMilliseconds:0} ms" : "never";
}
