using System.Globalization;
using System.IO.Enumeration;
using System.Text;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Processes;

/// <summary>
/// Reads <c>/proc/&lt;pid&gt;/stat</c> of every process once per scan into tracked entries it keeps
/// between scans, with one reused buffer. CPU is a ratio of all CPUs over the real time between two
/// scans; a process seen for the first time has none yet.
/// </summary>
internal sealed class ProcessScanner
{
    private readonly string _procRoot;
    private readonly TimeProvider _time;
    private readonly double _clockTicksPerSecond;
    private int _cpuCount = Environment.ProcessorCount;
    private readonly long _pageSize;
    private readonly Func<string, bool> _filter;
    private readonly ProcFileReader _reader = new();
    private readonly Dictionary<int, TrackedProcess> _tracked = [];
    private readonly List<TrackedProcess> _seen = [];
    private readonly List<int> _gone = [];
    private long _generation;
    private long? _lastScan;

    /// <param name="procRoot">Where procfs is mounted.</param>
    /// <param name="time">The clock that measures the time between scans.</param>
    /// <param name="clockTicksPerSecond">USER_HZ, the unit of the CPU times in stat.</param>
    /// <param name="pageSize">Bytes per page, for RSS.</param>
    /// <param name="filter">Which command names to keep (include/exclude), asked once per process.</param>
    public ProcessScanner(string procRoot, TimeProvider time, double clockTicksPerSecond, long pageSize, Func<string, bool> filter)
    {
        _procRoot = procRoot;
        _time = time;
        _clockTicksPerSecond = clockTicksPerSecond;
        _pageSize = pageSize;
        _filter = filter;
    }

    /// <summary>Processes that exited between listing and reading, since the start.</summary>
    public long Vanished { get; private set; }

    /// <summary>The host's CPUs the utilization is a ratio of, from the cpuN lines of &lt;proc-root&gt;/stat at the last scan.</summary>
    public int CpuCount => _cpuCount;

    /// <summary>The processes read in the last scan that passed the filter.</summary>
    public List<TrackedProcess> Seen => _seen;

    /// <summary>The number of the last scan; a process's <see cref="TrackedProcess.Generation"/> equals it when it was read then.</summary>
    public long Generation => _generation;

    /// <summary>Reads every process. Unreadable or malformed entries are skipped and counted in <paramref name="skipped"/>.</summary>
    public void Scan(SkipCounter skipped)
    {
        _generation++;
        _seen.Clear();
        var now = _time.GetTimestamp();
        var elapsedSeconds = _lastScan is { } last ? _time.GetElapsedTime(last, now).TotalSeconds : 0;
        _lastScan = now;
        // Host-wide /proc times are shares of the host's CPUs, not of this container's quota.
        if (_reader.TryRead(Path.Join(_procRoot, "stat"), out var procStat, out _) == ProcRead.Ok && HostCpus.FromProcStat(procStat) is > 0 and var cpus)
            _cpuCount = cpus;

        foreach (var pid in ListPids())
        {
            _tracked.TryGetValue(pid, out var tracked);
            var path = tracked?.StatPath ?? Path.Join(_procRoot, pid.ToString(CultureInfo.InvariantCulture), "stat");
            switch (_reader.TryRead(path, out var line, out var reason))
            {
                case ProcRead.Vanished:
                    Vanished++;
                    continue;
                case ProcRead.Failed:
                    skipped.Count(SkipReasons.StatUnreadable, reason!);
                    continue;
            }
            if (!ProcStat.TryParse(line, out var stat))
            {
                skipped.Count(SkipReasons.StatMalformed, $"{path}: malformed stat line");
                continue;
            }
            ulong? previousTicks = null;
            if (tracked is null || tracked.StartTime != stat.StartTime)
            {
                tracked = new TrackedProcess(pid, stat.StartTime, path); // new process, or the pid was reused
                _tracked[pid] = tracked;
            }
            else if (tracked.Generation == _generation - 1) previousTicks = tracked.CpuTicks;

            var command = line[stat.Command];
            if (!SameAscii(command, tracked.Command))
            {
                // A new process, or one that exec'd another program: read its details afresh.
                tracked.Command = Encoding.UTF8.GetString(command);
                tracked.Included = _filter(tracked.Command);
                tracked.User = null;
                tracked.CommandLine = null;
            }

            tracked.CpuUtilization = null;
            if (previousTicks is { } before && elapsedSeconds > 0)
            {
                if (stat.CpuTicks >= before)
                    tracked.CpuUtilization = (stat.CpuTicks - before) / _clockTicksPerSecond / elapsedSeconds / _cpuCount;
                else
                    skipped.Count(SkipReasons.CpuBackwards, $"{path}: CPU time went backwards; its rate resumes next scan");
            }
            tracked.CpuTicks = stat.CpuTicks;
            tracked.Generation = _generation;
            tracked.RssBytes = stat.RssPages * _pageSize;
            tracked.Threads = stat.Threads;
            if (tracked.Included) _seen.Add(tracked);
        }

        _gone.Clear();
        foreach (var (pid, tracked) in _tracked)
            if (tracked.Generation != _generation) _gone.Add(pid);
        foreach (var pid in _gone) _tracked.Remove(pid);
    }

