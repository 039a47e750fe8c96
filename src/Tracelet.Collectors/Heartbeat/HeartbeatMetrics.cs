namespace Tracelet.Collectors.Heartbeat;

/// <summary>Names of the heartbeat collector's metrics (documented in docs/metrics.md).</summary>
public static class HeartbeatMetrics
{
    /// <summary>Increments by one per collection; a gap means missed collections.</summary>
    public const string Sequence = "tracelet.heartbeat.sequence";

    /// <summary>Seconds since the collector was created.</summary>
    public const string UptimeSeconds = "process.uptime";

    /// <summary>Resident set size of the node process, bytes.</summary>
    public const string ResidentBytes = "process.memory.usage";

    /// <summary>Managed heap size of the node process, bytes.</summary>
    public const string ManagedHeapBytes = "process.runtime.dotnet.gc.heap.size";
}
