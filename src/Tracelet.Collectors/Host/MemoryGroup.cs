using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Host;

/// <summary>
/// Memory and swap from /proc/meminfo. "used" is total minus available, as free(1) has computed
/// it since procps 4: memory the kernel could not hand to new work without swapping.
/// </summary>
internal sealed class MemoryGroup(string procRoot, SkipCounter skips, TimeProvider clock) : MetricGroup("memory", skips, clock)
{
    private const string Malformed = "memory.malformed";

    private static readonly ImmutableArray<MetricLabel> Used = [new(SystemLabels.State, "used")];
    private static readonly ImmutableArray<MetricLabel> Free = [new(SystemLabels.State, "free")];
    private static readonly ImmutableArray<MetricLabel> Buffered = [new(SystemLabels.State, "buffered")];
    private static readonly ImmutableArray<MetricLabel> Cached = [new(SystemLabels.State, "cached")];

    private readonly ProcFileReader _file = new(Path.Combine(procRoot, "meminfo"));

    public override void Collect(ISampleWriter writer, long sample)
    {
        var info = MemInfoParser.Parse(_file.Read());
        Skips.Count(Malformed, info.Malformed);
        if (info.Total is not { } total || total == 0)
        {
            Skips.Count(Malformed, $"{_file.Path}: no MemTotal line");
            return;
        }
        // Kernels before 3.14 have no MemAvailable; free(1) then estimated it as free + buffers + cache.
        var available = info.Available ?? (info.Free ?? 0) + (info.Buffers ?? 0) + (info.Cached ?? 0);
        var used = total > available ? total - available : 0;
        Write(writer, SystemMetrics.MemoryLimit, total, []);
        Write(writer, SystemMetrics.MemoryUsage, used, Used);
        Write(writer, SystemMetrics.MemoryUtilization, (double)used / total, Used);
        Write(writer, SystemMetrics.MemoryAvailable, available, []);
        if (info.Free is { } free) Write(writer, SystemMetrics.MemoryUsage, free, Free);
        if (info.Buffers is { } buffers) Write(writer, SystemMetrics.MemoryUsage, buffers, Buffered);
        if (info.Cached is { } cached) Write(writer, SystemMetrics.MemoryUsage, cached, Cached);

        if (info.SwapTotal is { } swapTotal && info.SwapFree is { } swapFree)
        {
            var swapUsed = swapTotal > swapFree ? swapTotal - swapFree : 0;
            Write(writer, SystemMetrics.PagingUsage, swapUsed, Used);
            Write(writer, SystemMetrics.PagingUsage, swapFree, Free);
            if (swapTotal > 0) Write(writer, SystemMetrics.PagingUtilization, (double)swapUsed / swapTotal, Used);
        }
    }
}
