using System.Globalization;

namespace Tracelet.Backends.Console;

/// <summary>
/// Formats a value for people by the unit its name implies (docs/metrics.md): bytes as KiB/MiB/GiB,
/// rates with <c>/s</c>, ratios as percent, seconds as durations, hertz as MHz/GHz. Names it does not
/// know print as plain numbers (counts).
/// </summary>
internal static class ValueFormat
{
    public static string Format(string name, double value)
    {
        if (!double.IsFinite(value)) return double.IsNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
        return UnitOf(name) switch
        {
            Unit.Bytes => Bytes(value),
            Unit.BytesPerSecond => Bytes(value) + "/s",
            Unit.PerSecond => Rate(value) + "/s",
            Unit.SecondsPerSecond => Number(value) + " s/s",
            Unit.Ratio => (value * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %",
            Unit.Seconds => Duration(value),
            Unit.UnixTime => DateTimeOffset.FromUnixTimeMilliseconds((long)(value * 1000)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + "Z",
            Unit.Hertz => Scaled(value, 1000, ["Hz", "kHz", "MHz", "GHz"]),
            Unit.Watts => Number(value) + " W",
            Unit.Celsius => Number(value) + " °C",
            Unit.Joules => Scaled(value, 1000, ["J", "kJ", "MJ", "GJ"]),
            Unit.Cores => Number(value) + " cores",
            _ => Number(value),
        };
    }

    internal enum Unit { None, Bytes, BytesPerSecond, PerSecond, SecondsPerSecond, Ratio, Seconds, UnixTime, Hertz, Watts, Celsius, Joules, Cores }

    // The collectors' rates (docs/metrics.md): counters turned into per-second values, which read as totals without the unit.
    private static readonly HashSet<string> PerSecondNames = new(StringComparer.Ordinal)
    {
        "system.cpu.context_switches", "system.disk.operations", "system.network.packet.count",
        "system.network.errors", "system.network.packet.dropped",
    };

    private static readonly HashSet<string> BytesPerSecondNames = new(StringComparer.Ordinal)
    {
        "system.disk.io", "system.network.io", "gpu.pcie.tx", "gpu.pcie.rx",
    };

    internal static Unit UnitOf(string name)
    {
        if (PerSecondNames.Contains(name)) return Unit.PerSecond;
        if (BytesPerSecondNames.Contains(name)) return Unit.BytesPerSecond;
        if (name is "system.disk.operation_time" or "cgroup.cpu.throttled.rate") return Unit.SecondsPerSecond;
        if (name is "system.disk.io_time") return Unit.Ratio; // the share of time with I/O in flight (iostat's %util)
        if (name is "git.commit.time") return Unit.UnixTime;
        if (name is "container.cpu.usage" or "cgroup.cpu.limit") return Unit.Cores;
        var last = name.AsSpan(name.LastIndexOf('.') + 1);
        if (name.Contains("utilization", StringComparison.Ordinal) || last is "ratio" || name.EndsWith("fan.speed", StringComparison.Ordinal)) return Unit.Ratio;
        if (name.Contains("inodes", StringComparison.Ordinal)) return Unit.None;
        if (last is "bytes" or "total_allocated" or "committed_size" || name.EndsWith("heap.size", StringComparison.Ordinal)
            || (name.StartsWith("gpu.nvlink.", StringComparison.Ordinal) && last is "tx" or "rx")
            || name is "system.filesystem.usage" or "system.paging.usage"
            || (name.Contains(".memory", StringComparison.Ordinal) && last is "usage" or "total" or "used" or "free" or "reserved" or "available" or "limit"))
            return Unit.Bytes;
        if (last is "uptime" or "seconds" or "duration" or "time") return Unit.Seconds;
        if (name.Contains(".clock.", StringComparison.Ordinal) && !name.Contains("reasons", StringComparison.Ordinal)) return Unit.Hertz;
        if (name.Contains(".power.", StringComparison.Ordinal)) return Unit.Watts;
        if (last is "temperature") return Unit.Celsius;
        if (last is "energy") return Unit.Joules;
        return Unit.None;
    }

    private static string Bytes(double v) => Scaled(v, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]);

    private static string Scaled(double v, double step, string[] units)
    {
        var i = 0;
        while (Math.Abs(v) >= step && i < units.Length - 1)
        {
            v /= step;
            i++;
        }
        return (i == 0 ? Number(v) : v.ToString("0.0", CultureInfo.InvariantCulture)) + " " + units[i];
    }

    /// <summary>A rate: thousands as k and M, so "4129.808" reads as 4.1 k/s.</summary>
    private static string Rate(double v) =>
        Math.Abs(v) >= 1e6 ? (v / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " M"
        : Math.Abs(v) >= 1e3 ? (v / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " k"
        : v.ToString(Math.Abs(v) >= 10 ? "0" : "0.##", CultureInfo.InvariantCulture) + " ";

    private static string Duration(double seconds)
    {
        if (Math.Abs(seconds) < 60) return Number(seconds) + " s";
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalDays >= 1
            ? $"{(int)t.TotalDays}d{t.Hours:00}h{t.Minutes:00}m"
            : t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m{t.Seconds:00}s" : $"{t.Minutes}m{t.Seconds:00}s";
    }

    private static string Number(double v) =>
        v.ToString(Math.Abs(v) >= 1e9 || (v != 0 && Math.Abs(v) < 1e-3) ? "0.###e0" : "0.###", CultureInfo.InvariantCulture);
}
