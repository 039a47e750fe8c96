using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Jsonl;

/// <summary>
/// Encodes a batch as JSON lines into one buffer, so a batch costs one write and one fsync.
/// Non-finite values become the strings "NaN", "Infinity" and "-Infinity", which JSON has no numbers for.
/// </summary>
internal sealed class JsonlSampleEncoder
{
    /// <summary>A buffer that grew past this for one huge batch is dropped afterwards rather than kept for the node's lifetime.</summary>
    private const int RetainedCapacity = 4 << 20;

    private ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _writer;

    public JsonlSampleEncoder() => _writer = new Utf8JsonWriter(_buffer);

    /// <summary>Encodes the batch; the result is valid until the next call.</summary>
    public ReadOnlyMemory<byte> Encode(MetricBatch batch)
    {
        if (_buffer.Capacity > RetainedCapacity) _buffer = new ArrayBufferWriter<byte>(64 * 1024);
        else _buffer.ResetWrittenCount();
        foreach (var sample in batch.Samples)
        {
            // Utf8JsonWriter escapes control characters and replaces lone surrogates with U+FFFD, so any string encodes.
            _writer.Reset(_buffer);
            WriteSample(batch.SourceNode, sample);
            _writer.Flush();
            _buffer.GetSpan(1)[0] = (byte)'\n';
            _buffer.Advance(1);
        }
        return _buffer.WrittenMemory;
    }

    private void WriteSample(string node, in MetricSample s)
    {
        var w = _writer;
        w.WriteStartObject();
        w.WriteString("ts", s.Timestamp);
        w.WriteString("node", node);
        w.WriteString("source", s.Source);
        w.WriteString("name", s.Name);
        w.WriteString("type", TypeName(s.Type));
        if (s.Text is not null) w.WriteString("text", s.Text);
        else WriteValue(w, s.Value);
        if (s.Step is { } step) w.WriteNumber("step", step);
        if (!s.Labels.IsDefaultOrEmpty)
        {
            w.WriteStartObject("labels");
            foreach (var l in s.Labels) w.WriteString(l.Key, l.Value);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter w, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber("value", v);
        else if (double.IsNaN(v)) w.WriteString("value", "NaN");
        else w.WriteString("value", v > 0 ? "Infinity" : "-Infinity");
    }

    private static readonly string[] TypeNames = Enum.GetValues<MetricType>().Select(t => t.ToString().ToLowerInvariant()).ToArray();

    private static string TypeName(MetricType t) =>
        (uint)t < (uint)TypeNames.Length ? TypeNames[(int)t] : ((int)t).ToString(CultureInfo.InvariantCulture);
}
