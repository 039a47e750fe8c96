using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;
using RunCompleted = Tracelet.Bench.Recovery.JournalBenchActor.RunCompleted;

namespace Tracelet.Bench.Recovery;

/// <summary>
/// The journal half of the recovery benchmark: events/s through Akka.Persistence.Sql on the node's
/// SQLite file, against plain single-row INSERT transactions of the same row into a copy of the
/// same table, in WAL mode and in SQLite's default rollback-journal mode.
/// </summary>
internal static class JournalThroughput
{
    public const string EventsPerSecond = "journal.sqlite.events_per_s";
    public const string PersistAllEventsPerSecond = "journal.sqlite.persist_all_events_per_s";
    public const string RawInsertPerSecond = "journal.sqlite.raw_insert_per_s";
    public const string Ratio = "journal.sqlite.ratio";
    public const string PersistAllRatio = "journal.sqlite.persist_all_ratio";
    public const string RawInsertRollbackPerSecond = "journal.sqlite.raw_insert_rollback_per_s";
    public const string FirstPersistMs = "journal.sqlite.first_persist_ms";
    public const string ReplayEventsPerSecond = "journal.sqlite.replay_events_per_s";

    private const int PersistAllBatch = 100;
    private const string NodeId = "bench";

    public static async Task RunAsync(BenchContext context, TimeSpan duration)
    {
        var ct = context.Cancellation;
        var dataDir = context.CreateTempDirectory("journal");

        // Configured as the node configures itself: settings from reference.conf, then
        // TraceletRuntime.SystemConfig, which binds our serializer, switches tracelet.db to WAL and
        // sets the single-writer journal options.
        var nodeConfig = ConfigurationFactory.ParseString($"""
            tracelet.node-id = {NodeId}
            tracelet.data-dir = {TraceletConfigLoader.Quote(dataDir)}
            """).WithFallback(TraceletConfigLoader.ReferenceConfig());
        var settings = TraceletSettings.Create(nodeConfig);
        var config = TraceletRuntime.SystemConfig(settings, nodeConfig);
        var persistenceId = settings.PluginManagerPersistenceId;

        RunCompleted single, batched;
        JournalMapping mapping;
        byte[] payload;
        var system = ActorSystem.Create("tracelet-bench", config);
        try
        {
            var sample = JournalBenchActor.SampleEvent(NodeId);
            var serializer = system.Serialization.FindSerializerFor(sample);
            context.Check(serializer is TraceletEventSerializer, $"PluginTransitioned is bound to {serializer.GetType().Name}, not {nameof(TraceletEventSerializer)}");
            payload = serializer.ToBinary(sample);
            context.Log($"journal: {settings.SqliteFile}, event payload {payload.Length} bytes ({serializer.GetType().Name}, manifest pt1)");

            // The first write pays for the journal plugin's start and table creation, as the node's does.
            var clock = Stopwatch.StartNew();
            var writer = system.ActorOf(JournalBenchActor.Props(persistenceId, NodeId), "journal-bench");
            await Ask<RunCompleted>(writer, new JournalBenchActor.Run(TimeSpan.Zero, 1), ct);
            context.Figures.Report(FirstPersistMs, clock.Elapsed.TotalMilliseconds, "ms");
            mapping = JournalMapping.From(system.Settings.Config.WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration));

            await Ask<RunCompleted>(writer, new JournalBenchActor.Run(TimeSpan.FromSeconds(1), 1), ct); // JIT and connection pool warm-up
            single = await Ask<RunCompleted>(writer, new JournalBenchActor.Run(duration, 1), ct);
            context.Figures.Report(EventsPerSecond, single.PerSecond, "events/s");
            context.Log($"Persist: {single.Events} events in {single.Elapsed.TotalSeconds:0.00}s, one write each");

            batched = await Ask<RunCompleted>(writer, new JournalBenchActor.Run(duration / 2, PersistAllBatch), ct);
            context.Figures.Report(PersistAllEventsPerSecond, batched.PerSecond, "events/s");
            context.Log($"PersistAll: {batched.Events} events in {batched.Elapsed.TotalSeconds:0.00}s, {PersistAllBatch} per command");

            // Replay everything written so far into a fresh incarnation, as a node restart does.
            await writer.GracefulStop(TimeSpan.FromSeconds(10));
            clock.Restart();
            var reader = system.ActorOf(JournalBenchActor.Props(persistenceId, NodeId), "journal-bench-replay");
            var recovered = await Ask<JournalBenchActor.Recovered>(reader, JournalBenchActor.GetRecovered.Instance, ct);
            var replay = clock.Elapsed;
            context.Figures.Report(ReplayEventsPerSecond, recovered.Events / replay.TotalSeconds, "events/s");
            context.Log($"replay: {recovered.Events} events (last seq {recovered.LastSequenceNr}) in {replay.TotalMilliseconds:0} ms");
            context.Check(recovered.LastSequenceNr == recovered.Events, $"replayed {recovered.Events} events but the last sequence number is {recovered.LastSequenceNr}");
        }
        finally
        {
            await system.Terminate();
        }

