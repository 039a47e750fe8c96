using System.Net;
using System.Net.Sockets;
using Npgsql;
using Tracelet.Abstractions;
using Tracelet.Backends.Sql;
using Tracelet.Testing;
using Xunit;
using static Tracelet.Backends.Tests.Sql.SqlTestData;

namespace Tracelet.Backends.Tests.Sql;

/// <summary>
/// The sql backend on a real PostgreSQL (<see cref="TestPostgres"/>: 127.0.0.1:5432 as
/// <c>./test.sh</c> starts it, or $TRACELET_TEST_POSTGRES). Each test uses its own schema and
/// drops it afterwards.
/// </summary>
[Trait("Category", "Postgres")]
public sealed class PostgresSqlBackendSpec : IAsyncLifetime
{
    private readonly string _schema = $"tracelet_spec_{Guid.NewGuid():N}";
    private readonly string _dir = Directory.CreateTempSubdirectory("tracelet-sql-pg-spec-").FullName;
    private bool _serverUp;

    private static string ConnectionString => TestPostgres.ConnectionString;

    private string Config(string extra = "") =>
        $$"""{ "provider": "postgres", "connection-string": {{System.Text.Json.JsonSerializer.Serialize(ConnectionString)}}, "schema": "{{_schema}}"{{extra}} }""";

    public async Task InitializeAsync()
    {
        await TestPostgres.RequireAsync();
        _serverUp = true;
    }

