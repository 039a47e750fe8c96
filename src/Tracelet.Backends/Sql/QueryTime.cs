using System.Globalization;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>The times a query accepts: <c>now</c>, a duration before now (<c>-1h</c>, <c>-30m</c>), ISO 8601, or Unix seconds.</summary>
public static class QueryTime
{
    /// <summary>Parses a time; false for anything else.</summary>
    public static bool TryParse(string text, DateTimeOffset now, out DateTimeOffset time)
    {
        time = default;
        var s = text.Trim();
        if (s.Equals("now", StringComparison.OrdinalIgnoreCase))
        {
            time = now;
            return true;
        }
        if (s.StartsWith('-') && DurationText.TryParse(s[1..], out var ago))
        {
            time = now - ago;
            return true;
        }
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds) && Math.Abs(seconds) < 1e11)
        {
            time = DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
            return true;
        }
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
    }
}