        // The baseline: the same table (Akka's own DDL, copied from tracelet.db) and the same row
        // (the last one Akka wrote, with a new sequence number), one INSERT per transaction.
        var table = JournalTable.Read(settings.SqliteFile, mapping, persistenceId);
        context.Log($"journal row in {mapping.Table}: {table.RowBytes} bytes of values, columns {string.Join(", ", table.Columns)}");
        var raw = InsertRows(context.CreateTempDirectory("raw-wal"), "wal", table, duration, ct);
        context.Figures.Report(RawInsertPerSecond, raw.PerSecond, "rows/s");
        context.Figures.Ratio(Ratio, single.PerSecond, raw.PerSecond);
        context.Figures.Ratio(PersistAllRatio, batched.PerSecond, raw.PerSecond);
        var rollback = InsertRows(context.CreateTempDirectory("raw-rollback"), "delete", table, duration / 2, ct);
        context.Figures.Report(RawInsertRollbackPerSecond, rollback.PerSecond, "rows/s");
    }

    private static async Task<T> Ask<T>(IActorRef actor, object message, CancellationToken ct) =>
        await actor.Ask<T>(message, TimeSpan.FromSeconds(60), ct);

    private static RunCompleted InsertRows(string dir, string journalMode, JournalTable table, TimeSpan duration, CancellationToken ct)
    {
        var file = Path.Combine(dir, "raw.db");
        using var connection = new SqliteConnection($"Data Source={file}");
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = $"PRAGMA journal_mode={journalMode};";
            var mode = pragma.ExecuteScalar() as string;
            if (!string.Equals(mode, journalMode, StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException($"{file}: SQLite gave journal mode '{mode}', not '{journalMode}'");
        }
        foreach (var ddl in table.Ddl)
        {
            using var create = connection.CreateCommand();
            create.CommandText = ddl;
            create.ExecuteNonQuery();
        }

        using var insert = connection.CreateCommand();
        insert.CommandText = $"INSERT INTO {table.Name} ({string.Join(", ", table.Columns)}) VALUES ({string.Join(", ", table.Columns.Select((_, i) => $"$p{i}"))})";
        var parameters = table.Columns.Select((_, i) => insert.Parameters.AddWithValue($"$p{i}", table.Values[i])).ToArray();
        var sequence = parameters[table.SequenceColumn];
        insert.Prepare();

        long rows = 0;
        var clock = Stopwatch.StartNew();
        do
        {
            using var transaction = connection.BeginTransaction();
            insert.Transaction = transaction;
            sequence.Value = ++rows;
            insert.ExecuteNonQuery();
            transaction.Commit();
            if (rows % 64 == 0) ct.ThrowIfCancellationRequested();
        }
        while (clock.Elapsed < duration);
        return new RunCompleted(rows, clock.Elapsed);
    }

    /// <summary>The journal's table and key columns under the configured table-mapping.</summary>
    private sealed record JournalMapping(string Table, string PersistenceIdColumn, string SequenceColumn)
    {
        public static JournalMapping From(Config config)
        {
            const string Journal = "akka.persistence.journal.sql";
            var mapping = config.GetString($"{Journal}.table-mapping", "default");
            var table = $"{Journal}.{mapping}.journal";
            string Get(string key) => config.GetString($"{table}.{key}") is { Length: > 0 } value
                ? value
                : throw new InvalidOperationException($"{table}.{key} is not configured");
            return new JournalMapping(Get("table-name"), Get("columns.persistence-id"), Get("columns.sequence-number"));
        }
    }

    /// <summary>Akka's journal table as created in tracelet.db, and one of its rows.</summary>
    private sealed record JournalTable(string Name, IReadOnlyList<string> Ddl, IReadOnlyList<string> Columns, IReadOnlyList<object> Values, int SequenceColumn, int RowBytes)
    {
        public static JournalTable Read(string file, JournalMapping mapping, string persistenceId)
        {
            using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly");
            connection.Open();
            var ddl = new List<string>();
            using (var schema = connection.CreateCommand())
            {
                schema.CommandText = "SELECT sql FROM sqlite_master WHERE tbl_name = $table AND sql IS NOT NULL ORDER BY type = 'table' DESC";
                schema.Parameters.AddWithValue("$table", mapping.Table);
                using var r = schema.ExecuteReader();
                while (r.Read()) ddl.Add(r.GetString(0));
            }
            if (ddl.Count == 0) throw new InvalidOperationException($"{file} has no table {mapping.Table}");

            // A single INTEGER primary key is SQLite's rowid (Akka's `ordering`): SQLite assigns it.
            var columns = new List<(string Name, bool Pk, string Type)>();
            using (var info = connection.CreateCommand())
            {
                info.CommandText = $"PRAGMA table_info({mapping.Table})";
                using var r = info.ExecuteReader();
                while (r.Read()) columns.Add((r.GetString(1), r.GetInt32(5) > 0, r.GetString(2)));
            }
            var rowid = columns.Count(c => c.Pk) == 1 && columns.Single(c => c.Pk).Type.Equals("INTEGER", StringComparison.OrdinalIgnoreCase)
                ? columns.Single(c => c.Pk).Name
                : null;
            var names = columns.Select(c => c.Name).Where(n => n != rowid).ToList();

            using var select = connection.CreateCommand();
            select.CommandText = $"SELECT {string.Join(", ", names)} FROM {mapping.Table} WHERE {mapping.PersistenceIdColumn} = $id ORDER BY {mapping.SequenceColumn} DESC LIMIT 1";
            select.Parameters.AddWithValue("$id", persistenceId);
            using var reader = select.ExecuteReader();
            if (!reader.Read()) throw new InvalidOperationException($"{file}: no journal row for {persistenceId}");
            var values = names.Select((_, i) => reader.GetValue(i)).ToList();
            var bytes = values.Sum(v => v switch { byte[] b => b.Length, string s => System.Text.Encoding.UTF8.GetByteCount(s), DBNull => 0, _ => 8 });
            var sequence = names.IndexOf(mapping.SequenceColumn);
            if (sequence < 0) throw new InvalidOperationException($"{file}: {mapping.Table} has no column {mapping.SequenceColumn}");
            return new JournalTable(mapping.Table, ddl, names, values, sequence, bytes);
        }
    }
}
