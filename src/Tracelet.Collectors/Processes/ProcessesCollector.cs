using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Processes;

/// <summary>
/// The top processes of the host by CPU and by memory (opt-in: enable it in config), with pid,
/// command, user, threads and RSS, read from procfs. A process that exits while being read is
/// counted as vanished, never an error.
/// </summary>
public sealed class ProcessesCollector : CollectorPlugin
{
    private readonly TimeProvider _time;
    private readonly double _clockTicksPerSecond;
    private readonly SkipCounter _skipped = new();
    private readonly List<TrackedProcess> _topCpu = [];
    private readonly List<TrackedProcess> _topMemory = [];
    private readonly MetricLabel[] _labels = new MetricLabel[4];
    private ProcessScanner? _scanner;
    private UserNames? _users;
    private int _topN = 5;
    private string _procRoot = "/proc";
    private string _state = "not collected yet";
    private long _collections;
    private double _lastScanMs;

    /// <summary>Creates the collector (discovery calls this; it reads nothing).</summary>
    public ProcessesCollector() : this(TimeProvider.System, ClockTicks.PerSecond) { }

    /// <summary>Creates the collector with a clock and USER_HZ, so specs can compute expected ratios.</summary>
    internal ProcessesCollector(TimeProvider time, double clockTicksPerSecond) => (_time, _clockTicksPerSecond) = (time, clockTicksPerSecond);

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("processes", "1.0.0", PluginType.Collector)
    {
        Description = "Top processes by CPU and by memory: pid, command, user, threads, RSS",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "seconds, or a duration like \"10s\"" },
                "top-n": { "type": "integer", "minimum": 1, "maximum": 100, "description": "processes kept by CPU and, separately, by memory (default 5)" },
                "include": { "type": "array", "items": { "type": "string" }, "description": "regular expressions: only commands matching one are kept" },
                "exclude": { "type": "array", "items": { "type": "string" }, "description": "regular expressions: commands matching one are left out" },
                "proc-root": { "type": "string", "minLength": 1, "description": "where procfs is mounted (default /proc)" },
                "passwd-file": { "type": "string", "minLength": 1, "description": "a passwd file user names come from instead of the system's user database (getpwuid_r: files, LDAP, SSSD); used anyway when proc-root is not /proc" }
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
        var config = context.Config;
        _topN = (int)config.GetInt64("top-n", _topN);
        _procRoot = config.GetString("proc-root", _procRoot);
        var include = Patterns(config, "include");
        var exclude = Patterns(config, "exclude");
        // The system's user database names the uids of the real /proc; a fixture proc-root gets a passwd file.
        string? passwd = config.Has("passwd-file") ? config.GetString("passwd-file", "/etc/passwd") : _procRoot == "/proc" ? null : "/etc/passwd";
        _users = new UserNames(passwd, _time);
        _scanner = new ProcessScanner(_procRoot, _time, _clockTicksPerSecond, Environment.SystemPageSize,
            command => Matches(include, command, whenEmpty: true) && !Matches(exclude, command, whenEmpty: false));
        return base.InitializeAsync(context, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        if (_scanner is null || _users is null) throw new InvalidOperationException("the processes collector is not initialized");
        _collections++;
        var started = Stopwatch.GetTimestamp();
        try
        {
            _scanner.Scan(_skipped);
        }
        catch (DirectoryNotFoundException)
        {
            _state = $"proc-root {_procRoot} not found";
            return ValueTask.CompletedTask;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _state = $"cannot list {_procRoot}: {e.Message}";
            return ValueTask.CompletedTask;
        }
        _state = "ok";

        var seen = _scanner.Seen;
        SelectTop(seen, _topN, _topCpu, byCpu: true);
        SelectTop(seen, _topN, _topMemory, byCpu: false);
        var generation = _scanner.Generation;
        Write(writer, _topCpu, generation);
        Write(writer, _topMemory, generation);
        _lastScanMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?>
        {
            ["state"] = _state,
            ["collections"] = _collections,
            ["processes"] = _scanner?.Seen.Count ?? 0,
            ["cpus"] = _scanner?.CpuCount ?? 0,
            ["vanished"] = _scanner?.Vanished ?? 0,
            ["last_scan_ms"] = Math.Round(_lastScanMs, 2),
        };
        if (_users?.LoadError is { } error) status["passwd_error"] = error;
        _skipped.AddTo(status);
        return status;
    }

    private void Write(ISampleWriter writer, List<TrackedProcess> top, long generation)
    {
        foreach (var process in top)
        {
            if (process.SelectedIn == generation) continue; // already written: it is in both lists
            process.SelectedIn = generation;
            if (!_scanner!.FillDetails(process, _users!, _skipped)) continue;
            _labels[0] = new MetricLabel(ProcessMetrics.PidLabel, process.Pid.ToString(CultureInfo.InvariantCulture));
            _labels[1] = new MetricLabel(ProcessMetrics.CommandLabel, process.Command);
            _labels[2] = new MetricLabel(ProcessMetrics.UserLabel, process.User!);
            _labels[3] = new MetricLabel(ProcessMetrics.CommandLineLabel, process.CommandLine!);
            if (process.CpuUtilization is { } cpu) writer.Write(ProcessMetrics.CpuUtilization, cpu, _labels);
            writer.Write(ProcessMetrics.MemoryUsage, process.RssBytes, _labels);
            writer.Write(ProcessMetrics.ThreadCount, process.Threads, _labels);
        }
    }

    /// <summary>Keeps the <paramref name="n"/> largest by CPU (those with a CPU figure) or by RSS, largest first, without sorting everything.</summary>
    internal static void SelectTop(List<TrackedProcess> all, int n, List<TrackedProcess> top, bool byCpu)
    {
        top.Clear();
        foreach (var process in all)
        {
            if (byCpu && process.CpuUtilization is null) continue;
            var key = byCpu ? process.CpuUtilization!.Value : process.RssBytes;
            if (top.Count == n && key <= Key(top[^1], byCpu)) continue;
            var at = top.Count;
            while (at > 0 && Key(top[at - 1], byCpu) < key) at--;
            if (top.Count == n) top.RemoveAt(n - 1);
            top.Insert(at, process);
        }
    }

    private static double Key(TrackedProcess process, bool byCpu) => byCpu ? process.CpuUtilization ?? 0 : process.RssBytes;

    private static bool Matches(Regex[] patterns, string command, bool whenEmpty)
    {
        if (patterns.Length == 0) return whenEmpty;
        foreach (var pattern in patterns)
        {
            try
            {
                if (pattern.IsMatch(command)) return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological pattern counts as no match rather than failing the scan.
            }
        }
        return false;
    }

    private static Regex[] Patterns(PluginConfig config, string key)
    {
        if (!config.Root.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array) return [];
        var patterns = new List<Regex>();
        foreach (var item in array.EnumerateArray())
        {
            var text = item.GetString() ?? "";
            try
            {
                patterns.Add(new Regex(text, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"config key '{key}': \"{text}\" is not a regular expression: {e.Message}", e);
            }
        }
        return [.. patterns];
    }
}
