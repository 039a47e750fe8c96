using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Backends.Sql;

namespace Tracelet.Backends.Tests.Sql;

/// <summary>Batches and helpers shared by the sql specs: a started backend over a config, and the awkward samples.</summary>
internal static class SqlTestData
{
    /// <summary>A whole number of microseconds (what both stores keep), recent enough for any retention.</summary>
    public static DateTimeOffset Now { get; } = StoredTime.FromMicroseconds(StoredTime.ToMicroseconds(DateTimeOffset.UtcNow));

    public static async Task<SqlBackend> StartAsync(string configJson, string dataDirectory, string nodeId = "node-a")
    {
        var backend = new SqlBackend();
        await backend.InitializeAsync(new PluginContext(nodeId, dataDirectory, PluginConfig.Parse(configJson)), CancellationToken.None);
        await backend.StartAsync(CancellationToken.None);
        return backend;
    }

    public static MetricSample Scalar(string name, double value, DateTimeOffset at, params (string Key, string Value)[] labels) =>
        new(name, MetricType.System, value, at, "system", null, [.. labels.Select(l => new MetricLabel(l.Key, l.Value))]);

    /// <summary>NaN, ±Infinity, a text sample, steps, and label values with newlines, quotes, commas and non-ASCII.</summary>
    public static ImmutableArray<MetricSample> Awkward(DateTimeOffset at) =>
    [
        new("train.loss", MetricType.Scalar, 0.125, at, "trainer", 10, [new("run", "r1"), new("note", "line1\nline2 \"quoted\", ok é")]),
        new("train.loss", MetricType.Scalar, double.NaN, at.AddMilliseconds(1), "trainer", 11, [new("run", "r1"), new("note", "line1\nline2 \"quoted\", ok é")]),
        new("train.loss", MetricType.Scalar, double.PositiveInfinity, at.AddMilliseconds(2), "trainer", 12, [new("run", "r1"), new("note", "line1\nline2 \"quoted\", ok é")]),
        new("train.loss", MetricType.Scalar, double.NegativeInfinity, at.AddMilliseconds(3), "trainer", 13, [new("run", "r1"), new("note", "line1\nline2 \"quoted\", ok é")]),
        new("train.loss", MetricType.Text, double.NaN, at.AddMilliseconds(4), "trainer", 14, [new("run", "r1"), new("note", "line1\nline2 \"quoted\", ok é")], "epoch done\nnext"),
        new("train.loss", MetricType.Scalar, 1e-300, at.AddMilliseconds(5), "trainer", long.MaxValue, [new("run", "r1"), new("note", "line1\nline2 \"quoted\", ok é")]),
    ];

    public static SeriesQuery Query(string metric, string? node = null, DateTimeOffset? from = null, DateTimeOffset? to = null, params (string Key, string Value)[] labels) =>
        new(metric, node, from ?? Now.AddHours(-1), to ?? Now.AddHours(1), [.. labels.Select(l => new MetricLabel(l.Key, l.Value))]);

    public static async Task<SeriesQueryResult> ReadAsync(SqlStoreOptions options, SeriesQuery query)
    {
        await using var reader = SqlMetricReader.Create(options);
        return await reader.QueryAsync(query, CancellationToken.None);
    }

    /// <summary>Asserts the awkward samples came back exactly: values (NaN, ±Inf bit for bit), steps, text, labels.</summary>
    public static void AssertSame(ImmutableArray<MetricSample> written, string node, SeriesQueryResult read)
    {
        Xunit.Assert.Equal(written.Length, read.Samples.Length);
        for (var i = 0; i < written.Length; i++)
        {
            var w = written[i];
            var r = read.Samples[i];
            Xunit.Assert.Equal(w.Timestamp, r.Timestamp);
            Xunit.Assert.Equal(BitConverter.DoubleToInt64Bits(w.Value), BitConverter.DoubleToInt64Bits(r.Value));
            Xunit.Assert.Equal((w.Name, node, w.Source, w.Type, w.Step, w.Text), (r.Name, r.Node, r.Source, r.Type, r.Step, r.Text));
            Xunit.Assert.Equal(w.Labels.OrderBy(l => l.Key), r.Labels.OrderBy(l => l.Key));
        }
    }
}
