using System.Globalization;
using System.Text;

namespace Tracelet.Backends.Console;

/// <summary>
/// Renders the latest values as one block of text: a header, then per node/source the series
/// sorted by name, values right-aligned with their units. ANSI styling only when asked for.
/// </summary>
internal static class ConsoleTable
{
    private const int MaxNameWidth = 44;
    private const int MaxLabelsWidth = 36;
    private const int ValueWidth = 14;
    private const int MaxLabelValue = 14;

    public static string Render(LatestValues values, DateTimeOffset now, int maxLines, bool ansi)
    {
        var rows = values.Series
            .OrderBy(s => s.Key.Node, StringComparer.Ordinal)
            .ThenBy(s => s.Key.Source, StringComparer.Ordinal)
            .ThenBy(s => s.Key.Name, StringComparer.Ordinal)
            .ThenBy(s => Labels(s.Key), StringComparer.Ordinal)
            .ToList();
        var sb = new StringBuilder();
        var header = $"── tracelet {now.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)} · {rows.Count} series";
        if (values.Overflow > 0) header += $" · {values.Overflow} samples over the series cap";
        sb.Append(Style(header + " ──", "1", ansi)).Append('\n');

        var nameWidth = Math.Min(MaxNameWidth, rows.Select(r => r.Key.Name.Length).DefaultIfEmpty(0).Max());
        var labelsWidth = Math.Min(MaxLabelsWidth, rows.Select(r => Labels(r.Key).Length).DefaultIfEmpty(0).Max());
        var lines = 0;
        string? group = null;
        var shown = 0;
        foreach (var (key, latest) in rows)
        {
            var thisGroup = key.Node + "/" + key.Source;
            var needed = thisGroup == group ? 1 : 2;
            if (lines + needed > maxLines) break;
            if (thisGroup != group)
            {
                sb.Append(Style(Clean(thisGroup), "1;36", ansi)).Append('\n');
                group = thisGroup;
                lines++;
            }
            var value = latest.Text is { } text ? Shorten(Clean(text), 40) : ValueFormat.Format(key.Name, latest.Value);
            sb.Append("  ").Append(Pad(Shorten(Clean(key.Name), MaxNameWidth), nameWidth))
              .Append(' ').Append(Style(Pad(Shorten(Labels(key), MaxLabelsWidth), labelsWidth), "2", ansi))
              .Append(' ').Append(value.PadLeft(ValueWidth)).Append('\n');
            lines++;
            shown++;
        }
        if (shown < rows.Count) sb.Append(Style($"  (+{rows.Count - shown} more series; raise max-lines or set a filter)", "2", ansi)).Append('\n');
        return sb.ToString();
    }

    /// <summary>Labels as <c>k=v</c>, long values cut in the middle so both ends of a UUID stay readable.</summary>
    private static string Labels(SeriesKey key)
    {
        if (key.Labels.IsEmpty) return "";
        var sb = new StringBuilder();
        foreach (var l in key.Labels)
        {
            if (sb.Length > 0) sb.Append(' ');
            var v = Clean(l.Value);
            sb.Append(Clean(l.Key)).Append('=').Append(v.Length <= MaxLabelValue ? v : string.Concat(v.AsSpan(0, 8), "…", v.AsSpan(v.Length - 4)));
        }
        return sb.ToString();
    }

    /// <summary>Control characters (a newline in a label, an escape sequence in text) are shown escaped so they cannot garble the terminal.</summary>
    private static string Clean(string s)
    {
        if (!s.Any(char.IsControl)) return s;
        var sb = new StringBuilder(s.Length + 8);
        foreach (var c in s)
        {
            if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private static string Shorten(string s, int width) => s.Length <= width ? s : string.Concat(s.AsSpan(0, width - 1), "…");

    private static string Pad(string s, int width) => s.PadRight(width);

    private static string Style(string s, string code, bool ansi) => ansi ? $"\u001b[{code}m{s}\u001b[0m" : s;
}
