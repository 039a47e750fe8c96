using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Host;

/// <summary>Load averages over 1, 5 and 15 minutes from /proc/loadavg.</summary>
internal sealed class LoadGroup(string procRoot, SkipCounter skips, TimeProvider clock) : MetricGroup("load", skips, clock)
{
    private const string Malformed = "load.malformed";

    private readonly ProcFileReader _file = new(Path.Combine(procRoot, "loadavg"));

    public override void Collect(ISampleWriter writer, long sample)
    {
        var line = _file.Read();
        if (!SpanText.NextDouble(ref line, out var one) || !SpanText.NextDouble(ref line, out var five) || !SpanText.NextDouble(ref line, out var fifteen))
        {
            Skips.Count(Malformed, $"{_file.Path}: expected three load averages");
            return;
        }
        Write(writer, SystemMetrics.LoadAverage1m, one, []);
        Write(writer, SystemMetrics.LoadAverage5m, five, []);
        Write(writer, SystemMetrics.LoadAverage15m, fifteen, []);
    }
}
