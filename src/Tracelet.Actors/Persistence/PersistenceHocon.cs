using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Tracelet.Actors.Configuration;

namespace Tracelet.Actors.Persistence;

/// <summary>
/// Builds the akka.persistence section for Akka.Persistence.Sql from <see cref="PersistenceSettings"/>:
/// the embedded SQLite file (in WAL mode, one writer) or a shared PostgreSQL database.
/// </summary>
public static class PersistenceHocon
{
    /// <summary>The persistence configuration; for SQLite it also creates the data directory and switches the file to WAL.</summary>
    public static Config Create(TraceletSettings settings)
    {
        var p = settings.Persistence;
        string provider, connection, mapping, extra;
        if (p.Provider == PersistenceProvider.Sqlite)
        {
            Directory.CreateDirectory(settings.DataDirectory);
            EnableWal(settings.SqliteFile);
            provider = "SQLite.MS";
            connection = $"Data Source={settings.SqliteFile}";
            mapping = "sqlite";
            // SQLite has one writer even in WAL mode: more parallelism only queues on its lock.
            extra = "parallelism = 1";
        }
        else
        {
            provider = "PostgreSQL15";
            connection = p.ConnectionString;
            mapping = "postgresql";
            extra = $"schema-name = {TraceletConfigLoader.Quote(p.Schema)}";
        }
        var cs = TraceletConfigLoader.Quote(connection);
        return ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
                  connection-string = {{cs}}
                  provider-name = "{{provider}}"
                  table-mapping = {{mapping}}
                  auto-initialize = on
                  {{extra}}
                }
              }
              query.journal.sql {
                connection-string = {{cs}}
                provider-name = "{{provider}}"
                table-mapping = {{mapping}}
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql {
                  class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
                  connection-string = {{cs}}
                  provider-name = "{{provider}}"
                  table-mapping = {{mapping}}
                  auto-initialize = on
                }
              }
            }
            """);
    }

    /// <summary>
    /// WAL is a property of the database file, not of a connection string: set it once before
    /// Akka opens the file. WAL makes each persisted event several times cheaper (measured in the recovery benchmark, docs/benchmarks.md).
    /// </summary>
    public static void EnableWal(string file)
    {
        using var connection = new SqliteConnection($"Data Source={file}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        var mode = command.ExecuteScalar() as string;
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"{file}: SQLite refused WAL mode (got '{mode}'); is the file on a network file system?");
    }
}
