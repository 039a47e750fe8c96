using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Tracelet.Actors.Tests;

/// <summary>A row of Akka.Persistence.Sql's event_journal or snapshot table, as stored.</summary>
internal sealed record StoredRow(string PersistenceId, long SequenceNr, string? Manifest, long? SerializerId, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);

    public JsonElement Json => JsonDocument.Parse(Payload).RootElement.Clone();
}

/// <summary>Reads a node's SQLite journal directly, the way an operator with the sqlite3 shell would.</summary>
internal static class SqliteJournal
{
    // Akka.Persistence.Sql's "sqlite" table mapping.
    public const string EventTable = "event_journal";
    public const string SnapshotTable = "snapshot";

    public static IReadOnlyList<string> Columns(string file, string table)
    {
        using var connection = Open(file);
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA table_info({table})";
        using var reader = command.ExecuteReader();
        var columns = new List<string>();
        while (reader.Read()) columns.Add(reader.GetString(reader.GetOrdinal("name")));
        return columns;
    }

    public static IReadOnlyList<StoredRow> Events(string file) => Rows(file, EventTable);

    public static IReadOnlyList<StoredRow> Snapshots(string file) => Rows(file, SnapshotTable);

    /// <summary>Deletes journal rows below a sequence number, as if an old journal had been pruned.</summary>
    public static int DeleteEventsBelow(string file, string persistenceId, long sequenceNr)
    {
        using var connection = Open(file);
        using var command = connection.CreateCommand();
        command.CommandText = $"DELETE FROM {EventTable} WHERE persistence_id = $id AND sequence_nr < $seq";
        command.Parameters.AddWithValue("$id", persistenceId);
        command.Parameters.AddWithValue("$seq", sequenceNr);
        return command.ExecuteNonQuery();
    }

    private static List<StoredRow> Rows(string file, string table)
    {
        using var connection = Open(file);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT persistence_id, sequence_nr, manifest, serializer_id, payload FROM {table} ORDER BY persistence_id, sequence_nr";
        using var reader = command.ExecuteReader();
        var rows = new List<StoredRow>();
        while (reader.Read())
        {
            rows.Add(new StoredRow(
                reader.GetString(0),
                reader.GetInt64(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt64(3),
                (byte[])reader.GetValue(4)));
        }
        return rows;
    }

    private static SqliteConnection Open(string file)
    {
        // No pooling: a test must not keep the node's file open after it has looked.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }
}
