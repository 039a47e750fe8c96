using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tracelet.Backends.Sql;

/// <summary>Query results as CSV (RFC 4180), an aligned text table, or JSON.</summary>
public static class SeriesFormat
{
    private static readonly string[] Columns = ["time", "node", "source", "name", "labels", "value", "step", "text"];

    /// <summary>CSV with a header; fields holding commas, quotes or newlines are quoted, so label values survive exactly.</summary>
    public static string Csv(SeriesQueryResult result)
    {
        var text = new StringBuilder();
        text.AppendJoin(',', Columns).Append("\r\n");
        foreach (var s in result.Samples)
        {
            text.AppendJoin(',', Fields(s).Select(Quote)).Append("\r\n");
        }
        return text.ToString();
    }

    /// <summary>Columns padded to their widest cell, for people; newlines in values are shown as \n.</summary>
    public static string Table(SeriesQueryResult result)
    {
        var rows = result.Samples.Select(s => Fields(s).Select(f => f.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).ToArray()).ToList();
        var widths = Columns.Select((c, i) => Math.Max(c.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        text.AppendJoin("  ", Columns.Select((c, i) => c.PadRight(widths[i])).ToArray()).Append('\n');
        foreach (var row in rows) text.AppendJoin("  ", row.Select((c, i) => c.PadRight(widths[i])).ToArray()).Append('\n');
        if (result.Truncated) text.Append("(more samples than the limit; narrow the range or raise limit)\n");
        return text.ToString();
    }

    /// <summary>JSON: <c>{ "samples": [ { time, node, source, name, labels{}, value, step, text } ], "truncated": bool }</c>; non-finite values as the strings "NaN", "Infinity", "-Infinity".</summary>
    public static string Json(SeriesQueryResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartArray("samples");
            foreach (var s in result.Samples)
            {
                json.WriteStartObject();
                json.WriteString("time", s.Timestamp);
                json.WriteString("node", s.Node);
                json.WriteString("source", s.Source);
                json.WriteString("name", s.Name);
                json.WriteString("type", SeriesText.TypeName(s.Type));
                json.WriteStartObject("labels");
                foreach (var l in s.Labels) json.WriteString(l.Key, l.Value);
                json.WriteEndObject();
                if (double.IsFinite(s.Value)) json.WriteNumber("value", s.Value);
                else json.WriteString("value", FormatValue(s.Value));
                if (s.Step is { } step) json.WriteNumber("step", step);
                else json.WriteNull("step");
                if (s.Text is { } t) json.WriteString("text", t);
                else json.WriteNull("text");
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteBoolean("truncated", result.Truncated);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string[] Fields(StoredSample s) =>
    [
        s.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
        s.Node,
        s.Source,
        s.Name,
        SeriesText.Labels(s.Labels),
        s.Text is null ? FormatValue(s.Value) : "",
        s.Step?.ToString(CultureInfo.InvariantCulture) ?? "",
        s.Text ?? "",
    ];

    /// <summary>The shortest text that reads back to the same double ("R"), and NaN / Infinity / -Infinity spelled out.</summary>
    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "Infinity",
        double.NegativeInfinity => "-Infinity",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
