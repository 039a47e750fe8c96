using System.Buffers;
using System.Collections.Immutable;
using System.Text.Encodings.Web;
using System.Text.Json;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>
/// What identifies a series in memory: the sample's name, node, source, type and labels as they
/// came (compared by content, without building text), so the hot path finds a cached series id
/// without allocating.
/// </summary>
internal readonly struct SeriesKey(string name, string node, string source, MetricType type, ImmutableArray<MetricLabel> labels) : IEquatable<SeriesKey>
{
    public string Name { get; } = name;

    public string Node { get; } = node;

    public string Source { get; } = source;

    public MetricType Type { get; } = type;

    public ImmutableArray<MetricLabel> Labels { get; } = labels.IsDefault ? [] : labels;

    public bool Equals(SeriesKey other)
    {
        if (Type != other.Type || Labels.Length != other.Labels.Length || !string.Equals(Name, other.Name, StringComparison.Ordinal)
            || !string.Equals(Node, other.Node, StringComparison.Ordinal) || !string.Equals(Source, other.Source, StringComparison.Ordinal))
            return false;
        for (var i = 0; i < Labels.Length; i++)
        {
            if (!string.Equals(Labels[i].Key, other.Labels[i].Key, StringComparison.Ordinal) || !string.Equals(Labels[i].Value, other.Labels[i].Value, StringComparison.Ordinal))
                return false;
        }
        return true;
    }

    public override bool Equals(object? obj) => obj is SeriesKey other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name, StringComparer.Ordinal);
        hash.Add(Node, StringComparer.Ordinal);
        hash.Add(Source, StringComparer.Ordinal);
        hash.Add(Type);
        foreach (var l in Labels)
        {
            hash.Add(l.Key, StringComparer.Ordinal);
            hash.Add(l.Value, StringComparer.Ordinal);
        }
        return hash.ToHashCode();
    }

    /// <summary>The type as stored: its lower-case name.</summary>
    public string TypeText => SeriesText.TypeName(Type);

    /// <summary>The labels as stored: canonical JSON (keys sorted, exact values).</summary>
    public string LabelsText => SeriesText.Labels(Labels);
}

/// <summary>How series identity is written to and read from the database.</summary>
internal static class SeriesText
{
    private static readonly JsonWriterOptions Writer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One row of <c>SELECT id, name, node, source, type, labels FROM series</c>, in either store.</summary>
    public static StoredSeries ReadSeries(System.Data.Common.DbDataReader row) =>
        new(row.GetInt64(0), row.GetString(1), row.GetString(2), row.GetString(3), ParseType(row.GetString(4)), ParseLabels(row.GetString(5)));

    private static readonly Dictionary<MetricType, string> TypeNames = Enum.GetValues<MetricType>().ToDictionary(t => t, t => t.ToString().ToLowerInvariant());

    public static string TypeName(MetricType type) => TypeNames.TryGetValue(type, out var name) ? name : type.ToString().ToLowerInvariant();

    public static MetricType ParseType(string text) => Enum.TryParse<MetricType>(text, ignoreCase: true, out var t) ? t : MetricType.Custom;

    /// <summary>A JSON object with keys in ordinal order (then values), so the same label set is always the same text; newlines and quotes are escaped, not lost.</summary>
    public static string Labels(ImmutableArray<MetricLabel> labels)
    {
        if (labels.IsDefaultOrEmpty) return "{}";
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer, Writer))
        {
            json.WriteStartObject();
            foreach (var l in labels.OrderBy(l => l.Key, StringComparer.Ordinal).ThenBy(l => l.Value, StringComparer.Ordinal))
                json.WriteString(l.Key, l.Value);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads labels written by <see cref="Labels"/>.</summary>
    public static ImmutableArray<MetricLabel> ParseLabels(string text)
    {
        if (text == "{}") return [];
        using var document = JsonDocument.Parse(text);
        return [.. document.RootElement.EnumerateObject().Select(p => new MetricLabel(p.Name, p.Value.GetString() ?? ""))];
    }
}
