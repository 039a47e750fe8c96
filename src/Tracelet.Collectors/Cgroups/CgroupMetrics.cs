namespace Tracelet.Collectors.Cgroups;

/// <summary>
/// Names of the cgroups collector's metrics (docs/metrics.md, "cgroups"). OpenTelemetry's
/// <c>container.*</c> names where the convention has one; <c>cgroup.*</c> for limits and throttling, which it has not.
/// </summary>
public static class CgroupMetrics
{
    /// <summary>CPU time used by the cgroup, seconds (cpu.stat usage_usec), a counter.</summary>
    public const string CpuTime = "container.cpu.time";

    /// <summary>CPU used over the last interval, in cores (Δ usage_usec / elapsed).</summary>
    public const string CpuUsage = "container.cpu.usage";

    /// <summary>CPU limit in cores (cpu.max quota / period); absent when unlimited.</summary>
    public const string CpuLimit = "cgroup.cpu.limit";

    /// <summary>CPU used over the last interval as a ratio of the limit; absent when unlimited.</summary>
    public const string CpuLimitUtilization = "cgroup.cpu.limit.utilization";

    /// <summary>Enforcement periods elapsed (cpu.stat nr_periods), a counter.</summary>
    public const string CpuPeriods = "cgroup.cpu.periods";

    /// <summary>Periods in which the cgroup was throttled (cpu.stat nr_throttled), a counter.</summary>
    public const string CpuThrottledPeriods = "cgroup.cpu.throttled.periods";

    /// <summary>Throttled periods / elapsed periods over the last interval, 0..1.</summary>
    public const string CpuThrottledPeriodsRatio = "cgroup.cpu.throttled.periods.ratio";

    /// <summary>Time the cgroup's threads were held back by the quota, seconds (cpu.stat throttled_usec), a counter.</summary>
    public const string CpuThrottledTime = "cgroup.cpu.throttled.time";

    /// <summary>Throttled seconds per elapsed second over the last interval (summed over CPUs, so may exceed 1).</summary>
    public const string CpuThrottledRate = "cgroup.cpu.throttled.rate";

    /// <summary>Memory charged to the cgroup, bytes (memory.current).</summary>
    public const string MemoryUsage = "container.memory.usage";

    /// <summary>Memory limit, bytes (memory.max); absent when unlimited.</summary>
    public const string MemoryLimit = "cgroup.memory.limit";

    /// <summary>memory.current / memory.max, 0..1; absent when unlimited.</summary>
    public const string MemoryLimitUtilization = "cgroup.memory.limit.utilization";

    /// <summary>memory.events counters, one sample per event (label <c>event</c>: low, high, max, oom, oom_kill...).</summary>
    public const string MemoryEvents = "cgroup.memory.events";
}
