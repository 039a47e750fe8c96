using System.Globalization;
using Microsoft.Data.Sqlite;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>
/// The embedded store: one SQLite file in WAL mode, one transaction per batch through prepared,
/// reused commands. synchronous=NORMAL (default) keeps every committed batch across a process
/// crash; FULL also across a power loss.
/// </summary>
internal sealed class SqliteMetricStore(SqlStoreOptions options) : IMetricStore
{
    private readonly SeriesCache _series = new();
    private SqliteConnection? _connection;
    private SqliteCommand? _insertSample;
    private SqliteCommand? _upsertSeries;

    private string Target => options.SqlitePath;

    public async Task<int> OpenAsync(bool readOnly, CancellationToken cancellationToken)
    {
        if (readOnly && !File.Exists(Target)) return 0;
        if (!readOnly) Directory.CreateDirectory(Path.GetDirectoryName(Target)!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Target,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            // Microsoft.Data.Sqlite retries SQLITE_BUSY until the command timeout (seconds); the backend's retry-for loop waits longer.
            DefaultTimeout = 1,
        }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (!readOnly)
            {
                Execute(connection, "PRAGMA journal_mode=WAL;");
                Execute(connection, options.SynchronousFull ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
            }
            Execute(connection, "PRAGMA busy_timeout=1000;");
            var version = readOnly ? ReadVersion(connection) : Migrate(connection);
            _connection = connection;
            if (!readOnly) Prepare(connection);
            return version;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private int Migrate(SqliteConnection connection)
    {
        using var tx = connection.BeginTransaction(); // BEGIN IMMEDIATE: one migrator at a time
        Execute(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);", tx);
        var current = Convert.ToInt32(Scalar(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version;", tx), CultureInfo.InvariantCulture);
        if (current > SchemaMigrations.Latest) throw SchemaMigrations.Newer(Target, current);
        for (var v = current + 1; v <= SchemaMigrations.Latest; v++)
        {
            Execute(connection, SchemaMigrations.Sqlite[v - 1], tx);
            using var record = connection.CreateCommand();
            record.Transaction = tx;
            record.CommandText = "INSERT INTO schema_version (version, applied_at) VALUES ($v, $at);";
            record.Parameters.AddWithValue("$v", v);
            record.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            record.ExecuteNonQuery();
        }
        tx.Commit();
        return SchemaMigrations.Latest;
    }

    private int ReadVersion(SqliteConnection connection)
    {
        if (Convert.ToInt64(Scalar(connection, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_version';"), CultureInfo.InvariantCulture) == 0) return 0;
        var version = Convert.ToInt32(Scalar(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version;"), CultureInfo.InvariantCulture);
        if (version > SchemaMigrations.Latest) throw SchemaMigrations.Newer(Target, version);
        return version;
    }

    private void Prepare(SqliteConnection connection)
    {
        _insertSample = connection.CreateCommand();
        _insertSample.CommandText = "INSERT INTO samples (series_id, ts, value, step, text) VALUES ($s, $t, $v, $p, $x);";
        _insertSample.Parameters.Add("$s", SqliteType.Integer);
        _insertSample.Parameters.Add("$t", SqliteType.Integer);
        _insertSample.Parameters.Add("$v", SqliteType.Real);
        _insertSample.Parameters.Add("$p", SqliteType.Integer);
        _insertSample.Parameters.Add("$x", SqliteType.Text);
        _insertSample.Prepare();
        _upsertSeries = connection.CreateCommand();
        // DO UPDATE (a no-op) rather than DO NOTHING, so that RETURNING gives the id of an existing row too.
        _upsertSeries.CommandText = """
            INSERT INTO series (name, node, source, type, labels) VALUES ($n, $o, $s, $t, $l)
            ON CONFLICT (name, node, source, type, labels) DO UPDATE SET name = excluded.name
            RETURNING id;
            """;
        foreach (var name in new[] { "$n", "$o", "$s", "$t", "$l" }) _upsertSeries.Parameters.Add(new SqliteParameter { ParameterName = name });
    }

    public Task WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var connection = _connection ?? throw new InvalidOperationException($"the SQLite store {Target} is not open");
        var insert = _insertSample!;
        var upsert = _upsertSeries!;
        using var tx = connection.BeginTransaction();
        try
        {
            insert.Transaction = tx;
            upsert.Transaction = tx;
            var p = insert.Parameters;
            foreach (var s in batch.Samples)
            {
                var key = new SeriesKey(s.Name, batch.SourceNode, string.IsNullOrEmpty(s.Source) ? batch.Source : s.Source, s.Type, s.Labels);
                p[0].Value = _series.Resolve(key, UpsertSeries);
                p[1].Value = StoredTime.ToMicroseconds(s.Timestamp);
                // SQLite turns a bound NaN into NULL anyway: say so explicitly. ±Infinity is stored as REAL.
                p[2].Value = double.IsNaN(s.Value) ? DBNull.Value : s.Value;
                p[3].Value = s.Step is { } step ? step : DBNull.Value;
                p[4].Value = (object?)s.Text ?? DBNull.Value;
                insert.ExecuteNonQuery();
            }
            cancellationToken.ThrowIfCancellationRequested();
            tx.Commit();
            _series.Commit();
        }
        catch
        {
            _series.Rollback();
            throw;
        }
        return Task.CompletedTask;
    }

    private long UpsertSeries(SeriesKey key)
    {
        var p = _upsertSeries!.Parameters;
        p[0].Value = key.Name;
        p[1].Value = key.Node;
        p[2].Value = key.Source;
        p[3].Value = key.TypeText;
        p[4].Value = key.LabelsText;
        return Convert.ToInt64(_upsertSeries.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public Task ResetAsync()
    {
        // A failed statement leaves the connection usable; only its transaction is gone (rolled back by Dispose).
        _series.Rollback();
        return Task.CompletedTask;
    }

    public Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken)
    {
        var connection = _connection ?? throw new InvalidOperationException($"the SQLite store {Target} is not open");
        using var delete = connection.CreateCommand();
        // CROSS JOIN keeps series as the outer loop, so each series' old rows are one range of the (series_id, ts) index.
        delete.CommandText = """
            DELETE FROM samples WHERE rowid IN (
              SELECT s.rowid FROM series se CROSS JOIN samples s
              WHERE s.series_id = se.id AND s.ts < $cutoff LIMIT $limit);
            """;
        delete.Parameters.AddWithValue("$cutoff", StoredTime.ToMicroseconds(cutoff));
        delete.Parameters.AddWithValue("$limit", limit);
        return Task.FromResult(delete.ExecuteNonQuery());
    }

    public Task<int> DeleteEmptySeriesAsync(int limit, CancellationToken cancellationToken)
    {
        var connection = _connection ?? throw new InvalidOperationException($"the SQLite store {Target} is not open");
        using var delete = connection.CreateCommand();
        // NOT EXISTS is one probe of the (series_id, ts) index per series.
        delete.CommandText = """
            DELETE FROM series WHERE id IN (
              SELECT se.id FROM series se WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.series_id = se.id) LIMIT $limit);
            """;
        delete.Parameters.AddWithValue("$limit", limit);
        var deleted = delete.ExecuteNonQuery();
        // In the same (serialized) plugin call as the delete: no later write can use the id of a deleted row.
        if (deleted > 0) _series.Clear();
        return Task.FromResult(deleted);
    }

    public async Task<IReadOnlyList<StoredSeries>> FindSeriesAsync(string metric, string? node, CancellationToken cancellationToken)
    {
        var result = new List<StoredSeries>();
        if (_connection is not { } connection) return result;
        await using var find = connection.CreateCommand();
        find.CommandText = "SELECT id, name, node, source, type, labels FROM series WHERE name = $n AND ($o IS NULL OR node = $o);";
        find.Parameters.AddWithValue("$n", metric);
        find.Parameters.AddWithValue("$o", (object?)node ?? DBNull.Value);
        await using var reader = await find.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            result.Add(SeriesText.ReadSeries(reader));
        return result;
    }

    public async Task<IReadOnlyList<(long SeriesId, DateTimeOffset Timestamp, double Value, long? Step, string? Text)>> ReadSamplesAsync(
        IReadOnlyCollection<long> seriesIds, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken)
    {
        var result = new List<(long, DateTimeOffset, double, long?, string?)>();
        if (_connection is not { } connection || seriesIds.Count == 0) return result;
        await using var read = connection.CreateCommand();
        // The ids come from our own series table (integers), so inlining them is safe.
        read.CommandText = $"""
            SELECT series_id, ts, value, step, text FROM samples
            WHERE series_id IN ({string.Join(',', seriesIds.Select(id => id.ToString(CultureInfo.InvariantCulture)))}) AND ts >= $f AND ts <= $t
            ORDER BY ts, series_id LIMIT $limit;
            """;
        read.Parameters.AddWithValue("$f", StoredTime.ToMicroseconds(from));
        read.Parameters.AddWithValue("$t", StoredTime.ToMicroseconds(to));
        read.Parameters.AddWithValue("$limit", limit);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add((reader.GetInt64(0), StoredTime.FromMicroseconds(reader.GetInt64(1)),
                reader.IsDBNull(2) ? double.NaN : reader.GetDouble(2),
                reader.IsDBNull(3) ? null : reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        _insertSample?.Dispose();
        _upsertSeries?.Dispose();
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
        _connection = null;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
