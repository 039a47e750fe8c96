using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>A query for one metric's series: a time range, optionally one node and label equalities.</summary>
/// <param name="Metric">The metric name, exactly.</param>
/// <param name="Node">Only this node; null for every node.</param>
/// <param name="From">Inclusive start.</param>
/// <param name="To">Inclusive end.</param>
/// <param name="Labels">Every label here must be on the series with this value.</param>
/// <param name="Limit">At most this many samples; the result says when it was cut.</param>
public sealed record SeriesQuery(string Metric, string? Node, DateTimeOffset From, DateTimeOffset To, ImmutableArray<MetricLabel> Labels, int Limit = 100_000);

/// <summary>One stored sample as a query returns it. <see cref="Value"/> is NaN for text samples and for NaN values.</summary>
public sealed record StoredSample(DateTimeOffset Timestamp, string Name, string Node, string Source, MetricType Type, ImmutableArray<MetricLabel> Labels, double Value, long? Step, string? Text);

/// <summary>What a query found, in time order (then series).</summary>
/// <param name="Samples">The samples.</param>
/// <param name="Truncated">True when there were more than the query's limit.</param>
public sealed record SeriesQueryResult(ImmutableArray<StoredSample> Samples, bool Truncated);

/// <summary>A stored series (its id and identity), as the reader finds them before reading samples.</summary>
internal sealed record StoredSeries(long Id, string Name, string Node, string Source, MetricType Type, ImmutableArray<MetricLabel> Labels);

/// <summary>One database behind the sql backend: schema, batched writes, retention, reads.</summary>
internal interface IMetricStore : IAsyncDisposable
{
    /// <summary>Connects and, unless read-only, creates or migrates the schema. Returns the schema version.</summary>
    Task<int> OpenAsync(bool readOnly, CancellationToken cancellationToken);

    /// <summary>Writes a batch in one transaction: all of it, or nothing (then it throws).</summary>
    Task WriteAsync(MetricBatch batch, CancellationToken cancellationToken);

    /// <summary>Drops the connection after a fault so that the next call starts clean.</summary>
    Task ResetAsync();

    /// <summary>Deletes at most <paramref name="limit"/> samples older than <paramref name="cutoff"/>; returns how many.</summary>
    Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes at most <paramref name="limit"/> series that have no samples left (after retention) and
    /// drops the store's cached series ids, so that no cached id points to a deleted row; returns how many.
    /// </summary>
    Task<int> DeleteEmptySeriesAsync(int limit, CancellationToken cancellationToken);

    /// <summary>The series of a metric, on one node or all.</summary>
    Task<IReadOnlyList<StoredSeries>> FindSeriesAsync(string metric, string? node, CancellationToken cancellationToken);

    /// <summary>Samples of these series in a range, by time, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<(long SeriesId, DateTimeOffset Timestamp, double Value, long? Step, string? Text)>> ReadSamplesAsync(
        IReadOnlyCollection<long> seriesIds, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken);
}

/// <summary>Timestamps as stored: microseconds since the Unix epoch, UTC.</summary>
internal static class StoredTime
{
    public static long ToMicroseconds(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromMicroseconds(long us) => new(DateTimeOffset.UnixEpoch.UtcTicks + us * 10, TimeSpan.Zero);
}
