using System.Collections.Immutable;
using System.CommandLine;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Tracelet.Abstractions;
using Tracelet.Backends.Sql;

namespace Tracelet.Bench.Sql;

/// <summary>
/// `sql`: samples per second stored by the sql backend (the plugin's WriteAsync, batches of 1000
/// samples over collector-like series) into a temp SQLite file and into PostgreSQL. Baselines in
/// the same run: the same rows written raw — a prepared INSERT per row in one transaction per
/// batch (SQLite), binary COPY of bare rows per batch (PostgreSQL) — without our series lookup,
/// label encoding or retry wrapper.
/// </summary>
internal sealed class SqlBenchmark : IBenchmark
{
    public const string SqliteSamplesPerSecond = "sql.sqlite.samples_per_s";
    public const string SqliteFullSamplesPerSecond = "sql.sqlite_full.samples_per_s";
    public const string SqliteRawSamplesPerSecond = "sql.sqlite.raw_insert.samples_per_s";
    public const string SqliteRatio = "sql.sqlite.ratio";
    public const string PostgresSamplesPerSecond = "sql.postgres.samples_per_s";
    public const string PostgresRawSamplesPerSecond = "sql.postgres.raw_copy.samples_per_s";
    public const string PostgresRatio = "sql.postgres.ratio";
    private const string Unit = "samples/s";
    private const int BatchSize = 1000;

    private readonly Option<string?> _postgres = new("--postgres")
    {
        Description = "PostgreSQL connection string; default $TRACELET_TEST_POSTGRES",
    };

    private readonly Option<int> _batches = new("--batches")
    {
        Description = "Batches of 1000 samples per round and variant",
        DefaultValueFactory = _ => 200,
    };

    private readonly Option<int> _rounds = new("--rounds")
    {
        Description = "Rounds per variant; figures are the median",
        DefaultValueFactory = _ => 5,
    };

    public string Name => "sql";

    public string Description => "Samples/s stored by the sql backend into SQLite and PostgreSQL, beside raw INSERT / COPY of the same rows.";

    public IReadOnlyList<Option> Options => [_postgres, _batches, _rounds];

    public async Task RunAsync(BenchContext context, ParseResult parse)
    {
        var batches = Math.Clamp(parse.GetValue(_batches), 10, 5000);
        var rounds = Math.Clamp(parse.GetValue(_rounds), 1, 15);
        var ct = context.Cancellation;
        var dir = context.CreateTempDirectory("sql");

        // Warm-up (JIT, file creation) in a file of its own.
        await OursAsync(StoreOptions(SqlProvider.Sqlite, Path.Combine(dir, "warmup.db")), MakeBatches(100, 0), context, ct);
        await RawSqliteAsync(Path.Combine(dir, "warmup-raw.db"), MakeBatches(100, 0), ct);

        var ours = new List<double>();
        var full = new List<double>();
        var raw = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            var data = MakeBatches(batches, r);
            ours.Add(await OursAsync(StoreOptions(SqlProvider.Sqlite, Path.Combine(dir, $"ours-{r}.db")), data, context, ct));
            full.Add(await OursAsync(StoreOptions(SqlProvider.Sqlite, Path.Combine(dir, $"full-{r}.db")) with { SynchronousFull = true }, data, context, ct));
            raw.Add(await RawSqliteAsync(Path.Combine(dir, $"raw-{r}.db"), data, ct));
            context.Log($"sqlite round {r + 1}/{rounds}: ours {ours[^1]:0} full {full[^1]:0} raw {raw[^1]:0} samples/s");
        }
        context.Figures.Spread(SqliteSamplesPerSecond, ours, Unit);
        context.Figures.Report(SqliteFullSamplesPerSecond, Figures.Median(full), Unit);
        context.Figures.Report(SqliteRawSamplesPerSecond, Figures.Median(raw), Unit);
        context.Figures.Ratio(SqliteRatio, Figures.Median(ours), Figures.Median(raw));

