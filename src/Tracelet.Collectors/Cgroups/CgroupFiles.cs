using System.Globalization;

namespace Tracelet.Collectors.Cgroups;

/// <summary>Parsers for the cgroup v2 interface files the collector reads; each returns false on malformed text.</summary>
internal static class CgroupFiles
{
    /// <summary>
    /// <c>cpu.max</c>: "$QUOTA $PERIOD" in microseconds, or "max $PERIOD" when unlimited
    /// (<paramref name="quotaUsec"/> is then null).
    /// </summary>
    public static bool TryParseCpuMax(ReadOnlySpan<char> text, out long? quotaUsec, out long periodUsec)
    {
        quotaUsec = null;
        periodUsec = 0;
        text = text.Trim();
        var space = text.IndexOf(' ');
        if (space <= 0) return false;
        var quota = text[..space];
        if (!long.TryParse(text[(space + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out periodUsec) || periodUsec <= 0) return false;
        if (quota.SequenceEqual("max")) return true;
        if (!long.TryParse(quota, NumberStyles.None, CultureInfo.InvariantCulture, out var q)) return false;
        quotaUsec = q;
        return true;
    }

    /// <summary>A single-value file (<c>memory.current</c>, <c>memory.max</c>): a number, or "max" (null: unlimited).</summary>
    public static bool TryParseValueOrMax(ReadOnlySpan<char> text, out long? value)
    {
        value = null;
        text = text.Trim();
        if (text.SequenceEqual("max")) return true;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return false;
        value = v;
        return true;
    }

    /// <summary>
    /// A flat-keyed file (<c>cpu.stat</c>, <c>memory.events</c>): "key value" per line, into
    /// <paramref name="values"/> (cleared first). Returns the first malformed line, or null when all parsed.
    /// </summary>
    public static string? ParseFlatKeyed(string text, Dictionary<string, long> values)
    {
        values.Clear();
        string? malformed = null;
        foreach (var range in text.AsSpan().Split('\n'))
        {
            var line = text.AsSpan(range).Trim();
            if (line.IsEmpty) continue;
            var space = line.IndexOf(' ');
            if (space <= 0 || !long.TryParse(line[(space + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                malformed ??= line.ToString();
                continue;
            }
            values[line[..space].ToString()] = value;
        }
        return malformed;
    }

    /// <summary>
    /// The cgroup v2 path of a process from its <c>/proc/&lt;pid&gt;/cgroup</c> text: the line
    /// "0::/path"; null when there is none (a cgroup v1-only process).
    /// </summary>
    public static string? FindUnifiedPath(string procCgroupText)
    {
        foreach (var range in procCgroupText.AsSpan().Split('\n'))
        {
            var line = procCgroupText.AsSpan(range).Trim();
            if (line.StartsWith("0::", StringComparison.Ordinal)) return line[3..].ToString();
        }
        return null;
    }
}
