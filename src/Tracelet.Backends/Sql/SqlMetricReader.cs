using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>
/// Reads a metric's series back from the store the <c>sql</c> backend writes (same config):
/// the metric's series are found by name (and node), filtered by labels, then their samples
/// read by time range through the (series_id, ts) index. Never creates or migrates anything.
/// </summary>
public sealed class SqlMetricReader : IAsyncDisposable
{
    private readonly IMetricStore _store;
    private bool _opened;
    private int _version;

    private SqlMetricReader(SqlStoreOptions options)
    {
        Options = options;
        _store = SqlBackend.CreateStore(options);
    }

    /// <summary>The store this reader reads.</summary>
    public SqlStoreOptions Options { get; }

    /// <summary>A reader for the store described by the sql backend's config block (throws <see cref="FormatException"/> naming a bad key).</summary>
    public static SqlMetricReader Create(PluginConfig config, string dataDirectory, Func<string, string?>? environment = null) =>
        new(SqlStoreOptions.From(config, dataDirectory, environment));

    /// <summary>A reader for the given options.</summary>
    public static SqlMetricReader Create(SqlStoreOptions options) => new(options);

    /// <summary>The samples of a metric in a time range, oldest first. An unknown metric, or a store not created yet, gives an empty result.</summary>
    public async Task<SeriesQueryResult> QueryAsync(SeriesQuery query, CancellationToken cancellationToken)
    {
        if (!_opened)
        {
            _version = await _store.OpenAsync(readOnly: true, cancellationToken).ConfigureAwait(false);
            _opened = true;
        }
        if (_version == 0) return new SeriesQueryResult([], false);
        var series = (await _store.FindSeriesAsync(query.Metric, query.Node, cancellationToken).ConfigureAwait(false))
            .Where(s => query.Labels.IsDefaultOrEmpty || query.Labels.All(want => s.Labels.Contains(want)))
            .ToDictionary(s => s.Id);
        if (series.Count == 0) return new SeriesQueryResult([], false);
        var rows = await _store.ReadSamplesAsync(series.Keys, query.From, query.To, query.Limit + 1, cancellationToken).ConfigureAwait(false);
        var samples = ImmutableArray.CreateBuilder<StoredSample>(Math.Min(rows.Count, query.Limit));
        foreach (var row in rows.Take(query.Limit))
        {
            var s = series[row.SeriesId];
            samples.Add(new StoredSample(row.Timestamp, s.Name, s.Node, s.Source, s.Type, s.Labels, row.Value, row.Step, row.Text));
        }
        return new SeriesQueryResult(samples.ToImmutable(), rows.Count > query.Limit);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _store.DisposeAsync();
}
