using System.Collections.Immutable;
using System.Text;
using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Cgroups;

/// <summary>
/// Limits and usage of the node's cgroup v2 (a container's, a Slurm job's or a Kubernetes pod's):
/// cpu.max, cpu.stat throttling, memory.max, memory.current and memory.events. Rates are taken over
/// the real time between two collections, so the first collection writes none. A host without
/// cgroup v2 gets a status saying so, and no samples.
/// </summary>
public sealed class CgroupCollector : CollectorPlugin
{
    private readonly TimeProvider _time;
    private const string Unreadable = "file.unreadable";
    private const string Malformed = "file.malformed";
    private const string CounterBackwards = "cpu.stat.counter-backwards";

    private readonly SkipCounter _skipped = new();
    private readonly ProcFileReader _reader = new();
    private readonly Dictionary<string, long> _keyed = new(StringComparer.Ordinal);
    private string _cgroupRoot = "/sys/fs/cgroup";
    private string _procRoot = "/proc";
    private string? _configuredPath;
    private string _state = "not collected yet";
    private long _collections;
    private CpuReading? _previous;

    /// <summary>Creates the collector (discovery calls this; it reads nothing).</summary>
    public CgroupCollector() : this(TimeProvider.System) { }

    /// <summary>Creates the collector with a clock, so specs can set the time between collections.</summary>
    internal CgroupCollector(TimeProvider time) => _time = time;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("cgroups", "1.0.0", PluginType.Collector)
    {
        Description = "Limits, usage, throttling and OOM kills of the node's cgroup v2",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "seconds, or a duration like \"10s\"" },
                "cgroup-root": { "type": "string", "minLength": 1, "description": "where cgroup v2 is mounted (default /sys/fs/cgroup)" },
                "proc-root": { "type": "string", "minLength": 1, "description": "procfs, to find the node's cgroup in <proc-root>/self/cgroup (default /proc)" },
                "path": { "type": "string", "minLength": 1, "description": "a cgroup path under cgroup-root to watch instead of the node's own, e.g. /system.slice/slurmstepd.scope/job_42" }
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
        _cgroupRoot = context.Config.GetString("cgroup-root", _cgroupRoot);
        _procRoot = context.Config.GetString("proc-root", _procRoot);
        _configuredPath = context.Config.Has("path") ? context.Config.GetString("path", "/") : null;
        return base.InitializeAsync(context, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        _collections++;
        if (!File.Exists(Path.Combine(_cgroupRoot, "cgroup.controllers")))
        {
            _state = $"cgroup v2 not mounted at {_cgroupRoot} (cgroup v1 or hybrid host)";
            _previous = null;
            return ValueTask.CompletedTask;
        }
        var cgroupPath = _configuredPath ?? FindOwnCgroup();
        if (cgroupPath is null) return ValueTask.CompletedTask;
        var directory = Path.Join(_cgroupRoot, cgroupPath);
        if (!Directory.Exists(directory))
        {
            _state = $"cgroup {cgroupPath} not found under {_cgroupRoot}";
            _previous = null;
            return ValueTask.CompletedTask;
        }
        // The root cgroup has no cpu.max, memory.max, memory.current or memory.events: said once here, not skipped every time.
        var root = cgroupPath.Trim('/').Length == 0;
        _state = root ? $"{cgroupPath} (root cgroup: no limits)" : cgroupPath;
        ImmutableArray<MetricLabel> labels = [new("cgroup", cgroupPath)];
        WriteCpu(writer, cgroupPath, directory, root, labels.AsSpan());
        if (!root) WriteMemory(writer, directory, labels.AsSpan());
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?> { ["cgroup"] = _state, ["collections"] = _collections };
        _skipped.AddTo(status);
        return status;
    }

    private string? FindOwnCgroup()
    {
        var file = Path.Join(_procRoot, "self", "cgroup");
        if (!TryRead(file, out var text)) return null;
        var path = CgroupFiles.FindUnifiedPath(text);
        if (path is null) _state = $"the node's process has no cgroup v2 entry (\"0::\") in {file}";
        return path;
    }