        var connection = parse.GetValue(_postgres) ?? Environment.GetEnvironmentVariable("TRACELET_TEST_POSTGRES");
        if (string.IsNullOrWhiteSpace(connection))
        {
            PostgresUnavailable(context, "no connection string (--postgres or TRACELET_TEST_POSTGRES)");
            return;
        }
        var schema = $"tracelet_bench_{Guid.NewGuid():N}";
        try
        {
            var pgOurs = new List<double>();
            var pgRaw = new List<double>();
            var pgOptions = StoreOptions(SqlProvider.Postgres, "") with { ConnectionString = connection, Schema = schema };
            await OursAsync(pgOptions, MakeBatches(20, 0), context, ct);
            for (var r = 0; r < rounds; r++)
            {
                var data = MakeBatches(batches, r + 1);
                pgOurs.Add(await OursAsync(pgOptions, data, context, ct));
                pgRaw.Add(await RawCopyAsync(connection, schema, data, ct));
                context.Log($"postgres round {r + 1}/{rounds}: ours {pgOurs[^1]:0} raw {pgRaw[^1]:0} samples/s");
            }
            context.Figures.Spread(PostgresSamplesPerSecond, pgOurs, Unit);
            context.Figures.Report(PostgresRawSamplesPerSecond, Figures.Median(pgRaw), Unit);
            context.Figures.Ratio(PostgresRatio, Figures.Median(pgOurs), Figures.Median(pgRaw));
        }
        catch (NpgsqlException e)
        {
            PostgresUnavailable(context, e.Message);
        }
        finally
        {
            await DropSchemaAsync(connection, schema);
        }
    }

    private static void PostgresUnavailable(BenchContext context, string why)
    {
        context.Figures.Report(PostgresSamplesPerSecond, "unavailable", Unit);
        context.Check(false, $"PostgreSQL unavailable: {why}; start it with `bash .ci/start-postgres.sh`");
    }

    private static SqlStoreOptions StoreOptions(SqlProvider provider, string path) =>
        new(provider, path, "", "tracelet", null, TimeSpan.FromSeconds(30), SynchronousFull: false);

    /// <summary>Ten series per batch like a system collector's (name + cpu/device labels), 100 samples each, one timestamp per 100 ms.</summary>
    private static ImmutableArray<MetricBatch> MakeBatches(int count, int round)
    {
        string[] names = ["system.cpu.utilization", "system.memory.usage", "system.disk.io", "system.network.io", "gpu.utilization"];
        var start = DateTimeOffset.UtcNow.AddHours(-1).AddMinutes(round * 10);
        var result = ImmutableArray.CreateBuilder<MetricBatch>(count);
        for (var b = 0; b < count; b++)
        {
            var samples = ImmutableArray.CreateBuilder<MetricSample>(BatchSize);
            for (var i = 0; i < BatchSize; i++)
            {
                var series = i % 10;
                var at = start.AddMilliseconds((b * (BatchSize / 10) + i / 10) * 100.0);
                samples.Add(new MetricSample(names[series % names.Length], MetricType.System, b * 0.5 + i, at, "system", null,
                    [new MetricLabel("node", "bench"), new MetricLabel("device", $"dev{series}"), new MetricLabel("direction", series % 2 == 0 ? "read" : "write")]));
            }
            result.Add(new MetricBatch("bench", "system", samples.MoveToImmutable()));
        }
        return result.MoveToImmutable();
    }

    private static async Task<double> OursAsync(SqlStoreOptions options, ImmutableArray<MetricBatch> batches, BenchContext context, CancellationToken ct)
    {
        var backend = new SqlBackend();
        var config = options.Provider == SqlProvider.Sqlite
            ? $$"""{ "path": {{System.Text.Json.JsonSerializer.Serialize(options.SqlitePath)}}, "synchronous": "{{(options.SynchronousFull ? "full" : "normal")}}" }"""
            : $$"""{ "provider": "postgres", "connection-string": {{System.Text.Json.JsonSerializer.Serialize(options.ConnectionString)}}, "schema": "{{options.Schema}}" }""";
        await backend.InitializeAsync(new PluginContext("bench", Path.GetTempPath(), PluginConfig.Parse(config)), ct);
        await backend.StartAsync(ct);
        var clock = Stopwatch.StartNew();
        foreach (var batch in batches) await backend.WriteAsync(batch, ct);
        var elapsed = clock.Elapsed.TotalSeconds;
        var written = (long)backend.GetStatus()["samples_written"]!;
        await backend.StopAsync(ct);
        context.Check(written == (long)batches.Length * BatchSize, $"the backend wrote {written} samples, expected {batches.Length * BatchSize}");
        return written / elapsed;
    }

    /// <summary>The floor: the same rows, series ids known up front, one prepared INSERT per row, one transaction per batch, same pragmas.</summary>
    private static async Task<double> RawSqliteAsync(string path, ImmutableArray<MetricBatch> batches, CancellationToken ct)
    {
        await using var db = new SqliteConnection($"Data Source={path};Pooling=false");
        await db.OpenAsync(ct);
        using (var setup = db.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL); CREATE INDEX samples_series_ts ON samples (series_id, ts);";
            setup.ExecuteNonQuery();
        }
        using var insert = db.CreateCommand();
        insert.CommandText = "INSERT INTO samples (series_id, ts, value) VALUES ($s, $t, $v)";
        var s = insert.Parameters.Add("$s", SqliteType.Integer);
        var t = insert.Parameters.Add("$t", SqliteType.Integer);
        var v = insert.Parameters.Add("$v", SqliteType.Real);
        insert.Prepare();
        var clock = Stopwatch.StartNew();
        foreach (var batch in batches)
        {
            ct.ThrowIfCancellationRequested();
            using var tx = db.BeginTransaction();
            insert.Transaction = tx;
            for (var i = 0; i < batch.Samples.Length; i++)
            {
                var sample = batch.Samples[i];
                s.Value = (long)(i % 10);
                t.Value = sample.Timestamp.ToUnixTimeMilliseconds() * 1000;
                v.Value = sample.Value;
                insert.ExecuteNonQuery();
            }
            tx.Commit();
        }
        return batches.Length * BatchSize / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The floor for PostgreSQL: binary COPY of bare (series_id, ts, value) rows, one transaction per batch.</summary>
    private static async Task<double> RawCopyAsync(string connection, string schema, ImmutableArray<MetricBatch> batches, CancellationToken ct)
    {
        await using var db = new NpgsqlConnection(connection);
        await db.OpenAsync(ct);
        await using (var setup = new NpgsqlCommand($"DROP TABLE IF EXISTS {schema}.raw_samples; CREATE TABLE {schema}.raw_samples (series_id bigint NOT NULL, ts timestamptz NOT NULL, value double precision); CREATE INDEX ON {schema}.raw_samples (series_id, ts);", db))
            await setup.ExecuteNonQueryAsync(ct);
        var clock = Stopwatch.StartNew();
        foreach (var batch in batches)
        {
            await using var tx = await db.BeginTransactionAsync(ct);
            await using (var copy = await db.BeginBinaryImportAsync($"COPY {schema}.raw_samples (series_id, ts, value) FROM STDIN (FORMAT BINARY)", ct))
            {
                for (var i = 0; i < batch.Samples.Length; i++)
                {
                    var sample = batch.Samples[i];
                    await copy.StartRowAsync(ct);
                    await copy.WriteAsync((long)(i % 10), NpgsqlDbType.Bigint, ct);
                    await copy.WriteAsync(sample.Timestamp.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                    await copy.WriteAsync(sample.Value, NpgsqlDbType.Double, ct);
                }
                await copy.CompleteAsync(ct);
            }
            await tx.CommitAsync(ct);
        }
        return batches.Length * BatchSize / clock.Elapsed.TotalSeconds;
    }

    private static async Task DropSchemaAsync(string connection, string schema)
    {
        try
        {
            await using var db = new NpgsqlConnection(connection);
            await db.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE", db);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // unreachable: nothing was created
        }
    }
}
