using System.Collections.Immutable;

namespace Tracelet.Abstractions;

/// <summary>A label on a sample: node, gpu uuid, device, run, rank...</summary>
public readonly record struct MetricLabel(string Key, string Value);

/// <summary>
/// One measurement. A value type so that batches of scalars stay cheap: the hot path is an array
/// of these. Non-numeric payloads (text, artifact paths, references to large blobs) go in
/// <see cref="Text"/>; <see cref="Value"/> is then NaN.
/// </summary>
/// <param name="Name">Metric name, dotted (<c>system.cpu.utilization</c>).</param>
/// <param name="Type">What kind of metric it is.</param>
/// <param name="Value">The number (a ratio, bytes, seconds... as the metric's documentation says).</param>
/// <param name="Timestamp">When it was measured, UTC.</param>
/// <param name="Source">Who produced it: the collector plugin's name. Never empty.</param>
/// <param name="Step">The training step (the Python Tracelet's <c>iteration</c>); null for system metrics.</param>
/// <param name="Labels">Dimensions of the series.</param>
/// <param name="Text">A non-numeric payload, or null.</param>
public readonly record struct MetricSample(
    string Name,
    MetricType Type,
    double Value,
    DateTimeOffset Timestamp,
    string Source,
    long? Step = null,
    ImmutableArray<MetricLabel> Labels = default,
    string? Text = null);

/// <summary>
/// Samples produced together by one collector on one node: the unit that travels to backends.
/// </summary>
/// <param name="SourceNode">The node id where the samples were collected.</param>
/// <param name="Source">The collector plugin's name.</param>
/// <param name="Samples">The samples, in the order they were written.</param>
public sealed record MetricBatch(string SourceNode, string Source, ImmutableArray<MetricSample> Samples);