    /// <summary>Reads <c>/proc/&lt;pid&gt;/status</c> and <c>cmdline</c> of a process once; false when it has exited since.</summary>
    public bool FillDetails(TrackedProcess process, UserNames users, SkipCounter skipped)
    {
        var directory = Path.GetDirectoryName(process.StatPath)!;
        if (process.User is null)
        {
            var result = _reader.TryRead(Path.Join(directory, "status"), out var status, out var reason);
            if (result == ProcRead.Vanished) return Gone();
            if (result == ProcRead.Failed) skipped.Count(SkipReasons.StatusUnreadable, reason!);
            else if (TryEffectiveUid(status, out var uid)) process.User = users.NameOf(uid);
            else skipped.Count(SkipReasons.StatusMalformed, $"{directory}/status: no Uid line");
            process.User ??= "?";
        }
        if (process.CommandLine is null)
        {
            var result = _reader.TryRead(Path.Join(directory, "cmdline"), out var cmdline, out var reason);
            if (result == ProcRead.Vanished) return Gone();
            if (result == ProcRead.Failed) skipped.Count(SkipReasons.CmdlineUnreadable, reason!);
            process.CommandLine = result == ProcRead.Ok && cmdline.Length > 0 ? CommandLineText(cmdline) : $"[{process.Command}]";
        }
        return true;
    }

    private bool Gone()
    {
        Vanished++;
        return false;
    }

    private FileSystemEnumerable<int> ListPids() =>
        new(_procRoot, static (ref FileSystemEntry entry) => int.Parse(entry.FileName, NumberStyles.None, CultureInfo.InvariantCulture))
        {
            ShouldIncludePredicate = static (ref FileSystemEntry entry) => entry.IsDirectory && IsNumber(entry.FileName),
        };

    private static bool IsNumber(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > 9) return false;
        foreach (var c in name)
            if (c is < '0' or > '9') return false;
        return true;
    }

    private static bool SameAscii(ReadOnlySpan<byte> bytes, string text)
    {
        if (bytes.Length != text.Length) return false;
        for (var i = 0; i < bytes.Length; i++)
            if (bytes[i] != text[i]) return false;
        return true;
    }

    /// <summary>The effective uid: the second number of the "Uid:" line (real, effective, saved, fs).</summary>
    private static bool TryEffectiveUid(ReadOnlySpan<byte> status, out uint uid)
    {
        uid = 0;
        var at = status.IndexOf("\nUid:"u8);
        if (at < 0) return false;
        var rest = status[(at + 5)..];
        var end = rest.IndexOf((byte)'\n');
        var text = Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]);
        var parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out uid);
    }

    private const int MaxCommandLine = 256;

    private static string CommandLineText(ReadOnlySpan<byte> raw)
    {
        // Arguments are separated (and ended) by NUL.
        var text = Encoding.UTF8.GetString(raw).Replace('\0', ' ').Trim();
        return text.Length <= MaxCommandLine ? text : text[..MaxCommandLine];
    }
}
