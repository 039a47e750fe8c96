using Tracelet.Abstractions;

namespace Tracelet.Bench.Collectors;

/// <summary>A sample writer that only counts, so the figures are the collector's own cost.</summary>
internal sealed class DiscardingWriter : ISampleWriter
{
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

    public long Count { get; private set; }

    public void Write(in MetricSample sample) => Count++;

    public void Write(string name, double value, params ReadOnlySpan<MetricLabel> labels) => Count++;
}
