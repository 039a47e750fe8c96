namespace Tracelet.Abstractions;

/// <summary>Where a collector writes the samples of one collection. Not thread-safe; use it only during the call.</summary>
public interface ISampleWriter
{
    /// <summary>When the collection started (UTC): use it as the timestamp of point-in-time samples.</summary>
    DateTimeOffset Now { get; }

    /// <summary>Adds a sample to the batch.</summary>
    void Write(in MetricSample sample);

    /// <summary>Adds a scalar sample of type <see cref="MetricType.System"/> with the collection's timestamp.</summary>
    void Write(string name, double value, params ReadOnlySpan<MetricLabel> labels);
}
