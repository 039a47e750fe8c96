using Tracelet.Abstractions;

namespace Tracelet.Testing;

/// <summary>
/// An <see cref="ISampleWriter"/> that keeps what a collector wrote, so that collector specs can
/// call <c>CollectAsync</c> directly and assert on the samples. Not thread-safe, like the real one.
/// </summary>
public sealed class RecordingSampleWriter : ISampleWriter
{
    private readonly List<MetricSample> _samples = [];

    /// <summary>Creates a writer whose collection time is <paramref name="now"/> (default: the current time).</summary>
    public RecordingSampleWriter(DateTimeOffset? now = null, string source = "test") =>
        (Now, Source) = (now ?? DateTimeOffset.UtcNow, source);

    /// <inheritdoc />
    public DateTimeOffset Now { get; set; }

    /// <summary>The source written on samples added through the scalar overload.</summary>
    public string Source { get; }

    /// <summary>Everything written since the last <see cref="Clear"/>.</summary>
    public IReadOnlyList<MetricSample> Samples => _samples;

    /// <inheritdoc />
    public void Write(in MetricSample sample) => _samples.Add(sample);

    /// <inheritdoc />
    public void Write(string name, double value, params ReadOnlySpan<MetricLabel> labels) =>
        _samples.Add(new MetricSample(name, MetricType.System, value, Now, Source, Labels: [.. labels]));

    /// <summary>Forgets what was written (call between collections).</summary>
    public void Clear() => _samples.Clear();

    /// <summary>The samples of one metric name.</summary>
    public IReadOnlyList<MetricSample> Named(string name) => _samples.Where(s => s.Name == name).ToList();

    /// <summary>The single value of a metric whose labels include every given pair; throws when there is not exactly one.</summary>
    public double Value(string name, params (string Key, string Value)[] labels) =>
        _samples.Single(s => s.Name == name && labels.All(l => !s.Labels.IsDefault && s.Labels.Contains(new MetricLabel(l.Key, l.Value)))).Value;
}
