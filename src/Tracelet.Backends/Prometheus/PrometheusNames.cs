namespace Tracelet.Backends.Prometheus;

/// <summary>
/// Turns Tracelet names into Prometheus names: metric names match <c>[a-zA-Z_][a-zA-Z0-9_]*</c>
/// (colons are left to recording rules, as Prometheus asks of exporters), label names match
/// <c>[a-zA-Z_][a-zA-Z0-9_]*</c> and never start with the reserved <c>__</c>.
/// </summary>
internal static class PrometheusNames
{
    /// <summary>A metric name: every other character becomes <c>_</c>; a leading digit gets a <c>_</c> before it.</summary>
    public static string Metric(string prefix, string name) => prefix + Sanitize(name, prefix.Length > 0);

    /// <summary>A label name: as for metrics, and a leading <c>__</c> (reserved by Prometheus) shrinks to one <c>_</c>.</summary>
    public static string Label(string key)
    {
        var name = Sanitize(key, followsPrefix: false);
        var start = 0;
        while (start + 1 < name.Length && name[start] == '_' && name[start + 1] == '_') start++;
        return start == 0 ? name : name[start..];
    }

    /// <summary>True when the text is a valid metric or label name (used to check the configured prefix).</summary>
    public static bool IsValid(string name) => name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(IsNameChar);

    private static string Sanitize(string name, bool followsPrefix)
    {
        if (name.Length == 0) return "_";
        var needsDigitGuard = !followsPrefix && char.IsAsciiDigit(name[0]);
        if (!needsDigitGuard && name.All(IsNameChar)) return name; // the common case: no allocation
        return string.Create(name.Length + (needsDigitGuard ? 1 : 0), (name, needsDigitGuard), static (span, state) =>
        {
            var offset = 0;
            if (state.needsDigitGuard) span[offset++] = '_';
            foreach (var c in state.name) span[offset++] = IsNameChar(c) ? c : '_';
        });
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}
