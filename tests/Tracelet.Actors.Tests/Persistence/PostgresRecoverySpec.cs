using Npgsql;
using Tracelet.Actors.Configuration;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Persistence;

/// <summary>
/// Recovery after a crash with the journal in PostgreSQL, the cluster setup. Needs a server:
/// <c>.ci/start-postgres.sh</c> starts one; TRACELET_TEST_POSTGRES points elsewhere. Each run gets a
/// fresh database with a random name, dropped afterwards.
/// </summary>
[Trait("Category", "Postgres")]
public sealed class PostgresRecoverySpec : RecoverySpecBase
{
    public const string ConnectionVariable = "TRACELET_TEST_POSTGRES";
    public const string DefaultConnection = "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

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

    /// <summary>A database of its own for one test, on the server TRACELET_TEST_POSTGRES names.</summary>
    private sealed class TestDatabase
    {
        private readonly string _admin;
        private bool _created;

        public TestDatabase()
        {
            var configured = Environment.GetEnvironmentVariable(ConnectionVariable);
            var admin = new NpgsqlConnectionStringBuilder(string.IsNullOrWhiteSpace(configured) ? DefaultConnection : configured) { Timeout = 5 };
            _admin = admin.ConnectionString;
            Name = $"tracelet_test_{Guid.NewGuid():N}";
            ConnectionString = new NpgsqlConnectionStringBuilder(_admin) { Database = Name }.ConnectionString;
            Server = $"{admin.Host}:{admin.Port} as {admin.Username}";
        }

        public string Name { get; }

        public string ConnectionString { get; }

        private string Server { get; }

        public async Task CreateAsync()
        {
            try
            {
                await using var connection = new NpgsqlConnection(_admin);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"CREATE DATABASE \"{Name}\"", connection);
                await command.ExecuteNonQueryAsync();
                _created = true;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                Assert.Fail(
                    $"PostgreSQL is needed for this test and cannot be used at {Server}: {e.GetType().Name}: {e.Message}. " +
                    $"Start a local server with `.ci/start-postgres.sh` (PostgreSQL on 127.0.0.1:5432, user postgres, password postgres), " +
                    $"or set {ConnectionVariable} to an Npgsql connection string for a server where this user may create databases.");
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
            using var connection = new NpgsqlConnection(_admin);
            connection.Open();
            // FORCE: the journal's pooled connections may still be open.
            using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
            command.ExecuteNonQuery();
        }
    }
}
