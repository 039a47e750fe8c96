using Npgsql;
using Tracelet.Actors.Configuration;
using Tracelet.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Persistence;

/// <summary>
/// Recovery after a crash with the journal in PostgreSQL, the cluster setup. Needs the server of
/// <see cref="TestPostgres"/> (127.0.0.1:5432 as <c>./test.sh</c> starts it, or
/// TRACELET_TEST_POSTGRES). Each run gets a fresh database with a random name, dropped afterwards.
/// </summary>
[Trait("Category", "Postgres")]
public sealed class PostgresRecoverySpec : RecoverySpecBase
{
    private readonly TestDatabase _database;

    public PostgresRecoverySpec(ITestOutputHelper output) : this(new TestDatabase(), output)
    {
    }

    private PostgresRecoverySpec(TestDatabase database, ITestOutputHelper output)
        : base(TestNode.Create($$"""
            tracelet.persistence {
              provider = postgresql
              connection-string = {{TraceletConfigLoader.Quote(database.ConnectionString)}}
              schema = public
            }
            """), "postgres-recovery-spec", output)
    {
        _database = database;
    }

    [Fact]
    public async Task Active_plugins_come_back_with_their_config_after_a_crash_and_stopped_ones_stay_stopped()
    {
        await _database.CreateAsync();
        Assert.Equal(PersistenceProvider.PostgreSql, Node.Settings.Persistence.Provider);

        var first = await RunAndCrash(Node.Settings);

        var manifests = await _database.JournalManifestsAsync(Node.Settings.PluginManagerPersistenceId);
        Assert.Equal(["pc1", "pt1"], manifests);
        await AssertRecovered(Node.Settings, first);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _database.Drop();
    }

    /// <summary>A database of its own for one test, on the server of <see cref="TestPostgres"/>.</summary>
    private sealed class TestDatabase
    {
        private readonly NpgsqlConnectionStringBuilder _admin;
        private bool _created;

        public TestDatabase()
        {
            _admin = new NpgsqlConnectionStringBuilder(TestPostgres.ConnectionString) { Timeout = 5 };
            Name = $"tracelet_test_{Guid.NewGuid():N}";
            ConnectionString = new NpgsqlConnectionStringBuilder(_admin.ConnectionString) { Database = Name }.ConnectionString;
        }

        public string Name { get; }

        public string ConnectionString { get; }

        public async Task CreateAsync()
        {
            try
            {
                await using var connection = new NpgsqlConnection(_admin.ConnectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"CREATE DATABASE \"{Name}\"", connection);
                await command.ExecuteNonQueryAsync();
                _created = true;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                Assert.Fail(TestPostgres.Unavailable(_admin, e));
            }
        }

        public async Task<List<string>> JournalManifestsAsync(string persistenceId)
        {
            await using var connection = new NpgsqlConnection(ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT DISTINCT manifest FROM public.event_journal WHERE persistence_id = @id ORDER BY manifest", connection);
            command.Parameters.AddWithValue("id", persistenceId);
            await using var reader = await command.ExecuteReaderAsync();
            var manifests = new List<string>();
            while (await reader.ReadAsync()) manifests.Add(reader.GetString(0));
            return manifests;
        }

        public void Drop()
        {
            if (!_created) return;
            NpgsqlConnection.ClearAllPools();
            using var connection = new NpgsqlConnection(_admin.ConnectionString);
            connection.Open();
            // FORCE: the journal's pooled connections may still be open.
            using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
            command.ExecuteNonQuery();
        }
    }
}
