using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Console;

/// <summary>One series on the console: node, source, name and labels, compared by content.</summary>
internal readonly struct SeriesKey(string node, string source, string name, ImmutableArray<MetricLabel> labels) : IEquatable<SeriesKey>
{
    public string Node { get; } = node;

    public string Source { get; } = source;

    public string Name { get; } = name;

    /// <summary>Sorted by key, so the same labels in another order are the same row.</summary>
    public ImmutableArray<MetricLabel> Labels { get; } = Sorted(labels);

    public bool Equals(SeriesKey other) =>
        Name == other.Name && Source == other.Source && Node == other.Node && Labels.AsSpan().SequenceEqual(other.Labels.AsSpan());

    public override bool Equals(object? obj) => obj is SeriesKey other && Equals(other);

    private static ImmutableArray<MetricLabel> Sorted(ImmutableArray<MetricLabel> labels)
    {
        if (labels.IsDefaultOrEmpty) return [];
        for (var i = 1; i < labels.Length; i++)
        {
            if (string.CompareOrdinal(labels[i - 1].Key, labels[i].Key) > 0)
                return [.. labels.OrderBy(l => l.Key, StringComparer.Ordinal).ThenBy(l => l.Value, StringComparer.Ordinal)];
        }
        return labels;
    }

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Node);
        hash.Add(Source);
        hash.Add(Name);
        foreach (var label in Labels) hash.Add(label);
        return hash.ToHashCode();
    }
}
