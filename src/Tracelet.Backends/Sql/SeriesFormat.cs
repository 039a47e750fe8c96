using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tracelet.Backends.Sql;

/// <summary>Query results as CSV (RFC 4180), an aligned text table, or JSON.</summary>
public static class SeriesFormat
{
    private static readonly string[] Columns = ["time", "node", "source", "name", "labels", "value", "step", "text"];

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Bytes buffered before they go to the stream: the response is written in pieces, never built whole.</summary>
    private const int FlushAt = 32 * 1024;

    /// <summary>CSV with a header; fields holding commas, quotes or newlines are quoted, so label values survive exactly.</summary>
    public static string Csv(SeriesQueryResult result) => InMemory(WriteCsvAsync, result);

    /// <summary>Writes <see cref="Csv"/> to a stream piece by piece (only asynchronous writes, as ASP.NET Core requires).</summary>
    public static async Task WriteCsvAsync(SeriesQueryResult result, Stream stream, CancellationToken cancellationToken)
    {
        await using var writer = new StreamWriter(stream, Utf8, FlushAt, leaveOpen: true);
        await writer.WriteAsync(string.Join(',', Columns) + "\r\n").ConfigureAwait(false);
        foreach (var s in result.Samples)
        {
            await writer.WriteAsync(string.Join(',', Fields(s).Select(Quote)) + "\r\n").ConfigureAwait(false);
        }
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Columns padded to their widest cell, for people; newlines in values are shown as \n.</summary>
    public static string Table(SeriesQueryResult result) => InMemory(WriteTableAsync, result);

    /// <summary>Writes <see cref="Table"/> to a stream: one pass for the column widths, one for the rows.</summary>
    public static async Task WriteTableAsync(SeriesQueryResult result, Stream stream, CancellationToken cancellationToken)
    {
        var widths = Columns.Select(c => c.Length).ToArray();
        foreach (var s in result.Samples)
        {
            var row = TableCells(s);
            for (var i = 0; i < widths.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        }
        await using var writer = new StreamWriter(stream, Utf8, FlushAt, leaveOpen: true);
        await writer.WriteAsync(string.Join("  ", Columns.Select((c, i) => c.PadRight(widths[i]))) + "\n").ConfigureAwait(false);
        foreach (var s in result.Samples)
        {
            await writer.WriteAsync(string.Join("  ", TableCells(s).Select((c, i) => c.PadRight(widths[i]))) + "\n").ConfigureAwait(false);
        }
        if (result.Truncated) await writer.WriteAsync("(more samples than the limit; narrow the range or raise limit)\n").ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>JSON: <c>{ "samples": [ { time, node, source, name, labels{}, value, step, text } ], "truncated": bool }</c>; non-finite values as the strings "NaN", "Infinity", "-Infinity".</summary>
    public static string Json(SeriesQueryResult result) => InMemory(WriteJsonAsync, result);

    /// <summary>Writes <see cref="Json"/> to a stream, flushing every few tens of kilobytes.</summary>
    public static async Task WriteJsonAsync(SeriesQueryResult result, Stream stream, CancellationToken cancellationToken)
    {
        await using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("samples");
            foreach (var s in result.Samples)
            {
                if (json.BytesPending > FlushAt) await json.FlushAsync(cancellationToken).ConfigureAwait(false);
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
            await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static string InMemory(Func<SeriesQueryResult, Stream, CancellationToken, Task> write, SeriesQueryResult result)
    {
        using var buffer = new MemoryStream();
        // A MemoryStream completes every write synchronously, so this never blocks on I/O.
        write(result, buffer, CancellationToken.None).GetAwaiter().GetResult();
        return Utf8.GetString(buffer.ToArray());
    }

    private static string[] TableCells(StoredSample s) =>
        Fields(s).Select(f => f.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).ToArray();

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
