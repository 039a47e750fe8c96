using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Tests;

internal static class Samples
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    public static MetricSample Scalar(string name, double value, long? step = null, params MetricLabel[] labels) =>
        new(name, MetricType.Scalar, value, T0, "experiment", step, labels.ToImmutableArray());

    public static MetricSample System(string name, double value, params MetricLabel[] labels) =>
        new(name, MetricType.System, value, T0, "system", null, labels.ToImmutableArray());

    /// <summary>A batch of <paramref name="count"/> samples named seq with values first, first+1, ...</summary>
    public static MetricBatch Sequence(int first, int count, string source = "heartbeat") =>
        new("node-a", source, [.. Enumerable.Range(first, count).Select(i => new MetricSample("seq", MetricType.System, i, T0, source))]);

    public static PluginContext Context(string dataDir, string json) => new("node-a", dataDir, PluginConfig.Parse(json));
}
