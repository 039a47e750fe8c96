using System.Text.Json;
using Tracelet.Actors.Plugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Persistence;

/// <summary>Recovery after a crash, on the node's real SQLite journal.</summary>
[Trait("Category", "Persistence")]
public sealed class RecoverySpec : RecoverySpecBase
{
    public RecoverySpec(ITestOutputHelper output) : base(TestNode.Create(), "recovery-spec", output)
    {
    }

    [Fact]
    public async Task Active_plugins_come_back_with_their_config_after_a_crash_and_stopped_ones_stay_stopped()
    {
        var first = await RunAndCrash(Node.Settings);

        await AssertRecovered(Node.Settings, first);
    }

    [Fact]
    public async Task The_journal_holds_our_manifests_and_no_CLR_type_names()
    {
        await RunAndCrash(Node.Settings);

        var columns = SqliteJournal.Columns(Node.SqliteFile, SqliteJournal.EventTable);
        Assert.Superset(new HashSet<string> { "persistence_id", "sequence_nr", "manifest", "serializer_id", "payload" }, columns.ToHashSet());
        var rows = SqliteJournal.Events(Node.SqliteFile);
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal(Node.Settings.PluginManagerPersistenceId, r.PersistenceId));
        Assert.Equal(Enumerable.Range(1, rows.Count).Select(i => (long)i), rows.Select(r => r.SequenceNr));
        Assert.Equal(["pc1", "pt1"], rows.Select(r => r.Manifest).Distinct().Order(StringComparer.Ordinal));
        Assert.All(rows, r =>
        {
            Assert.Equal(TraceletEventSerializer.SerializerId, r.SerializerId);
            Assert.DoesNotContain("Tracelet.Actors", r.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("Tracelet.Abstractions", r.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("PluginTransitioned", r.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("$type", r.Text, StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.Object, r.Json.ValueKind);
            Assert.Equal(Node.NodeId, r.Json.GetProperty("node").GetString());
        });
        var configured = rows.Where(r => r.Manifest == "pc1").Select(r => r.Json).Single(j => j.GetProperty("plugin").GetString() == Counter);
        Assert.Equal("""{"interval":"50ms","value":42,"label":"before-crash"}""", configured.GetProperty("config").GetString());
    }

    [Fact]
    public async Task Recovery_from_a_snapshot_brings_back_the_same_states()
    {
        var settings = Node.CreateSettings("tracelet.plugin-manager.snapshot-every = 2");
        var first = await RunAndCrash(settings);

        var snapshots = SqliteJournal.Snapshots(Node.SqliteFile);
        Assert.NotEmpty(snapshots);
        var latest = snapshots.MaxBy(s => s.SequenceNr)!;
        Assert.Equal(("ps1", (long?)TraceletEventSerializer.SerializerId), (latest.Manifest, latest.SerializerId));
        Assert.DoesNotContain("Tracelet.Actors", latest.Text, StringComparison.Ordinal);
        Assert.Contains(latest.Json.GetProperty("plugins").EnumerateArray(), p => p.GetProperty("name").GetString() == Counter);
        // Without the events before the snapshot, only the snapshot can bring those states back.
        Assert.True(SqliteJournal.DeleteEventsBelow(Node.SqliteFile, settings.PluginManagerPersistenceId, latest.SequenceNr) > 0);

        await AssertRecovered(settings, first);
    }
}
