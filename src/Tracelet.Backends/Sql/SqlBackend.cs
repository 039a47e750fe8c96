using System.Diagnostics;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>
/// The <c>sql</c> backend: a metric store on SQLite (embedded default, in the node's data
/// directory) or PostgreSQL (one database for a cluster). One transaction per batch; a write
/// completes only after its commit, so an acknowledged batch is in the database. Locked, busy,
/// full or unreachable databases are retried for <c>retry-for</c> before the write fails.
/// </summary>
public sealed class SqlBackend : BackendPlugin
{
    /// <summary>The plugin's name: its key under <c>tracelet.plugins</c>.</summary>
    public const string PluginName = "sql";

    /// <summary>Rows deleted per retention statement: small enough that a write waits at most a few milliseconds behind it.</summary>
    internal const int RetentionChunk = 5_000;

    /// <summary>Empty series deleted per statement, after a retention pass over the samples has finished.</summary>
    internal const int SeriesChunk = 1_000;

    private static readonly TimeSpan RetentionInterval = TimeSpan.FromMinutes(1);

    /// <summary>One retention step may take this long; it runs after a commit, so it has its own deadline rather than the write's token.</summary>
    private static readonly TimeSpan RetentionTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    private SqlStoreOptions? _options;
    private IMetricStore? _store;
    private int _schemaVersion;
    private long _samples;
    private long _batches;
    private long _retries;
    private long _failedBatches;
    private long _nanValues;
    private long _deletedByRetention;
    private long _seriesDeletedByRetention;
    private long _retentionDeferred;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private DateTimeOffset _nextRetention = DateTimeOffset.MinValue;
    private bool _retentionBacklog;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Backend)
    {
        Description = "Metric store on SQLite (per node) or PostgreSQL (per cluster), with retention and a query endpoint",
        Author = "Tracelet",
        ConfigSchema = SqlStoreOptions.ConfigSchema,
    };

    /// <summary>The options in use (after initialization).</summary>
    internal SqlStoreOptions Options => _options ?? throw new InvalidOperationException("the sql backend is not initialized");

    /// <summary>Makes the store for the options; tests wrap it to inject faults.</summary>
    internal Func<SqlStoreOptions, IMetricStore> StoreFactory { get; set; } = CreateStore;

    /// <inheritdoc />
    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken).ConfigureAwait(false);
        try
        {
            _options = SqlStoreOptions.From(context.Config, context.DataDirectory);
        }
        catch (FormatException e)
        {
            throw new PluginPermanentException(e.Message, e);
        }
    }

    /// <inheritdoc />
    public override async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        var options = Options;
        var store = StoreFactory(options);
        try
        {
            _schemaVersion = await store.OpenAsync(readOnly: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not PluginPermanentException and not OperationCanceledException)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            RecordError(SqlFaults.Describe(e, options.Target));
            throw new InvalidOperationException($"cannot open the metric store: {_lastError}", e);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        _store = store;
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var store = _store ?? throw new InvalidOperationException("the sql backend is not started");
        var clock = Stopwatch.StartNew();
        var backoff = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                await store.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (SqlFaults.IsTransient(e) && !cancellationToken.IsCancellationRequested && clock.Elapsed < Options.RetryFor)
            {
                // Nothing of the batch is committed; write it again once the database may have recovered.
                RecordError(SqlFaults.Describe(e, Options.Target));
                _retries++;
                await store.ResetAsync().ConfigureAwait(false);
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _failedBatches++;
                await store.ResetAsync().ConfigureAwait(false);
                RecordError(SqlFaults.Describe(e, Options.Target));
                var why = SqlFaults.IsTransient(e) ? $"gave up after {clock.Elapsed.TotalSeconds:0.#}s of retries: " : "";
                throw new InvalidOperationException($"batch of {batch.Samples.Length} samples from {batch.SourceNode}/{batch.Source} not stored: {why}{_lastError}", e);
            }
        }
        _samples += batch.Samples.Length;
        _batches++;
        foreach (var s in batch.Samples)
        {
            if (double.IsNaN(s.Value) && s.Text is null) _nanValues++;
        }
        // The batch is committed: from here on the write must succeed, or the batch would be sent again and stored twice.
        await ApplyRetentionAsync(store, stopping: cancellationToken.IsCancellationRequested).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes one bounded chunk of expired samples when due, then (once no expired samples are left) one chunk
    /// of series with no samples, so a write never waits long behind retention. Never throws.
    /// </summary>
    private async Task ApplyRetentionAsync(IMetricStore store, bool stopping)
    {
        if (Options.Retention is not { } retention) return;
        var now = DateTimeOffset.UtcNow;
        if (!_retentionBacklog && now < _nextRetention) return;
        if (stopping)
        {
            // A stop is under way: leave the housekeeping to the next write or incarnation.
            _retentionDeferred++;
            return;
        }
        using var deadline = new CancellationTokenSource(RetentionTimeout);
        try
        {
            var deleted = await store.DeleteOlderThanAsync(now - retention, RetentionChunk, deadline.Token).ConfigureAwait(false);
            _deletedByRetention += deleted;
            _retentionBacklog = deleted == RetentionChunk;
            if (!_retentionBacklog)
            {
                // Series whose samples all expired (old pids, command lines) would otherwise pile up in the series table forever.
                var series = await store.DeleteEmptySeriesAsync(SeriesChunk, deadline.Token).ConfigureAwait(false);
                _seriesDeletedByRetention += series;
                _retentionBacklog = series == SeriesChunk;
            }
            if (!_retentionBacklog) _nextRetention = now + RetentionInterval;
        }
        catch (Exception e)
        {
            // Retention is housekeeping: a failure, a timeout or a cancellation must not fail the write that was already committed.
            if (e is OperationCanceledException) _retentionDeferred++;
            RecordError("retention: " + (e is OperationCanceledException ? $"cancelled after {RetentionTimeout.TotalSeconds:0}s, deferred to the next pass" : SqlFaults.Describe(e, Options.Target)));
            _nextRetention = now + RetentionInterval;
            await store.ResetAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        if (_store is not null) await _store.DisposeAsync().ConfigureAwait(false);
        _store = null;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?>
    {
        ["provider"] = _options?.Provider.ToString().ToLowerInvariant(),
        ["target"] = _options?.Target,
        ["schema_version"] = _schemaVersion,
        ["samples_written"] = _samples,
        ["batches_written"] = _batches,
        ["batches_failed"] = _failedBatches,
        ["write_retries"] = _retries,
        ["nan_values"] = _nanValues,
        ["retention"] = _options?.Retention is { } r ? $"{r.TotalHours:0.##}h" : "forever",
        ["deleted_by_retention"] = _deletedByRetention,
        ["series_deleted_by_retention"] = _seriesDeletedByRetention,
        ["retention_deferred"] = _retentionDeferred,
        ["last_error"] = _lastError,
        ["last_error_at"] = _lastErrorAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
    };

    internal static IMetricStore CreateStore(SqlStoreOptions options) => options.Provider switch
    {
        SqlProvider.Postgres => new PostgresMetricStore(options),
        _ => new SqliteMetricStore(options),
    };

    private void RecordError(string message)
    {
        _lastError = message;
        _lastErrorAt = DateTimeOffset.UtcNow;
    }
}
