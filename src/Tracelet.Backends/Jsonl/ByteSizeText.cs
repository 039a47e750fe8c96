using System.Globalization;

namespace Tracelet.Backends.Jsonl;

/// <summary>
/// Parses sizes as people write them in config (<c>1048576</c>, <c>"64MiB"</c>, <c>"500 MB"</c>) with the units
/// of HOCON, so a size means the same here as in the node's own settings: k/K/Ki/KiB (and m, g alike) are powers
/// of 1024, kB/KB/MB/GB are powers of 1000.
/// </summary>
internal static class ByteSizeText
{
    private static readonly Dictionary<string, double> Units = new(StringComparer.Ordinal)
    {
        [""] = 1,
        ["b"] = 1,
        ["B"] = 1,
        ["byte"] = 1,
        ["bytes"] = 1,
        ["k"] = 1L << 10,
        ["K"] = 1L << 10,
        ["Ki"] = 1L << 10,
        ["KiB"] = 1L << 10,
        ["kib"] = 1L << 10,
        ["kibibyte"] = 1L << 10,
        ["kibibytes"] = 1L << 10,
        ["m"] = 1L << 20,
        ["M"] = 1L << 20,
        ["Mi"] = 1L << 20,
        ["MiB"] = 1L << 20,
        ["mib"] = 1L << 20,
        ["mebibyte"] = 1L << 20,
        ["mebibytes"] = 1L << 20,
        ["g"] = 1L << 30,
        ["G"] = 1L << 30,
        ["Gi"] = 1L << 30,
        ["GiB"] = 1L << 30,
        ["gib"] = 1L << 30,
        ["gibibyte"] = 1L << 30,
        ["gibibytes"] = 1L << 30,
        ["kB"] = 1e3,
        ["KB"] = 1e3,
        ["kb"] = 1e3,
        ["kilobyte"] = 1e3,
        ["kilobytes"] = 1e3,
        ["MB"] = 1e6,
        ["mb"] = 1e6,
        ["megabyte"] = 1e6,
        ["megabytes"] = 1e6,
        ["GB"] = 1e9,
        ["gb"] = 1e9,
        ["gigabyte"] = 1e9,
        ["gigabytes"] = 1e9,
    };

    /// <summary>A number of bytes, optionally followed by a HOCON size unit.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var s = text.Trim();
        var i = 0;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0 || !double.TryParse(s[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
        if (!Units.TryGetValue(s[i..].Trim(), out var factor) || n * factor > long.MaxValue) return false;
        bytes = (long)(n * factor);
        return true;
    }
}
