using System.Globalization;
using System.Text;

namespace Tracelet.Backends.Console;

/// <summary>
/// Renders the latest values as one block of text: a header, then per node/source the series
/// sorted by name, values right-aligned with their units, every line within the width.
/// ANSI styling only when asked for.
/// </summary>
internal static class ConsoleTable
{
    /// <summary>The setting a person changes to see more rows; the hint names it in full.</summary>
    public const string MaxLinesSetting = "tracelet.plugins.console.config.max-lines";

    private const int MaxNameWidth = 44;
    private const int MinLabelsWidth = 12;
    private const int ValueWidth = 12;
    private const int MaxLabelValue = 24;

    public static string Render(LatestValues values, DateTimeOffset now, int maxLines, int width, bool ansi)
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
        sb.Append(Style(Fit(header + " ──", width), "1", ansi)).Append('\n');

        // Columns: 2 spaces, name, space, labels, space, value. Labels give way first, then the name.
        // Sized by the rows that can be shown: a long label further down must not push every value off to the right.
        var visible = rows.Take(Math.Max(1, maxLines)).ToList();
        var nameWidth = Math.Min(MaxNameWidth, visible.Select(r => r.Key.Name.Length).DefaultIfEmpty(0).Max());
        var room = width - 2 - 1 - 1 - ValueWidth;
        var labelsWidth = Math.Min(visible.Select(r => Labels(r.Key).Length).DefaultIfEmpty(0).Max(), Math.Max(0, room - nameWidth));
        if (labelsWidth < MinLabelsWidth && visible.Any(r => !r.Key.Labels.IsEmpty))
        {
            labelsWidth = Math.Min(MinLabelsWidth, Math.Max(0, room - 8));
            nameWidth = Math.Max(8, Math.Min(nameWidth, room - labelsWidth));
        }

        // max-lines counts the whole table: the header, and the hint when rows are left out.
        var groups = rows.Select(r => (r.Key.Node, r.Key.Source)).Distinct().Count();
        var budget = 1 + groups + rows.Count <= maxLines ? maxLines - 1 : Math.Max(1, maxLines - 2);
        var lines = 0;
        string? group = null;
        var shown = 0;
        foreach (var (key, latest) in rows)
        {
            var thisGroup = key.Node + "/" + key.Source;
            var needed = thisGroup == group ? 1 : 2;
            if (lines + needed > budget) break;
            if (thisGroup != group)
            {
                sb.Append(Style(Fit(Clean(thisGroup), width), "1;36", ansi)).Append('\n');
                group = thisGroup;
                lines++;
            }
            var value = latest.Text is { } text ? ElideMiddle(Clean(text), Math.Max(ValueWidth, room - nameWidth)) : ValueFormat.Format(key.Name, latest.Value);
            sb.Append("  ").Append(ElideMiddle(Clean(key.Name), nameWidth).PadRight(nameWidth))
              .Append(' ').Append(Style(Labels(key, labelsWidth).PadRight(labelsWidth), "2", ansi))
              .Append(' ').Append(value.PadLeft(ValueWidth)).Append('\n');
            lines++;
            shown++;
        }
        if (shown < rows.Count)
            sb.Append(Style(Fit($"  +{rows.Count - shown} more: raise {MaxLinesSetting} or set a filter", width), "2", ansi)).Append('\n');
        return sb.ToString();
    }

    /// <summary>The lines <paramref name="text"/> takes (each ends in a newline).</summary>
    public static int LineCount(string text) => text.Count(c => c == '\n');

    /// <summary>Labels as <c>k=v</c>; long values lose their middle, so both ends of a UUID or a path stay readable.</summary>
    internal static string Labels(SeriesKey key) => LabelsWithValuesOf(key, MaxLabelValue);

    /// <summary>
    /// Labels within <paramref name="width"/>: every value is shortened alike, so each key stays
    /// next to its own value; only when even short values do not fit is the end cut.
    /// </summary>
    internal static string Labels(SeriesKey key, int width)
    {
        var text = LabelsWithValuesOf(key, MaxLabelValue);
        for (var cap = MaxLabelValue - 2; text.Length > width && cap >= 6; cap -= 2) text = LabelsWithValuesOf(key, cap);
        return Fit(text, width);
    }

    private static string LabelsWithValuesOf(SeriesKey key, int valueWidth)
    {
        if (key.Labels.IsEmpty) return "";
        var sb = new StringBuilder();
        foreach (var l in key.Labels)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(Clean(l.Key)).Append('=').Append(ElideMiddle(Clean(l.Value), valueWidth));
        }
        return sb.ToString();
    }

    /// <summary>
    /// Shortens to <paramref name="width"/> by replacing the middle with "…". A path keeps whole
    /// segments at both ends (<c>/var/lib/…/merged</c>), so what is left never reads as another path.
    /// </summary>
    internal static string ElideMiddle(string s, int width)
    {
        if (s.Length <= width) return s;
        if (width <= 1) return width == 1 ? "…" : "";
        var keep = width - 1;
        var head = (keep + 1) / 2;
        var tail = keep - head;
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0 && s.IndexOf('/', slash + 1) > 0)
        {
            // Cut at separators: the head ends after a '/', the tail starts at one.
            var h = s.LastIndexOf('/', Math.Min(s.Length - 1, head - 1));
            var t = s.IndexOf('/', s.Length - tail);
            if (h >= 0 && t > h && (h + 1) + (s.Length - t) + 1 <= width && (h + 1 > 1 || s.Length - t > 1))
                return string.Concat(s.AsSpan(0, h + 1), "…", s.AsSpan(t));
        }
        return string.Concat(s.AsSpan(0, head), "…", s.AsSpan(s.Length - tail));
    }

    /// <summary>A line of free text (header, group, hint) cut at the width, never wrapped.</summary>
    private static string Fit(string s, int width) => s.Length <= width ? s : string.Concat(s.AsSpan(0, Math.Max(0, width - 1)), "…");

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

    private static string Style(string s, string code, bool ansi) => ansi ? $"\u001b[{code}m{s}\u001b[0m" : s;
}
