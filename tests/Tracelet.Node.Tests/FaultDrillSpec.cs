using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tracelet.Cli;
using Tracelet.DrillPlugins;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Node.Tests;

/// <summary>
/// Fault drills against three real node processes (issue 7; docs/operations.md, "Fault drills"): a
/// producer SIGKILLed mid-run, the backend node down under load, a node cut off until the split-brain
/// resolver downs it. Sequence numbers checked at the backend prove what was lost or duplicated.
/// Run by hand: <c>dotnet test tests/Tracelet.Node.Tests --filter Category=Drill</c>.
/// </summary>
[Trait("Category", "Drill")]
[Trait("Category", "Process")]
public sealed class FaultDrillSpec(ITestOutputHelper output)
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan FlagTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(90);

    /// <summary>How long the backend stays down in drill (b): 20 s in CI (about 3,000 samples per producer wait, 4x the echo buffer); 60 s by hand.</summary>
    private static TimeSpan BackendDownTime =>
        TimeSpan.FromSeconds(Environment.GetEnvironmentVariable("TRACELET_DRILL_DOWN_SECONDS") is { Length: > 0 } s ? double.Parse(s, CultureInfo.InvariantCulture) : 20);

    [Fact]
    public async Task A_killed_producer_is_flagged_rejoins_with_its_plugin_states_and_its_durable_samples_arrive_once()
    {
        await using var cluster = new DrillCluster("kill");
        cluster.StartAll();
        await cluster.RequireFormedAsync(FormTimeout);

        // An operator's stop on the victim, routed through the cluster: it must survive the SIGKILL.
        var stop = await cluster.PostAsync(DrillCluster.Seed, $"plugins/{CountingCollector.PluginName}/stop?node={DrillCluster.Producer}");
        Assert.True(stop.Status == 200, $"stop answered {stop.Status}: {stop.Body}");
        await RequireDelivered(cluster, DrillCluster.Producer, atLeast: 200);
        Assert.Equal(0, await Cli("status", cluster.Url(DrillCluster.Seed)).ContinueWith(t => t.Result.Code));

        var beforeKill = cluster.ReadDeliveredSamples().Where(s => s.Node == DrillCluster.Producer).ToList();
        var killedIncarnation = Assert.Single(beforeKill.Select(s => s.Incarnation).Distinct());
        var clock = Stopwatch.StartNew();
        cluster[DrillCluster.Producer].Kill();

        foreach (var survivor in new[] { DrillCluster.Seed, DrillCluster.Backend })
        {
            await cluster.RequireClusterViewAsync(survivor, v => DrillCluster.Member(v, DrillCluster.Producer) is { } m && !m.GetProperty("reachable").GetBoolean(), FlagTimeout);
            output.WriteLine($"{survivor} flagged {DrillCluster.Producer} unreachable {clock.ElapsedMilliseconds} ms after SIGKILL");
        }

        var (downCode, downText) = await Cli("status", cluster.Url(DrillCluster.Seed));
        Assert.True(downCode == 1, $"tracelet status exited {downCode} with a node down:\n{downText}");
        Assert.Contains("UNREACHABLE", downText);

        // The other producer keeps delivering while its peer is down.
        var seedCount = Count(cluster, DrillCluster.Seed);
        await RequireDelivered(cluster, DrillCluster.Seed, atLeast: seedCount + 100);

        clock.Restart();
        cluster.Start(DrillCluster.Producer);
        var back = await cluster.RequireClusterViewAsync(DrillCluster.Seed, v => DrillCluster.Member(v, DrillCluster.Producer) is { } m
            && m.GetProperty("reachable").GetBoolean() && m.GetProperty("member_status").GetString() == "up"
            && DrillCluster.PluginState(m, DrillSequenceCollector.PluginName) == "active", FormTimeout);
        await cluster.RequireReadyAsync(DrillCluster.Producer, FormTimeout);
        output.WriteLine($"{DrillCluster.Producer} up with its plugins active {clock.ElapsedMilliseconds} ms after restart");
        Assert.Equal("stopped", DrillCluster.PluginState(DrillCluster.Member(back, DrillCluster.Producer)!.Value, CountingCollector.PluginName));
        var (upCode, upText) = await Cli("status", cluster.Url(DrillCluster.Seed));
        Assert.True(upCode == 0, $"tracelet status exited {upCode} after the restart:\n{upText}");

        await StopProducersAndDrain(cluster);
        var delivered = cluster.ReadDeliveredSamples();
        AssertNoDuplicates(delivered);
        var maxBeforeKill = beforeKill.Max(s => s.Value);
        foreach (var group in delivered.GroupBy(s => (s.Node, s.Incarnation)))
        {
            // Every incarnation arrived without a gap; the killed one ends at the last sample its durable outbox held.
            AssertContiguous(group.Key, group.Select(s => s.Value));
            if (group.Key.Incarnation == killedIncarnation)
                output.WriteLine($"killed incarnation: {maxBeforeKill} delivered before the kill, {group.Max(s => s.Value) - maxBeforeKill} more from its durable outbox after the restart");
        }
        Assert.True(delivered.Count(s => s.Incarnation == killedIncarnation) >= beforeKill.Count);
        Assert.Equal(2, delivered.Where(s => s.Node == DrillCluster.Producer).Select(s => s.Incarnation).Distinct().Count());
    }

    [Fact]
    public async Task The_backend_down_under_load_costs_producers_bounded_memory_exact_drop_counts_and_no_durable_sample()
    {
        var downTime = BackendDownTime;
        await using var cluster = new DrillCluster("backend-down");
        cluster.StartAll();
        await cluster.RequireFormedAsync(FormTimeout);
        await RequireDelivered(cluster, DrillCluster.Producer, atLeast: 200);
        await RequireDelivered(cluster, DrillCluster.Seed, atLeast: 200);
        var producers = new[] { DrillCluster.Seed, DrillCluster.Producer };
        var baseline = producers.ToDictionary(p => p, cluster.ResidentBytes);

        cluster[DrillCluster.Backend].Kill();
        var writtenBeforeKill = cluster.ReadDeliveredSamples().ToHashSet();
        var peak = new Dictionary<string, long>(baseline);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < downTime)
        {
            foreach (var p in producers) peak[p] = Math.Max(peak[p], cluster.ResidentBytes(p));
            await Task.Delay(500);
        }
        foreach (var p in producers)
        {
            output.WriteLine($"{p}: RSS {baseline[p] >> 20} MiB before, at most {peak[p] >> 20} MiB during {downTime.TotalSeconds:0} s without the backend");
            Assert.True(peak[p] < 300L << 20, $"{p} grew to {peak[p] >> 20} MiB while the backend was down");
            Assert.True(peak[p] - baseline[p] < 100L << 20, $"{p} grew by {(peak[p] - baseline[p]) >> 20} MiB while the backend was down");
        }

        clock.Restart();
        cluster.Start(DrillCluster.Backend);
        await cluster.RequireFormedAsync(FormTimeout);
        output.WriteLine($"backend back in the cluster {clock.ElapsedMilliseconds} ms after restart");
        await StopProducersAndDrain(cluster);

        foreach (var p in producers)
        {
            var echo = Link(await cluster[p].RequireStatusAsync(_ => true, TimeSpan.FromSeconds(10)), $"{EchoBackend.PluginName}@{DrillCluster.Backend}");
            var dropped = echo.GetProperty("dropped").EnumerateObject().Sum(d => d.Value.GetInt64());
            long Field(string name) => echo.GetProperty(name).GetInt64();
            output.WriteLine($"{p} -> test-echo (drop-oldest, {DrillCluster.EchoBufferSamples} samples): produced {Field("produced")}, delivered {Field("delivered")}, dropped {dropped} ({echo.GetProperty("dropped")}), waiting {Field("waiting")}, in flight {Field("in_flight")}");
            Assert.Equal(Field("produced"), Field("delivered") + dropped + Field("waiting") + Field("in_flight"));
            Assert.True(dropped > 0, $"the outage should have overflowed {p}'s echo buffer: {echo}");
        }

        // Durable: nothing lost. A batch the backend wrote just before its SIGKILL, whose acknowledgement
        // never left, is written again (docs/pipeline.md, known limits): only those may appear twice.
        var delivered = cluster.ReadDeliveredSamples();
        var again = delivered.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.All(again, s => Assert.Contains(s, writtenBeforeKill));
        output.WriteLine($"durable: {delivered.Count} samples, {again.Count} written twice (all written just before the backend's SIGKILL)");
        foreach (var group in delivered.GroupBy(s => (s.Node, s.Incarnation)))
            AssertContiguous(group.Key, group.Select(s => s.Value).Distinct());
    }

    [Fact]
    public async Task A_node_cut_off_from_the_others_is_downed_by_the_resolver_and_exits_with_the_downed_code()
    {
        await using var cluster = new DrillCluster("cut-off");
        cluster.StartAll();
        await cluster.RequireFormedAsync(FormTimeout);

        // SIGSTOP: to the others the node is silent, as behind a partition; it is the minority side.
        var clock = Stopwatch.StartNew();
        cluster[DrillCluster.Producer].Pause();
        var decided = await cluster.RequireClusterViewAsync(DrillCluster.Seed, v => DrillCluster.Member(v, DrillCluster.Producer) is { } m
            && !m.GetProperty("reachable").GetBoolean() && m.GetProperty("member_status").GetString() is "down" or "removed", FlagTimeout + TimeSpan.FromSeconds(30));
        output.WriteLine($"the majority downed {DrillCluster.Producer} {clock.ElapsedMilliseconds} ms after it went silent");
        var member = DrillCluster.Member(decided, DrillCluster.Producer)!.Value;
        Assert.Equal(JsonValueKind.String, member.GetProperty("last_seen").ValueKind);
        Assert.Equal(2, decided.GetProperty("summary").GetProperty("reachable").GetInt32());

        clock.Restart();
        cluster[DrillCluster.Producer].Resume();
        int code;
        try
        {
            code = await cluster[DrillCluster.Producer].WaitForExitAsync(TimeSpan.FromSeconds(120));
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{DrillCluster.Producer} was downed but had not exited 120 s after it resumed:\n{cluster[DrillCluster.Producer].Tail(80)}");
        }
        output.WriteLine($"{DrillCluster.Producer} exited with {code} {clock.ElapsedMilliseconds} ms after it resumed");
        Assert.True(code == 3, $"a downed node should exit with 3 (downed by the cluster), got {code}:\n{cluster[DrillCluster.Producer].Tail(40)}");

        // The majority keeps working and still shows what happened.
        var seedCount = Count(cluster, DrillCluster.Seed);
        await RequireDelivered(cluster, DrillCluster.Seed, atLeast: seedCount + 100);
        Assert.False(DrillCluster.Member(await cluster.RequireClusterViewAsync(DrillCluster.Backend, _ => true, FlagTimeout), DrillCluster.Producer)!.Value.GetProperty("reachable").GetBoolean());
    }

    private static JsonElement Link(JsonElement status, string key) => status.GetProperty("pipeline").GetProperty("links").GetProperty(key);

    private static long Count(DrillCluster cluster, string node) => cluster.ReadDeliveredSamples().Count(s => s.Node == node);

    private static async Task RequireDelivered(DrillCluster cluster, string node, long atLeast)
    {
        var clock = Stopwatch.StartNew();
        long count = 0;
        while (clock.Elapsed < DrainTimeout)
        {
            count = Count(cluster, node);
            if (count >= atLeast) return;
            await Task.Delay(200);
        }
        throw new TimeoutException($"the backend has {count} samples from {node}, expected at least {atLeast}.\nBackend log:\n{cluster[DrillCluster.Backend].Tail(40)}");
    }

    /// <summary>Stops the sequence collectors everywhere, then waits until both producers' durable links hold nothing.</summary>
    private static async Task StopProducersAndDrain(DrillCluster cluster)
    {
        var stop = await cluster.PostAsync(DrillCluster.Seed, $"plugins/{DrillSequenceCollector.PluginName}/stop?all=true");
        Assert.True(stop.Status == 200, $"stop ?all=true answered {stop.Status}: {stop.Body}");
        foreach (var p in new[] { DrillCluster.Seed, DrillCluster.Producer })
        {
            await cluster[p].RequireStatusAsync(s => s.TryGetProperty("pipeline", out var pipeline)
                && pipeline.GetProperty("links").TryGetProperty($"jsonl@{DrillCluster.Backend}", out var link)
                && link.GetProperty("waiting").GetInt64() == 0 && link.GetProperty("in_flight").GetInt64() == 0
                && link.GetProperty("produced").GetInt64() > 0, DrainTimeout);
        }
    }

    private static void AssertNoDuplicates(List<SequenceSample> delivered)
    {
        var twice = delivered.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToList();
        Assert.True(twice.Count == 0, $"written more than once: {string.Join(", ", twice)}");
    }

    /// <summary>
    /// No gap from the first value the backend got to the last. Samples a collector wrote before the
    /// backend had announced itself to its node had no link to travel (the first ticks after a start),
    /// so the run may begin above 1; the drill reports where.
    /// </summary>
    private void AssertContiguous((string Node, string Incarnation) key, IEnumerable<long> values)
    {
        var sorted = values.Order().ToList();
        var gap = Enumerable.Range(1, sorted.Count - 1).FirstOrDefault(i => sorted[i] != sorted[i - 1] + 1);
        Assert.True(gap == 0, $"{key.Node}/{key.Incarnation}: gap after {(gap == 0 ? 0 : sorted[gap - 1])}, next is {(gap == 0 ? 0 : sorted[gap])}");
        output.WriteLine($"{key.Node}/{key.Incarnation}: {sorted[0]}..{sorted[^1]} without a gap");
    }

    private static async Task<(int Code, string Text)> Cli(string command, string url)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await CliApp.RunAsync([command, "--url", url], stdout, stderr);
        return (code, stdout + stderr.ToString());
    }
}
