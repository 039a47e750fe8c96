using System.Globalization;

namespace Tracelet.Backends.Jsonl;

/// <summary>Parses sizes as people write them in config: <c>1048576</c>, <c>"64MiB"</c>, <c>"500 MB"</c>.</summary>
internal static class ByteSizeText
{
    /// <summary>A number of bytes followed by B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var s = text.Trim();
        var i = 0;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0 || !double.TryParse(s[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
        double? factor = s[i..].Trim().ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" => 1e3,
            "m" or "mb" => 1e6,
            "g" or "gb" => 1e9,
            "ki" or "kib" => 1L << 10,
            "mi" or "mib" => 1L << 20,
            "gi" or "gib" => 1L << 30,
            _ => null,
        };
        if (factor is null || n * factor.Value > long.MaxValue) return false;
        bytes = (long)(n * factor.Value);
        return true;
    }
}