    public async Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        // Without a server the test has failed with the message that says so; nothing to drop.
        if (!_serverUp) return;
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {_schema} CASCADE", db);
        await drop.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Samples_read_back_exactly_with_NaN_infinities_text_steps_and_labels_with_newlines()
    {
        var backend = await StartAsync(Config(), _dir);
        var samples = Awkward(Now);
        await backend.WriteAsync(new MetricBatch("node-a", "trainer", samples), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        Assert.Equal(SchemaMigrations.Latest, backend.GetStatus()["schema_version"]);
        Assert.Contains("127.0.0.1", (string)backend.GetStatus()["target"]!);
        Assert.DoesNotContain("Password", (string)backend.GetStatus()["target"]!, StringComparison.OrdinalIgnoreCase);
        AssertSame(samples, "node-a", await ReadAsync(backend.Options, Query("train.loss")));
    }

    [Fact]
    public async Task Two_nodes_share_one_database_and_queries_select_node_range_and_labels()
    {
        var a = await StartAsync(Config(), _dir, "node-a");
        var b = await StartAsync(Config(), _dir, "node-b");
        await a.WriteAsync(new MetricBatch("node-a", "system", [Scalar("cpu", 1, Now.AddMinutes(-30), ("core", "0")), Scalar("cpu", 2, Now.AddMinutes(-10), ("core", "0")), Scalar("cpu", 3, Now.AddMinutes(-10), ("core", "1"))]), CancellationToken.None);
        await b.WriteAsync(new MetricBatch("node-b", "system", [Scalar("cpu", 4, Now.AddMinutes(-10), ("core", "0"))]), CancellationToken.None);
        await a.StopAsync(CancellationToken.None);
        await b.StopAsync(CancellationToken.None);

        var options = a.Options;
        Assert.Equal([1.0, 2.0, 3.0, 4.0], (await ReadAsync(options, Query("cpu"))).Samples.Select(s => s.Value).Order());
        Assert.Equal([4.0], (await ReadAsync(options, Query("cpu", "node-b"))).Samples.Select(s => s.Value));
        Assert.Equal([2.0], (await ReadAsync(options, Query("cpu", "node-a", Now.AddMinutes(-20), null, ("core", "0")))).Samples.Select(s => s.Value));
        Assert.Empty((await ReadAsync(options, Query("no.such.metric"))).Samples);
    }

    [Fact]
    public async Task Retention_deletes_only_samples_older_than_the_setting()
    {
        var backend = await StartAsync(Config(""", "retention": "1h" """), _dir);
        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 1, Now.AddHours(-3)), Scalar("m", 2, Now.AddMinutes(-50)), Scalar("m", 3, Now)]), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);
        Assert.Equal([2.0, 3.0], (await ReadAsync(backend.Options, Query("m", from: Now.AddDays(-1)))).Samples.Select(s => s.Value));
    }

    [Fact]
    public async Task Retention_deletes_series_left_without_samples_and_a_later_sample_of_that_series_is_stored()
    {
        var backend = await StartAsync(Config(""", "retention": "1h" """), _dir);
        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("proc.cpu", 1, Now.AddHours(-3), ("pid", "41")), Scalar("proc.cpu", 2, Now, ("pid", "42"))]), CancellationToken.None);
        Assert.Equal(1L, backend.GetStatus()["series_deleted_by_retention"]);
        Assert.Equal(1L, await ScalarAsync($"SELECT COUNT(*) FROM {_schema}.series"));

        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("proc.cpu", 3, Now.AddSeconds(1), ("pid", "41"))]), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);
        Assert.Equal([3.0], (await ReadAsync(backend.Options, Query("proc.cpu", null, null, null, ("pid", "41")))).Samples.Select(s => s.Value));
    }

    [Fact]
    public async Task A_connection_killed_by_the_server_is_reconnected_and_the_next_batch_is_stored_once()
    {
        var app = $"tracelet-spec-{Guid.NewGuid():N}";
        var connection = new NpgsqlConnectionStringBuilder(ConnectionString) { ApplicationName = app }.ToString();
        var backend = await StartAsync($$"""{ "provider": "postgres", "connection-string": {{System.Text.Json.JsonSerializer.Serialize(connection)}}, "schema": "{{_schema}}" }""", _dir);
        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 1, Now)]), CancellationToken.None);

        Assert.Equal(1L, await ScalarAsync($"SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{app}'"));
        Assert.Equal(1L, await ScalarAsync($"SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}') t"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ScalarAsync($"SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{app}'") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the terminated server process did not go away within 30s");
            await Task.Delay(20);
        }

        await backend.WriteAsync(new MetricBatch("node-a", "system", [Scalar("m", 2, Now.AddSeconds(1))]), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        Assert.True((long)backend.GetStatus()["write_retries"]! >= 1, "the write on the killed connection was not retried");
        Assert.Equal([1.0, 2.0], (await ReadAsync(backend.Options, Query("m"))).Samples.Select(s => s.Value));
    }

    [Fact]
    public async Task A_newer_schema_version_is_refused()
    {
        await using (var db = new NpgsqlConnection(ConnectionString))
        {
            await db.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {_schema}; CREATE TABLE {_schema}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO {_schema}.schema_version (version) VALUES (42);", db);
            await create.ExecuteNonQueryAsync();
        }
        var backend = new SqlBackend();
        await backend.InitializeAsync(new PluginContext("node-a", _dir, PluginConfig.Parse(Config())), CancellationToken.None);
        var error = await Assert.ThrowsAsync<PluginPermanentException>(() => backend.StartAsync(CancellationToken.None).AsTask());
        Assert.Contains("schema version 42", error.Message);
    }

    [Fact]
    public async Task An_unreachable_server_fails_start_naming_the_host_and_port()
    {
        var port = FreePort();
        var backend = new SqlBackend();
        await backend.InitializeAsync(new PluginContext("node-a", _dir, PluginConfig.Parse(
            $$"""{ "provider": "postgres", "connection-string": "Host=127.0.0.1;Port={{port}};Username=u;Password=secret;Database=metrics;Timeout=2" }""")), CancellationToken.None);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => backend.StartAsync(CancellationToken.None).AsTask());
        Assert.Contains($"127.0.0.1:{port}/metrics", error.Message);
        Assert.Contains("unreachable", error.Message);
        Assert.DoesNotContain("secret", error.Message);
        Assert.Contains($"127.0.0.1:{port}", (string)backend.GetStatus()["last_error"]!);
    }

    private static async Task<long> ScalarAsync(string sql)
    {
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
