namespace Tracelet.Collectors.Self;

/// <summary>
/// Names of the self collector's metrics: the node's own process (OpenTelemetry process.* and
/// .NET runtime dotnet.* conventions; docs/metrics.md, "self").
/// </summary>
public static class SelfMetrics
{
    /// <summary>CPU used by the node since the previous collection, as a ratio of the CPUs available to it (0..1).</summary>
    public const string CpuUtilization = "process.cpu.utilization";

    /// <summary>CPU time of the node, seconds, a counter; label <c>cpu.mode</c> = user | system.</summary>
    public const string CpuTime = "process.cpu.time";

    /// <summary>Resident set size of the node process, bytes.</summary>
    public const string MemoryUsage = "process.memory.usage";

    /// <summary>Threads of the node process (from /proc/self/stat).</summary>
    public const string ThreadCount = "process.thread.count";

    /// <summary>Garbage collections since the start, a counter; label <c>gc.heap.generation</c> = gen0 | gen1 | gen2.</summary>
    public const string GcCollections = "dotnet.gc.collections";

    /// <summary>Managed heap size after the last collection, bytes; label <c>gc.heap.generation</c> = gen0 | gen1 | gen2 | loh | poh.</summary>
    public const string GcHeapSize = "dotnet.gc.last_collection.heap.size";

    /// <summary>Memory committed by the GC at the last collection, bytes.</summary>
    public const string GcCommitted = "dotnet.gc.last_collection.memory.committed_size";

    /// <summary>Bytes allocated on the managed heap since the start, a counter.</summary>
    public const string GcAllocated = "dotnet.gc.heap.total_allocated";

    /// <summary>Time the runtime was paused for GC since the start, seconds, a counter.</summary>
    public const string GcPauseTime = "dotnet.gc.pause.time";

    /// <summary>Thread pool threads.</summary>
    public const string ThreadPoolThreads = "dotnet.thread_pool.thread.count";

    /// <summary>Work items queued to the thread pool, not yet started.</summary>
    public const string ThreadPoolQueueLength = "dotnet.thread_pool.queue.length";

    /// <summary>Work items the thread pool completed since the start, a counter.</summary>
    public const string ThreadPoolCompleted = "dotnet.thread_pool.work_item.count";

    /// <summary>Times a thread waited for a contended lock since the start, a counter.</summary>
    public const string LockContentions = "dotnet.monitor.lock_contentions";
}
