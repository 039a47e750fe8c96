using System.Diagnostics;
using Tracelet.Abstractions;
using Tracelet.Collectors.Host;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Bench.Collectors;

/// <summary>
/// The in-process half: one full <see cref="SystemCollector.CollectAsync"/> on this machine's
/// /proc and /sys into a discarding writer, against the floor of reading the same /proc files'
/// bytes without parsing them (<see cref="ProcFileReader"/>, the same reader the collector uses).
/// </summary>
internal static class SystemSampleCost
{
    public const string SampleMicroseconds = "system.sample_us";
    public const string AllocatedBytesPerSample = "system.allocated_bytes_per_sample";
    public const string BaselineReadMicroseconds = "system.baseline_read_us";
    public const string BaselineAllocatedBytes = "system.baseline_allocated_bytes_per_read";
    public const string Ratio = "system.ratio";
    public const string SamplesPerCollection = "system.samples_per_collection";

    private static readonly string[] Files = ["stat", "meminfo", "loadavg", "self/mounts", "diskstats", "net/dev"];

    public static async Task RunAsync(BenchContext context, int rounds, int samplesPerRound)
    {
        // A dedicated thread: the allocation figure counts this thread's allocations only.
        await Task.Factory.StartNew(() => Run(context, rounds, samplesPerRound), context.Cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static void Run(BenchContext context, int rounds, int samplesPerRound)
    {
        var ct = context.Cancellation;
        var collector = new SystemCollector();
        collector.InitializeAsync(new PluginContext("bench", Path.GetTempPath(), PluginConfig.Empty), ct).AsTask().GetAwaiter().GetResult();
        var writer = new DiscardingWriter();
        var files = Files.Select(f => new ProcFileReader(Path.Combine("/proc", f))).ToArray();

        void Collect()
        {
            // The filesystem group awaits its statvfs calls (run on threads of their own), so wait for it.
            var pending = collector.CollectAsync(writer, ct);
            if (!pending.IsCompletedSuccessfully) pending.AsTask().GetAwaiter().GetResult();
        }

        void ReadOnly()
        {
            foreach (var file in files) file.Read();
        }

        // Warm up: the JIT's tiered compilation settles, the device and mount tables are built.
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed < TimeSpan.FromSeconds(2))
        {
            Collect();
            ReadOnly();
        }

        List<double> ours = [], baseline = [];
        long allocated = 0, allocatedSamples = 0, written = 0, baselineAllocated = 0;
        for (var round = 0; round < rounds; round++)
        {
            ct.ThrowIfCancellationRequested();
            var before = writer.Count;
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < samplesPerRound; i++) Collect();
            ours.Add(clock.Elapsed.TotalMicroseconds / samplesPerRound);
            allocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            allocatedSamples += samplesPerRound;
            written += writer.Count - before;

            allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            clock.Restart();
            for (var i = 0; i < samplesPerRound; i++) ReadOnly();
            baseline.Add(clock.Elapsed.TotalMicroseconds / samplesPerRound);
            baselineAllocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        }

        var status = collector.GetStatus();
        context.Log($"system collector: {rounds} rounds of {samplesPerRound} samples; status {string.Join(", ", status.Select(kv => $"{kv.Key}={Describe(kv.Value)}"))}; the baseline reads {files.Sum(file => file.Read().Length)} bytes of {string.Join(", ", Files)}");
        var f = context.Figures;
        f.Spread(SampleMicroseconds, ours, "us");
        f.Report(AllocatedBytesPerSample, (double)allocated / allocatedSamples, "bytes");
        f.Spread(BaselineReadMicroseconds, baseline, "us");
        f.Report(BaselineAllocatedBytes, (double)baselineAllocated / allocatedSamples, "bytes");
        f.Ratio(Ratio, Figures.Median(ours), Figures.Median(baseline));
        f.Report(SamplesPerCollection, (double)written / allocatedSamples, "samples");
    }

    private static string Describe(object? value) => value switch
    {
        IReadOnlyDictionary<string, long> d => "{" + string.Join(", ", d.Select(kv => $"{kv.Key}: {kv.Value}")) + "}",
        string[] a => "[" + string.Join(",", a) + "]",
        _ => value?.ToString() ?? "null",
    };
}
