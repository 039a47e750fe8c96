namespace Tracelet.Collectors.Host;

/// <summary>
/// Names of the system collector's metrics and labels (documented in docs/metrics.md, section "system").
/// OpenTelemetry semantic-convention names; counters are reported as rates per second over the real
/// elapsed time between two samples, so their unit is the counter's unit per second.
/// </summary>
public static class SystemMetrics
{
    /// <summary>Share of CPU time per <c>state</c> since the previous sample, 0..1; <c>core</c> for one logical CPU, none for the whole machine.</summary>
    public const string CpuUtilization = "system.cpu.utilization";

    /// <summary>Number of logical CPUs (cpuN lines of /proc/stat).</summary>
    public const string CpuLogicalCount = "system.cpu.logical.count";

    /// <summary>Context switches per second.</summary>
    public const string ContextSwitches = "system.cpu.context_switches";

    /// <summary>Processes running or blocked on I/O (<c>state</c>), count.</summary>
    public const string ProcessCount = "system.process.count";

    /// <summary>Load average over 1 minute.</summary>
    public const string LoadAverage1m = "system.cpu.load_average.1m";

    /// <summary>Load average over 5 minutes.</summary>
    public const string LoadAverage5m = "system.cpu.load_average.5m";

    /// <summary>Load average over 15 minutes.</summary>
    public const string LoadAverage15m = "system.cpu.load_average.15m";

    /// <summary>Physical memory installed (MemTotal), bytes.</summary>
    public const string MemoryLimit = "system.memory.limit";

    /// <summary>Memory by <c>state</c> (used = total - available, free, buffered, cached), bytes.</summary>
    public const string MemoryUsage = "system.memory.usage";

    /// <summary>Used memory / total, 0..1.</summary>
    public const string MemoryUtilization = "system.memory.utilization";

    /// <summary>The kernel's estimate of memory available to new work without swapping (MemAvailable), bytes.</summary>
    public const string MemoryAvailable = "system.linux.memory.available";

    /// <summary>Swap by <c>state</c> (used, free), bytes.</summary>
    public const string PagingUsage = "system.paging.usage";

    /// <summary>Used swap / total swap, 0..1 (absent without swap).</summary>
    public const string PagingUtilization = "system.paging.utilization";

    /// <summary>Filesystem space by <c>state</c> (used, free to unprivileged users, reserved for root), bytes.</summary>
    public const string FilesystemUsage = "system.filesystem.usage";

    /// <summary>Used / (used + free to unprivileged users), 0..1: what df shows as Use%.</summary>
    public const string FilesystemUtilization = "system.filesystem.utilization";

    /// <summary>Inodes by <c>state</c> (used, free), count.</summary>
    public const string FilesystemInodesUsage = "system.filesystem.inodes.usage";

    /// <summary>Bytes read or written per second (<c>direction</c>).</summary>
    public const string DiskIo = "system.disk.io";

    /// <summary>Reads or writes completed per second (<c>direction</c>).</summary>
    public const string DiskOperations = "system.disk.operations";

    /// <summary>Seconds spent on reads or writes per second (<c>direction</c>); divided by operations it is the mean latency.</summary>
    public const string DiskOperationTime = "system.disk.operation_time";

    /// <summary>Seconds the device was busy per second, 0..1.</summary>
    public const string DiskIoTime = "system.disk.io_time";

    /// <summary>I/O requests in flight at the time of the sample, count.</summary>
    public const string DiskPendingOperations = "system.disk.pending_operations";

    /// <summary>Bytes received or transmitted per second (<c>direction</c>).</summary>
    public const string NetworkIo = "system.network.io";

    /// <summary>Packets received or transmitted per second (<c>direction</c>).</summary>
    public const string NetworkPackets = "system.network.packet.count";

    /// <summary>Receive or transmit errors per second (<c>direction</c>).</summary>
    public const string NetworkErrors = "system.network.errors";

    /// <summary>Packets dropped per second (<c>direction</c>).</summary>
    public const string NetworkDropped = "system.network.packet.dropped";
}

/// <summary>Label keys and values of the system collector's samples.</summary>
public static class SystemLabels
{
    /// <summary>Logical CPU number (the N of cpuN).</summary>
    public const string Core = "core";

    /// <summary>CPU time state, memory state, filesystem state, process state.</summary>
    public const string State = "state";

    /// <summary>read / write for disks, receive / transmit for networks.</summary>
    public const string Direction = "direction";

    /// <summary>Block device name (vda, nvme0n1) or the device of a mount.</summary>
    public const string Device = "device";

    /// <summary>Where a filesystem is mounted.</summary>
    public const string Mountpoint = "mountpoint";

    /// <summary>Filesystem type (ext4, xfs...).</summary>
    public const string Type = "type";

    /// <summary>Network interface name.</summary>
    public const string Interface = "interface";
}
