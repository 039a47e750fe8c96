using Npgsql;
using NpgsqlTypes;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>
/// The cluster store: every node writes to one PostgreSQL database, each batch in one transaction
/// with binary COPY for the samples (new series are inserted first, in the same transaction).
/// </summary>
internal sealed class PostgresMetricStore(SqlStoreOptions options) : IMetricStore
{
    private readonly SeriesCache _series = new();
    /// <summary>The schema as a quoted identifier (its name is also validated by <see cref="SqlStoreOptions.From"/>).</summary>
    private readonly string _schema = SqlStoreOptions.QuoteIdentifier(options.Schema);
    private NpgsqlConnection? _connection;

    private string Target => options.Target;

    public async Task<int> OpenAsync(bool readOnly, CancellationToken cancellationToken)
    {
        // Readers (GET /query) take pooled connections, so that queries do not each pay a new login; the writer keeps its own.
        var connection = await ConnectAsync(cancellationToken, pooled: readOnly).ConfigureAwait(false);
        try
        {
            var version = readOnly ? await ReadVersionAsync(connection, cancellationToken).ConfigureAwait(false) : await MigrateAsync(connection, cancellationToken).ConfigureAwait(false);
            _connection = connection;
            return version;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<NpgsqlConnection> ConnectAsync(CancellationToken cancellationToken, bool pooled = false)
    {
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString) { Pooling = pooled };
        if (!builder.ContainsKey("Timeout")) builder.Timeout = 5;
        // Names the connection in pg_stat_activity, so an operator can tell Tracelet's sessions apart.
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = pooled ? "tracelet-sql-query" : "tracelet-sql";
        var connection = new NpgsqlConnection(builder.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<int> MigrateAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        // Nodes starting together migrate one at a time: a transaction-scoped advisory lock per schema.
        await ExecuteAsync(connection, tx, $"SELECT pg_advisory_xact_lock(hashtext('tracelet.sql.{options.Schema}'));", ct).ConfigureAwait(false);
        await ExecuteAsync(connection, tx, $"CREATE SCHEMA IF NOT EXISTS {_schema}; CREATE TABLE IF NOT EXISTS {_schema}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());", ct).ConfigureAwait(false);
        var current = await CurrentVersionAsync(connection, tx, ct).ConfigureAwait(false);
        if (current > SchemaMigrations.Latest) throw SchemaMigrations.Newer(Target, current);
        for (var v = current + 1; v <= SchemaMigrations.Latest; v++)
        {
            await ExecuteAsync(connection, tx, string.Format(System.Globalization.CultureInfo.InvariantCulture, SchemaMigrations.Postgres[v - 1], _schema), ct).ConfigureAwait(false);
            await ExecuteAsync(connection, tx, $"INSERT INTO {_schema}.schema_version (version) VALUES ({v});", ct).ConfigureAwait(false);
        }
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return SchemaMigrations.Latest;
    }

    private async Task<int> ReadVersionAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var exists = new NpgsqlCommand("SELECT to_regclass(@t) IS NOT NULL;", connection);
        exists.Parameters.AddWithValue("t", $"{_schema}.schema_version");
        if (!(bool)(await exists.ExecuteScalarAsync(ct).ConfigureAwait(false))!) return 0;
        var version = await CurrentVersionAsync(connection, null, ct).ConfigureAwait(false);
        if (version > SchemaMigrations.Latest) throw SchemaMigrations.Newer(Target, version);
        return version;
    }

    private async Task<int> CurrentVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT COALESCE(MAX(version), 0) FROM {_schema}.schema_version;", connection, tx);
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        // A connection dropped by a fault is opened again here, so a retry needs nothing else.
        _connection ??= await ConnectAsync(cancellationToken).ConfigureAwait(false);
        var connection = _connection;
        var ids = new long[batch.Samples.Length];
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var upsert = new NpgsqlCommand($"""
                INSERT INTO {_schema}.series (name, node, source, type, labels) VALUES (@n, @o, @s, @t, @l)
                ON CONFLICT (name, node, source, type, md5(labels)) DO UPDATE SET name = EXCLUDED.name
                RETURNING id;
                """, connection, tx);
            foreach (var name in new[] { "n", "o", "s", "t", "l" }) upsert.Parameters.Add(new NpgsqlParameter<string>(name, ""));
            for (var i = 0; i < ids.Length; i++)
            {
                var s = batch.Samples[i];
                var key = new SeriesKey(s.Name, batch.SourceNode, string.IsNullOrEmpty(s.Source) ? batch.Source : s.Source, s.Type, s.Labels);
                ids[i] = await _series.ResolveAsync(key, k => UpsertAsync(upsert, k, cancellationToken)).ConfigureAwait(false);
            }

            await using (var copy = await connection.BeginBinaryImportAsync($"COPY {_schema}.samples (series_id, ts, value, step, text) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
            {
                for (var i = 0; i < ids.Length; i++)
                {
                    var s = batch.Samples[i];
                    await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(ids[i], NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(s.Timestamp.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                    // NaN as NULL, as in SQLite, so both stores read back the same; ±Infinity is stored as is.
                    if (double.IsNaN(s.Value)) await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                    else await copy.WriteAsync(s.Value, NpgsqlDbType.Double, cancellationToken).ConfigureAwait(false);
                    if (s.Step is { } step) await copy.WriteAsync(step, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                    else await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                    if (s.Text is { } text) await copy.WriteAsync(text, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    else await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }
                await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            _series.Commit();
        }
        catch
        {
            _series.Rollback();
            throw;
        }
    }

    private static async Task<long> UpsertAsync(NpgsqlCommand upsert, SeriesKey key, CancellationToken ct)
    {
        upsert.Parameters[0].Value = key.Name;
        upsert.Parameters[1].Value = key.Node;
        upsert.Parameters[2].Value = key.Source;
        upsert.Parameters[3].Value = key.TypeText;
        upsert.Parameters[4].Value = key.LabelsText;
        return (long)(await upsert.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    public async Task ResetAsync()
    {
        _series.Rollback();
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
        _connection = null;
    }

    public async Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken)
    {
        _connection ??= await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using var delete = new NpgsqlCommand($"""
            DELETE FROM {_schema}.samples WHERE ctid = ANY (ARRAY (
              SELECT s.ctid FROM {_schema}.series se JOIN {_schema}.samples s ON s.series_id = se.id AND s.ts < @cutoff LIMIT @limit));
            """, _connection);
        delete.Parameters.AddWithValue("cutoff", cutoff.UtcDateTime);
        delete.Parameters.AddWithValue("limit", limit);
        return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> DeleteEmptySeriesAsync(int limit, CancellationToken cancellationToken)
    {
        _connection ??= await ConnectAsync(cancellationToken).ConfigureAwait(false);
        // SKIP LOCKED passes over a series that a writer is upserting right now (its ON CONFLICT DO UPDATE holds the row),
        // so a series another node is about to write samples for is not deleted under it.
        await using var delete = new NpgsqlCommand($"""
            DELETE FROM {_schema}.series WHERE id = ANY (ARRAY (
              SELECT se.id FROM {_schema}.series se
              WHERE NOT EXISTS (SELECT 1 FROM {_schema}.samples s WHERE s.series_id = se.id)
              LIMIT @limit FOR UPDATE SKIP LOCKED));
            """, _connection);
        delete.Parameters.AddWithValue("limit", limit);
        var deleted = await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        // In the same (serialized) plugin call as the delete: no later write of this node can use the id of a deleted row.
        if (deleted > 0) _series.Clear();
        return deleted;
    }

    public async Task<IReadOnlyList<StoredSeries>> FindSeriesAsync(string metric, string? node, CancellationToken cancellationToken)
    {
        var result = new List<StoredSeries>();
        if (_connection is null) return result;
        await using var find = new NpgsqlCommand($"SELECT id, name, node, source, type, labels FROM {_schema}.series WHERE name = @n AND (@o::text IS NULL OR node = @o);", _connection);
        find.Parameters.AddWithValue("n", metric);
        find.Parameters.Add(new NpgsqlParameter("o", NpgsqlDbType.Text) { Value = (object?)node ?? DBNull.Value });
        await using var reader = await find.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            result.Add(SeriesText.ReadSeries(reader));
        return result;
    }

    public async Task<IReadOnlyList<(long SeriesId, DateTimeOffset Timestamp, double Value, long? Step, string? Text)>> ReadSamplesAsync(
        IReadOnlyCollection<long> seriesIds, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken)
    {
        var result = new List<(long, DateTimeOffset, double, long?, string?)>();
        if (_connection is null || seriesIds.Count == 0) return result;
        await using var read = new NpgsqlCommand($"""
            SELECT series_id, ts, value, step, text FROM {_schema}.samples
            WHERE series_id = ANY (@ids) AND ts >= @f AND ts <= @t ORDER BY ts, series_id LIMIT @limit;
            """, _connection);
        read.Parameters.AddWithValue("ids", seriesIds.ToArray());
        read.Parameters.AddWithValue("f", from.UtcDateTime);
        read.Parameters.AddWithValue("t", to.UtcDateTime);
        read.Parameters.AddWithValue("limit", limit);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add((reader.GetInt64(0), new DateTimeOffset(reader.GetDateTime(1).ToUniversalTime(), TimeSpan.Zero),
                reader.IsDBNull(2) ? double.NaN : reader.GetDouble(2),
                reader.IsDBNull(3) ? null : reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
        _connection = null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
