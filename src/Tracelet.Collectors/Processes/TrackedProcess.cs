namespace Tracelet.Collectors.Processes;

/// <summary>
/// What the processes collector keeps about one process between scans: its CPU ticks (for the
/// next rate) and what is read only once per process (command line, user), reused while the pid,
/// start time and command name stay the same.
/// </summary>
internal sealed class TrackedProcess(int pid, ulong startTime, string statPath)
{
    public int Pid { get; } = pid;
    public ulong StartTime { get; } = startTime;
    public string StatPath { get; } = statPath;
    public string Command { get; set; } = "";
    public bool Included { get; set; }
    public string? User { get; set; }
    public string? CommandLine { get; set; }
    public ulong CpuTicks { get; set; }
    public long Generation { get; set; }
    public long SelectedIn { get; set; }
    public double? CpuUtilization { get; set; }
    public long RssBytes { get; set; }
    public int Threads { get; set; }
}
