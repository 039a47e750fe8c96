using System.Collections.Immutable;
using System.Globalization;
using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Host;

/// <summary>
/// CPU utilization per state, for the machine and per core, from the jiffies /proc/stat added
/// since the previous sample; context switches per second over the real elapsed time; running
/// and blocked processes. The first sample (and a core's first) has no utilization.
/// </summary>
internal sealed class CpuGroup : MetricGroup
{
    private const string Malformed = "cpu.malformed";
    private const string CounterReset = "cpu.counter-reset";
    private const string NoTimePassed = "cpu.no-time-passed";
    private const string StateWentDown = "cpu.state-went-down";
    private const string Vanished = "cpu.vanished";

    private static readonly ImmutableArray<MetricLabel> Running = [new(SystemLabels.State, "running")];
    private static readonly ImmutableArray<MetricLabel> Blocked = [new(SystemLabels.State, "blocked")];

    private readonly ProcFileReader _file;
    private readonly bool _perCore;
    private readonly ProcStatReading _reading = new();
    private readonly Dictionary<int, Series> _cores = [];
    private readonly List<int> _vanished = [];
    private readonly Series _total = new(StateLabels(null));
    private ulong _previousContextSwitches;
    private long _previousContextSwitchesAt;
    private bool _hasContextSwitches;

    public CpuGroup(string procRoot, bool perCore, SkipCounter skips, TimeProvider clock)
        : base("cpu", skips, clock)
    {
        _file = new ProcFileReader(Path.Combine(procRoot, "stat"));
        _perCore = perCore;
    }

    /// <summary>How many cores the last sample saw.</summary>
    public int CoreCount => _reading.CoreCount;

    public override void Collect(ISampleWriter writer, long sample)
    {
        var text = _file.Read();
        var now = Clock.GetTimestamp();
        ProcStatParser.Parse(text, _reading);
        Skips.Count(Malformed, _reading.Malformed);

        if (_reading.HasTotal) Update(writer, _total, _reading.Total);
        for (var i = 0; i < _reading.CoreCount; i++)
        {
            var id = _reading.CoreIds[i];
            if (!_cores.TryGetValue(id, out var core)) _cores.Add(id, core = new Series(StateLabels(id)));
            core.SeenIn = sample;
            if (_perCore) Update(writer, core, _reading.Cores[i]);
        }
        foreach (var (id, core) in _cores)
            if (core.SeenIn != sample) _vanished.Add(id);
        foreach (var id in _vanished) _cores.Remove(id);
        Skips.Count(Vanished, _vanished.Count);
        _vanished.Clear();
        if (_reading.CoreCount > 0) Write(writer, SystemMetrics.CpuLogicalCount, _reading.CoreCount, []);

        if (_reading.HasContextSwitches)
        {
            if (_hasContextSwitches)
            {
                if (CounterDelta.TryRate(_previousContextSwitches, _reading.ContextSwitches, Seconds(_previousContextSwitchesAt, now), 1, out var rate))
                    Write(writer, SystemMetrics.ContextSwitches, rate, []);
                else
                    Skips.Count(CounterReset);
            }
            (_previousContextSwitches, _previousContextSwitchesAt, _hasContextSwitches) = (_reading.ContextSwitches, now, true);
        }
        if (_reading.HasRunning) Write(writer, SystemMetrics.ProcessCount, _reading.Running, Running);
        if (_reading.HasBlocked) Write(writer, SystemMetrics.ProcessCount, _reading.Blocked, Blocked);
    }

    // Utilization is each state's share of the jiffies that passed, so the states sum to 1 whatever the tick rate or the number of online CPUs.
    private void Update(ISampleWriter writer, Series series, in CpuTimes current)
    {
        if (series.HasPrevious)
        {
            ulong previousTotal = 0, currentTotal = 0, passed = 0;
            Span<ulong> deltas = stackalloc ulong[CpuTimes.Count];
            var wentDown = false;
            for (var i = 0; i < CpuTimes.Count; i++)
            {
                previousTotal += series.Previous[i];
                currentTotal += current[i];
                // proc(5): iowait (and on some kernels idle) can go down; that state then counts as 0 this time.
                if (current[i] >= series.Previous[i]) deltas[i] = current[i] - series.Previous[i];
                else wentDown = true;
                passed += deltas[i];
            }
            if (currentTotal < previousTotal)
            {
                Skips.Count(CounterReset);
            }
            else if (passed == 0)
            {
                Skips.Count(NoTimePassed);
            }
            else
            {
                if (wentDown) Skips.Count(StateWentDown);
                for (var i = 0; i < CpuTimes.Count; i++)
                    Write(writer, SystemMetrics.CpuUtilization, (double)deltas[i] / passed, series.Labels[i]);
            }
        }
        series.Previous = current;
        series.HasPrevious = true;
    }

    private static ImmutableArray<MetricLabel>[] StateLabels(int? core)
    {
        var labels = new ImmutableArray<MetricLabel>[CpuTimes.Count];
        var coreLabel = core is { } id ? new MetricLabel(SystemLabels.Core, id.ToString(CultureInfo.InvariantCulture)) : default;
        for (var i = 0; i < labels.Length; i++)
        {
            var state = new MetricLabel(SystemLabels.State, CpuTimes.States[i]);
            labels[i] = core is null ? [state] : [coreLabel, state];
        }
        return labels;
    }

    private sealed class Series(ImmutableArray<MetricLabel>[] labels)
    {
        public ImmutableArray<MetricLabel>[] Labels { get; } = labels;
        public CpuTimes Previous;
        public bool HasPrevious;
        public long SeenIn;
    }
}
