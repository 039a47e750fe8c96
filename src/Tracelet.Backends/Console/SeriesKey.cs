using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Console;

/// <summary>One series on the console: node, source, name and labels, compared by content.</summary>
internal readonly struct SeriesKey(string node, string source, string name, ImmutableArray<MetricLabel> labels) : IEquatable<SeriesKey>
{
    public string Node { get; } = node;

    public string Source { get; } = source;

    public string Name { get; } = name;

    public ImmutableArray<MetricLabel> Labels { get; } = labels.IsDefault ? [] : labels;

    public bool Equals(SeriesKey other) =>
        Name == other.Name && Source == other.Source && Node == other.Node && Labels.AsSpan().SequenceEqual(other.Labels.AsSpan());

    public override bool Equals(object? obj) => obj is SeriesKey other && Equals(other);

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