    private void WriteCpu(ISampleWriter writer, string cgroupPath, string directory, bool root, ReadOnlySpan<MetricLabel> labels)
    {
        double? limitCores = null;
        if (!root && TryRead(Path.Join(directory, "cpu.max"), out var cpuMax))
        {
            if (!CgroupFiles.TryParseCpuMax(cpuMax, out var quota, out var period))
                _skipped.Count(Malformed, $"cpu.max: malformed \"{cpuMax.Trim()}\"");
            else if (quota is { } q)
            {
                limitCores = (double)q / period;
                writer.Write(CgroupMetrics.CpuLimit, limitCores.Value, labels);
            }
        }

        if (!TryRead(Path.Join(directory, "cpu.stat"), out var cpuStat)) return;
        if (CgroupFiles.ParseFlatKeyed(cpuStat, _keyed) is { } bad) _skipped.Count(Malformed, $"cpu.stat: malformed line \"{bad}\"");
        if (!_keyed.TryGetValue("usage_usec", out var usage))
        {
            _skipped.Count(Malformed, "cpu.stat: no usage_usec");
            return;
        }
        var now = _time.GetTimestamp();
        var current = new CpuReading(cgroupPath, now, usage,
            _keyed.GetValueOrDefault("throttled_usec", -1), _keyed.GetValueOrDefault("nr_periods", -1), _keyed.GetValueOrDefault("nr_throttled", -1));
        writer.Write(CgroupMetrics.CpuTime, usage / 1e6, labels);
        if (current.Periods >= 0) writer.Write(CgroupMetrics.CpuPeriods, current.Periods, labels);
        if (current.ThrottledPeriods >= 0) writer.Write(CgroupMetrics.CpuThrottledPeriods, current.ThrottledPeriods, labels);
        if (current.ThrottledUsec >= 0) writer.Write(CgroupMetrics.CpuThrottledTime, current.ThrottledUsec / 1e6, labels);

        var previous = _previous;
        _previous = current;
        // First sample, or the node moved to another cgroup: a rate needs two readings of the same one.
        if (previous is null || previous.CgroupPath != cgroupPath) return;
        var elapsedUsec = _time.GetElapsedTime(previous.Timestamp, now).TotalMicroseconds;
        if (elapsedUsec <= 0) return;
        if (current.UsageUsec < previous.UsageUsec || current.ThrottledUsec < previous.ThrottledUsec
            || current.Periods < previous.Periods || current.ThrottledPeriods < previous.ThrottledPeriods)
        {
            _skipped.Count(CounterBackwards, "cpu.stat: a counter went backwards (cgroup recreated?); rates resume next collection");
            return;
        }
        var cores = (current.UsageUsec - previous.UsageUsec) / elapsedUsec;
        writer.Write(CgroupMetrics.CpuUsage, cores, labels);
        if (limitCores is { } limit && limit > 0) writer.Write(CgroupMetrics.CpuLimitUtilization, cores / limit, labels);
        if (current.ThrottledUsec >= 0 && previous.ThrottledUsec >= 0)
            writer.Write(CgroupMetrics.CpuThrottledRate, (current.ThrottledUsec - previous.ThrottledUsec) / elapsedUsec, labels);
        if (current.Periods >= 0 && previous.Periods >= 0 && current.ThrottledPeriods >= 0 && previous.ThrottledPeriods >= 0)
        {
            var periods = current.Periods - previous.Periods;
            var throttled = current.ThrottledPeriods - previous.ThrottledPeriods;
            writer.Write(CgroupMetrics.CpuThrottledPeriodsRatio, periods > 0 ? (double)throttled / periods : 0, labels);
        }
    }

    private void WriteMemory(ISampleWriter writer, string directory, ReadOnlySpan<MetricLabel> labels)
    {
        long? usage = null;
        if (TryRead(Path.Join(directory, "memory.current"), out var current))
        {
            if (CgroupFiles.TryParseValueOrMax(current, out var value) && value is { } v)
            {
                usage = v;
                writer.Write(CgroupMetrics.MemoryUsage, v, labels);
            }
            else _skipped.Count(Malformed, $"memory.current: malformed \"{current.Trim()}\"");
        }
        if (TryRead(Path.Join(directory, "memory.max"), out var max))
        {
            if (!CgroupFiles.TryParseValueOrMax(max, out var limit))
                _skipped.Count(Malformed, $"memory.max: malformed \"{max.Trim()}\"");
            else if (limit is { } l) // "max": unlimited, so no limit sample
            {
                writer.Write(CgroupMetrics.MemoryLimit, l, labels);
                if (usage is { } u && l > 0) writer.Write(CgroupMetrics.MemoryLimitUtilization, (double)u / l, labels);
            }
        }
        if (TryRead(Path.Join(directory, "memory.events"), out var events))
        {
            if (CgroupFiles.ParseFlatKeyed(events, _keyed) is { } bad) _skipped.Count(Malformed, $"memory.events: malformed line \"{bad}\"");
            var eventLabels = new MetricLabel[labels.Length + 1];
            labels.CopyTo(eventLabels);
            foreach (var (name, count) in _keyed)
            {
                eventLabels[^1] = new MetricLabel("event", name);
                writer.Write(CgroupMetrics.MemoryEvents, count, eventLabels);
            }
        }
    }

    private bool TryRead(string file, out string text)
    {
        try
        {
            text = Encoding.UTF8.GetString(_reader.Read(file));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            text = "";
            _skipped.Count(Unreadable, $"{Path.GetFileName(file)}: {Describe(e)} ({file})");
            return false;
        }
    }

    private static string Describe(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "file not found",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message,
    };

    private sealed record CpuReading(string CgroupPath, long Timestamp, long UsageUsec, long ThrottledUsec, long Periods, long ThrottledPeriods);
}
