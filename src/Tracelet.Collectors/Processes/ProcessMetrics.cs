namespace Tracelet.Collectors.Processes;

/// <summary>
/// Names of the processes collector's metrics (OpenTelemetry process.* conventions; docs/metrics.md,
/// "processes"). Every sample carries the labels <c>pid</c>, <c>command</c>, <c>user</c> and <c>command_line</c>.
/// </summary>
public static class ProcessMetrics
{
    /// <summary>CPU used since the previous scan, as a ratio of all CPUs (0..1).</summary>
    public const string CpuUtilization = "process.cpu.utilization";

    /// <summary>Resident set size, bytes.</summary>
    public const string MemoryUsage = "process.memory.usage";

    /// <summary>Threads in the process.</summary>
    public const string ThreadCount = "process.thread.count";

    /// <summary>Label: the process id.</summary>
    public const string PidLabel = "pid";

    /// <summary>Label: the command name (comm, at most 15 characters).</summary>
    public const string CommandLabel = "command";

    /// <summary>Label: the effective user's name (or uid when the passwd file has none).</summary>
    public const string UserLabel = "user";

    /// <summary>Label: the command line, arguments separated by spaces, cut at 256 characters.</summary>
    public const string CommandLineLabel = "command_line";
}
