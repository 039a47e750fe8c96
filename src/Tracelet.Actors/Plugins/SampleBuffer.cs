using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>The <see cref="ISampleWriter"/> a collector writes one collection into.</summary>
internal sealed class SampleBuffer(string source, DateTimeOffset now) : ISampleWriter
{
    private readonly ImmutableArray<MetricSample>.Builder _samples = ImmutableArray.CreateBuilder<MetricSample>();

    public DateTimeOffset Now { get; } = now;

    public int Count => _samples.Count;

    public void Write(in MetricSample sample)
    {
        // Caught here, in the collector's own call (which is supervised), not later in the node's pipeline.
        if (string.IsNullOrWhiteSpace(sample.Name)) throw new ArgumentException("a sample needs a name (MetricSample.Name is empty)");
        _samples.Add(string.IsNullOrEmpty(sample.Source) ? sample with { Source = source } : sample);
    }

    public void Write(string name, double value, params ReadOnlySpan<MetricLabel> labels)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("a sample needs a name", nameof(name));
        _samples.Add(new MetricSample(name, MetricType.System, value, Now, source, null, labels.IsEmpty ? [] : [.. labels]));
    }

    public ImmutableArray<MetricSample> Drain() => _samples.DrainToImmutable();
}
