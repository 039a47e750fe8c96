using System.Globalization;

namespace Tracelet.Cli;

/// <summary>Durations written the way they are typed (<c>500ms</c>, <c>5s</c>, <c>1m</c>), never as <c>00:00:05</c>.</summary>
internal static class Durations
{
    public static string Format(TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1)) return value.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
        if (value.Ticks % TimeSpan.TicksPerMinute == 0) return value.TotalMinutes.ToString("0", CultureInfo.InvariantCulture) + "m";
        return value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
    }
}
