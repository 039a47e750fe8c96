using Tracelet.Abstractions;
using Tracelet.Collectors.Processes;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Self;

/// <summary>
/// The node's own cost, always on (enabled in reference.conf): CPU, RSS, threads, GC counts, heap
/// and pause time, thread pool threads and queue. Kept apart from <c>heartbeat</c>, which is a
/// 1-second liveness signal: this one runs every 10 s, like the pipeline's self-telemetry.
/// </summary>
public sealed class SelfCollector : CollectorPlugin
{
    private static readonly MetricLabel[] UserMode = [new("cpu.mode", "user")];
    private static readonly MetricLabel[] SystemMode = [new("cpu.mode", "system")];
    private static readonly MetricLabel[][] Generations =
        [[new("gc.heap.generation", "gen0")], [new("gc.heap.generation", "gen1")], [new("gc.heap.generation", "gen2")],
         [new("gc.heap.generation", "loh")], [new("gc.heap.generation", "poh")]];

    private readonly TimeProvider _time;
    private readonly SkipCounter _skipped = new();
    private readonly ProcFileReader _reader = new();
    private string _statPath = "/proc/self/stat";
    private long? _lastTimestamp;
    private TimeSpan _lastCpu;
    private long _collections;

    /// <summary>Creates the collector (discovery calls this; it reads nothing).</summary>
    public SelfCollector() : this(TimeProvider.System) { }

    /// <summary>Creates the collector with a clock.</summary>
    internal SelfCollector(TimeProvider time) => _time = time;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("self", "1.0.0", PluginType.Collector)
    {
        Description = "The node process's own CPU, memory, threads, GC and thread pool",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "seconds, or a duration like \"10s\"" },
                "proc-root": { "type": "string", "minLength": 1, "description": "where procfs is mounted, for the thread count (default /proc)" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    protected override TimeSpan DefaultInterval => TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public override ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        _statPath = Path.Join(context.Config.GetString("proc-root", "/proc"), "self", "stat");
        return base.InitializeAsync(context, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        _collections++;
        var now = _time.GetTimestamp();
        var cpu = Environment.CpuUsage;
        writer.Write(SelfMetrics.CpuTime, cpu.UserTime.TotalSeconds, UserMode);
        writer.Write(SelfMetrics.CpuTime, cpu.PrivilegedTime.TotalSeconds, SystemMode);
        if (_lastTimestamp is { } last)
        {
            var elapsed = _time.GetElapsedTime(last, now).TotalSeconds;
            // A share of the CPUs this process may use (its cgroup quota or affinity, which ProcessorCount follows), not of the host's.
            if (elapsed > 0)
                writer.Write(SelfMetrics.CpuUtilization, (cpu.TotalTime - _lastCpu).TotalSeconds / elapsed / Environment.ProcessorCount);
        }
        (_lastTimestamp, _lastCpu) = (now, cpu.TotalTime);

        writer.Write(SelfMetrics.MemoryUsage, Environment.WorkingSet);
        WriteThreadCount(writer);

        for (var generation = 0; generation <= 2; generation++)
            writer.Write(SelfMetrics.GcCollections, GC.CollectionCount(generation), Generations[generation]);
        var info = GC.GetGCMemoryInfo();
        var generations = info.GenerationInfo;
        for (var i = 0; i < generations.Length && i < Generations.Length; i++)
            writer.Write(SelfMetrics.GcHeapSize, generations[i].SizeAfterBytes, Generations[i]);
        writer.Write(SelfMetrics.GcCommitted, info.TotalCommittedBytes);
        writer.Write(SelfMetrics.GcAllocated, GC.GetTotalAllocatedBytes());
        writer.Write(SelfMetrics.GcPauseTime, GC.GetTotalPauseDuration().TotalSeconds);

        writer.Write(SelfMetrics.ThreadPoolThreads, ThreadPool.ThreadCount);
        writer.Write(SelfMetrics.ThreadPoolQueueLength, ThreadPool.PendingWorkItemCount);
        writer.Write(SelfMetrics.ThreadPoolCompleted, ThreadPool.CompletedWorkItemCount);
        writer.Write(SelfMetrics.LockContentions, Monitor.LockContentionCount);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?> { ["collections"] = _collections };
        _skipped.AddTo(status);
        return status;
    }

    private void WriteThreadCount(ISampleWriter writer)
    {
        switch (_reader.TryRead(_statPath, out var line, out var reason))
        {
            case ProcRead.Ok when ProcStat.TryParse(line, out var stat):
                writer.Write(SelfMetrics.ThreadCount, stat.Threads);
                break;
            case ProcRead.Ok:
                _skipped.Count(SkipReasons.StatMalformed, $"{_statPath}: malformed stat line");
                break;
            default:
                _skipped.Count(SkipReasons.StatUnreadable, reason ?? $"{_statPath}: not found");
                break;
        }
    }
}
