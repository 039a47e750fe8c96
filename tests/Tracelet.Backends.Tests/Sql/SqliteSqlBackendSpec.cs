using Microsoft.Data.Sqlite;
using Tracelet.Abstractions;
using Tracelet.Backends.Sql;
using Xunit;
using static Tracelet.Backends.Tests.Sql.SqlTestData;

namespace Tracelet.Backends.Tests.Sql;

/// <summary>The sql backend on a real SQLite file: what is written reads back exactly, the schema, retention, a locked database, CSV.</summary>
public sealed class SqliteSqlBackendSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracelet-sql-spec-").FullName;

    private string DbFile => Path.Combine(_dir, "sql", "metrics.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Samples_read_back_exactly_with_NaN_infinities_text_steps_and_labels_with_newlines()
    {
        var backend = await StartAsync("{}", _dir);
        var samples = Awkward(Now);
        await backend.WriteAsync(new MetricBatch("node-a", "trainer", samples), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        Assert.True(File.Exists(DbFile), "the default store is <data-dir>/sql/metrics.db");
        AssertSame(samples, "node-a", await ReadAsync(backend.Options, Query("train.loss")));
        Assert.Equal(6L, backend.GetStatus()["samples_written"]);
        Assert.Equal(1L, backend.GetStatus()["nan_values"]);
    }

    [Fact]
    public async Task A_fresh_file_gets_the_current_schema_version_and_a_reopen_keeps_the_data()
    {
        var first = await StartAsync("{}", _dir);
        Assert.Equal(SchemaMigrations.Latest, first.GetStatus()["schema_version"]);
        await first.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 1, Now)]), CancellationToken.None);
        await first.StopAsync(CancellationToken.None);

        var second = await StartAsync("{}", _dir);
        await second.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 2, Now.AddSeconds(1))]), CancellationToken.None);
        await second.StopAsync(CancellationToken.None);

        Assert.Equal([1.0, 2.0], (await ReadAsync(second.Options, Query("m"))).Samples.Select(s => s.Value));
        await using var db = new SqliteConnection($"Data Source={DbFile};Pooling=false");
        await db.OpenAsync();
        using var versions = db.CreateCommand();
        versions.CommandText = "SELECT COUNT(*), MAX(version) FROM schema_version";
        using var row = versions.ExecuteReader();
        row.Read();
        Assert.Equal((1L, (long)SchemaMigrations.Latest), (row.GetInt64(0), row.GetInt64(1)));
        // One series for both writes: the second run found it rather than creating a twin.
        using var series = db.CreateCommand();
        series.CommandText = "SELECT COUNT(*) FROM series";
        Assert.Equal(1L, series.ExecuteScalar());
    }

    [Fact]
    public async Task A_database_from_a_newer_Tracelet_is_refused_naming_both_versions()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DbFile)!);
        await using (var db = new SqliteConnection($"Data Source={DbFile};Pooling=false"))
        {
            await db.OpenAsync();
            using var create = db.CreateCommand();
            create.CommandText = "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL); INSERT INTO schema_version VALUES (99, 'later');";
            create.ExecuteNonQuery();
        }

        var backend = new SqlBackend();
        await backend.InitializeAsync(new PluginContext("node-a", _dir, PluginConfig.Empty), CancellationToken.None);
        var error = await Assert.ThrowsAsync<PluginPermanentException>(() => backend.StartAsync(CancellationToken.None).AsTask());
        Assert.Contains("schema version 99", error.Message);
        Assert.Contains($"({SchemaMigrations.Latest})", error.Message);
        Assert.Contains(DbFile, error.Message);
    }

    [Fact]
    public async Task Queries_select_one_metric_one_node_a_time_range_and_labels()
    {
        var backend = await StartAsync("{}", _dir);
        await backend.WriteAsync(new MetricBatch("node-a", "system",
        [
            Scalar("cpu", 1, Now.AddMinutes(-30), ("core", "0")),
            Scalar("cpu", 2, Now.AddMinutes(-10), ("core", "0")),
            Scalar("cpu", 3, Now.AddMinutes(-10), ("core", "1")),
            Scalar("mem", 9, Now.AddMinutes(-10)),
        ]), CancellationToken.None);
        await backend.WriteAsync(new MetricBatch("node-b", "system", [Scalar("cpu", 4, Now.AddMinutes(-10), ("core", "0"))]), CancellationToken.None);
        var options = backend.Options;
        await backend.StopAsync(CancellationToken.None);

        Assert.Equal([1.0, 2.0, 3.0, 4.0], (await ReadAsync(options, Query("cpu"))).Samples.Select(s => s.Value).Order());
        Assert.Equal([1.0, 2.0, 3.0], (await ReadAsync(options, Query("cpu", "node-a"))).Samples.Select(s => s.Value).Order());
        Assert.Equal([2.0, 3.0], (await ReadAsync(options, Query("cpu", "node-a", from: Now.AddMinutes(-20)))).Samples.Select(s => s.Value).Order());
        Assert.Equal([2.0], (await ReadAsync(options, Query("cpu", "node-a", Now.AddMinutes(-20), null, ("core", "0")))).Samples.Select(s => s.Value));
        Assert.Empty((await ReadAsync(options, Query("no.such.metric"))).Samples);

        var limited = await ReadAsync(options, Query("cpu") with { Limit = 2 });
        Assert.True(limited.Truncated);
        Assert.Equal(2, limited.Samples.Length);
    }

    [Fact]
    public async Task Csv_quotes_label_values_with_newlines_so_they_read_back()
    {
        var backend = await StartAsync("{}", _dir);
        await backend.WriteAsync(new MetricBatch("node-a", "trainer", Awkward(Now)), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        var csv = SeriesFormat.Csv(await ReadAsync(backend.Options, Query("train.loss")));
        var lines = csv.Split("\r\n");
        Assert.Equal("time,node,source,name,labels,value,step,text", lines[0]);
        Assert.StartsWith($"{Now.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'},node-a,trainer,train.loss,\"{{\"\"note\"\":\"\"line1\\nline2 \\\"\"quoted\\\"\", ok é\"\",\"\"run\"\":\"\"r1\"\"}}\",0.125,10,", lines[1]);
        Assert.Contains(",NaN,11,", csv);
        Assert.Contains(",Infinity,12,", csv);
        Assert.Contains(",-Infinity,13,", csv);
        Assert.Contains(",,14,\"epoch done\r\nnext\"".Replace("\r\n", "\n"), csv);
    }

    [Fact]
    public async Task Retention_deletes_only_samples_older_than_the_setting()
    {
        var backend = await StartAsync("""{ "retention": "1h" }""", _dir);
        // The first write after start runs retention, after its own commit: the old sample goes, the recent ones stay.
        await backend.WriteAsync(new MetricBatch("node-a", "system",
        [
            Scalar("m", 1, Now.AddHours(-3)),
            Scalar("m", 2, Now.AddMinutes(-50)),
            Scalar("m", 3, Now),
        ]), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        var left = await ReadAsync(backend.Options, Query("m", from: Now.AddDays(-1)));
        Assert.Equal([2.0, 3.0], left.Samples.Select(s => s.Value));
        Assert.Equal(1L, backend.GetStatus()["deleted_by_retention"]);
        Assert.Equal("1h", backend.GetStatus()["retention"]);
    }

    [Fact]
    public async Task Retention_deletes_series_left_without_samples_and_a_later_sample_of_that_series_is_stored()
    {
        var backend = await StartAsync("""{ "retention": "1h" }""", _dir);
        await backend.WriteAsync(new MetricBatch("node-a", "system",
        [
            Scalar("proc.cpu", 1, Now.AddHours(-3), ("pid", "41")),
            Scalar("proc.cpu", 2, Now, ("pid", "42")),
        ]), CancellationToken.None);
        Assert.Equal(1L, backend.GetStatus()["series_deleted_by_retention"]);
        Assert.Equal(1L, await CountAsync("SELECT COUNT(*) FROM series"));

        // pid 41 comes back: its cached id belonged to the deleted row, so the write must insert the series again.
        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("proc.cpu", 3, Now.AddSeconds(1), ("pid", "41"))]), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        Assert.Equal([3.0], (await ReadAsync(backend.Options, Query("proc.cpu", null, null, null, ("pid", "41")))).Samples.Select(s => s.Value));
        Assert.Equal(0L, await CountAsync("SELECT COUNT(*) FROM samples WHERE series_id NOT IN (SELECT id FROM series)"));
    }

    [Fact]
    public async Task A_stop_during_retention_does_not_fail_the_write_that_was_committed()
    {
        using var stop = new CancellationTokenSource();
        var backend = new SqlBackend();
        // The store honours cancellation in retention (as PostgreSQL does); the stop arrives right after the commit.
        backend.StoreFactory = options => new CancelAfterCommitStore(SqlBackend.CreateStore(options), stop);
        await backend.InitializeAsync(new PluginContext("node-a", _dir, PluginConfig.Parse("""{ "retention": "1h" }""")), CancellationToken.None);
        await backend.StartAsync(CancellationToken.None);

        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 1, Now)]), stop.Token);
        await backend.StopAsync(CancellationToken.None);

        Assert.Equal(1L, backend.GetStatus()["batches_written"]);
        Assert.Equal(1L, backend.GetStatus()["retention_deferred"]);
        Assert.Single((await ReadAsync(backend.Options, Query("m"))).Samples);
    }

    [Fact]
    public async Task A_locked_database_is_retried_until_the_lock_goes_and_the_batch_is_stored_once()
    {
        var backend = await StartAsync("""{ "retry-for": "60s" }""", _dir);
        await using var other = new SqliteConnection($"Data Source={DbFile};Pooling=false;Default Timeout=1");
        await other.OpenAsync();
        var tx = other.BeginTransaction(); // BEGIN IMMEDIATE: holds the write lock
        var write = backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 1, Now)]), CancellationToken.None).AsTask();
        // The write cannot finish while the lock is held; it retries (each attempt waits 1 s for the lock), which status shows.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((long)backend.GetStatus()["write_retries"]! < 1 && !write.IsCompleted && DateTime.UtcNow < deadline) await Task.Delay(50);
        var retried = (long)backend.GetStatus()["write_retries"]!;
        var finishedEarly = write.IsCompleted;
        tx.Rollback();
        tx.Dispose();
        Assert.False(finishedEarly, "the write completed while another connection held the write lock");
        Assert.True(retried >= 1, "the write did not retry within 30s while the lock was held");
        await write;
        await backend.StopAsync(CancellationToken.None);

        var status = backend.GetStatus();
        Assert.True((long)status["write_retries"]! >= 1);
        Assert.Contains("locked", (string)status["last_error"]!);
        Assert.Contains(DbFile, (string)status["last_error"]!);
        Assert.Single((await ReadAsync(backend.Options, Query("m"))).Samples);
    }

    [Fact]
    public async Task A_lock_held_past_retry_for_fails_the_write_with_a_clear_error_and_stores_nothing()
    {
        var backend = await StartAsync("""{ "retry-for": "1s" }""", _dir);
        await using var other = new SqliteConnection($"Data Source={DbFile};Pooling=false");
        await other.OpenAsync();
        using (other.BeginTransaction())
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 1, Now)]), CancellationToken.None).AsTask());
            Assert.Contains("not stored", error.Message);
            Assert.Contains("locked", error.Message);
        }
        Assert.Equal(1L, backend.GetStatus()["batches_failed"]);
        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 2, Now)]), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);
        Assert.Equal([2.0], (await ReadAsync(backend.Options, Query("m"))).Samples.Select(s => s.Value));
    }

    [Fact]
    public async Task An_unopenable_path_fails_start_naming_the_file()
    {
        var blocker = Path.Combine(_dir, "a-file");
        await File.WriteAllTextAsync(blocker, "not a folder");
        var backend = new SqlBackend();
        var path = Path.Combine(blocker, "metrics.db");
        await backend.InitializeAsync(new PluginContext("node-a", _dir, PluginConfig.Parse($$"""{ "path": {{System.Text.Json.JsonSerializer.Serialize(path)}} }""")), CancellationToken.None);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => backend.StartAsync(CancellationToken.None).AsTask());
        Assert.Contains(blocker, error.Message);
    }

    [Fact]
    public async Task A_query_of_a_store_not_created_yet_is_empty_and_creates_nothing()
    {
        var options = SqlStoreOptions.From(PluginConfig.Empty, _dir);
        Assert.Empty((await ReadAsync(options, Query("m"))).Samples);
        Assert.False(File.Exists(DbFile));
    }

    [Theory]
    [InlineData("""{ "provider": "oracle" }""", "provider")]
    [InlineData("""{ "provider": "postgres" }""", "connection-string")]
    [InlineData("""{ "retention": "soon" }""", "retention")]
    [InlineData("""{ "schema": "x; DROP TABLE y" }""", "schema")]
    [InlineData("""{ "schema": "Upper" }""", "schema")]
    [InlineData("""{ "schema": "a234567890123456789012345678901234567890123456789012345678901234" }""", "schema")]
    public void Bad_config_names_the_key(string json, string key)
    {
        var error = Assert.Throws<FormatException>(() => SqlStoreOptions.From(PluginConfig.Parse(json), _dir, _ => null));
        Assert.Contains($"'{key}'", error.Message);
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var db = new SqliteConnection($"Data Source={DbFile};Pooling=false");
        await db.OpenAsync();
        await using var count = db.CreateCommand();
        count.CommandText = sql;
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>A store that cancels the write's token as soon as a batch is committed, and whose retention honours cancellation.</summary>
    private sealed class CancelAfterCommitStore(IMetricStore inner, CancellationTokenSource stop) : IMetricStore
    {
        public Task<int> OpenAsync(bool readOnly, CancellationToken cancellationToken) => inner.OpenAsync(readOnly, cancellationToken);

        public async Task WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
        {
            await inner.WriteAsync(batch, cancellationToken);
            await stop.CancelAsync();
        }

        public Task ResetAsync() => inner.ResetAsync();

        public Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return inner.DeleteOlderThanAsync(cutoff, limit, cancellationToken);
        }

        public Task<int> DeleteEmptySeriesAsync(int limit, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return inner.DeleteEmptySeriesAsync(limit, cancellationToken);
        }

        public Task<IReadOnlyList<StoredSeries>> FindSeriesAsync(string metric, string? node, CancellationToken cancellationToken) => inner.FindSeriesAsync(metric, node, cancellationToken);

        public Task<IReadOnlyList<(long SeriesId, DateTimeOffset Timestamp, double Value, long? Step, string? Text)>> ReadSamplesAsync(
            IReadOnlyCollection<long> seriesIds, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken) =>
            inner.ReadSamplesAsync(seriesIds, from, to, limit, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
