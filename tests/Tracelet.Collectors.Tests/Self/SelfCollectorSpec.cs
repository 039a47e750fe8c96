using Tracelet.Abstractions;
using Tracelet.Collectors.Self;
using Tracelet.Collectors.Tests.Fixtures;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Collectors.Tests.Self;

public sealed class SelfCollectorSpec
{
    private static async Task<SelfCollector> StartAsync(TimeProvider time)
    {
        var collector = new SelfCollector(time);
        await collector.InitializeAsync(new PluginContext("test-node", Path.GetTempPath(), PluginConfig.Empty), CancellationToken.None);
        return collector;
    }

    [Fact]
    public async Task The_node_process_reports_its_memory_threads_gc_and_thread_pool()
    {
        var collector = await StartAsync(TimeProvider.System);
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.InRange(writer.Value(SelfMetrics.MemoryUsage), 16 * 1024 * 1024, 64L * 1024 * 1024 * 1024);
        Assert.InRange(writer.Value(SelfMetrics.ThreadCount), 2, 10_000);
        Assert.InRange(writer.Value(SelfMetrics.ThreadPoolThreads), 1, 10_000);
        Assert.True(writer.Value(SelfMetrics.GcAllocated) > 0);
        Assert.True(writer.Value(SelfMetrics.CpuTime, ("cpu.mode", "user")) > 0);
        foreach (var generation in new[] { "gen0", "gen1", "gen2" })
            Assert.True(writer.Value(SelfMetrics.GcCollections, ("gc.heap.generation", generation)) >= 0);
        Assert.Empty(writer.Named(SelfMetrics.CpuUtilization)); // first collection: no rate yet
        Assert.Equal(0L, collector.GetStatus()["skipped"]);
    }

    [Fact]
    public async Task Cpu_utilization_is_the_cpu_time_used_over_the_elapsed_time()
    {
        var clock = new ManualClock();
        var collector = await StartAsync(clock);
        var before = Environment.CpuUsage.TotalTime; // other specs may run in parallel: bound by the whole process's CPU
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);
        var x = 0.0;
        while (Environment.CpuUsage.TotalTime - before < TimeSpan.FromMilliseconds(100))
            for (var i = 0; i < 100_000; i++) x += Math.Sqrt(i);
        GC.KeepAlive(x);
        clock.Advance(TimeSpan.FromSeconds(1000)); // so long that ~0.1 s of CPU is a small, bounded ratio
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        var used = Environment.CpuUsage.TotalTime - before;
        var utilization = writer.Value(SelfMetrics.CpuUtilization);
        Assert.InRange(utilization, 0.05 / 1000 / Environment.ProcessorCount, used.TotalSeconds / 1000 / Environment.ProcessorCount);
    }
}
