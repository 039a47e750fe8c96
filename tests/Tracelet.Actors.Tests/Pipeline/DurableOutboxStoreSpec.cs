using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;
using Xunit;

namespace Tracelet.Actors.Tests.Pipeline;

/// <summary>The durable policy's on-disk queue, on a real SQLite file in a temporary directory.</summary>
public sealed class DurableOutboxStoreSpec : IDisposable
{
    private const string LinkA = "sql@node-b";
    private const string LinkB = "influx@node-c";

    private readonly string _directory;
    private readonly string _file;

    public DurableOutboxStoreSpec()
    {
        _directory = Path.Combine(Path.GetTempPath(), "tracelet-outbox-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _file = Path.Combine(_directory, "tracelet.db");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // A stand-in for the pipeline's binary serializer: JSON of the batch.
    private static byte[] Encode(MetricBatch batch) => JsonSerializer.SerializeToUtf8Bytes(batch);

    private static MetricBatch Decode(byte[] payload) => JsonSerializer.Deserialize<MetricBatch>(payload)!;

    private DurableOutboxStore Open(long maxBytes = 64L << 20) => new(_file, Encode, Decode, maxBytes);

    private static MetricBatch Batch(string tag, int samples)
    {
        var start = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var items = Enumerable.Range(0, samples)
            .Select(i => new MetricSample(
                $"{tag}.metric", MetricType.System, i + 0.5, start.AddSeconds(i), "counter", i,
                ImmutableArray.Create(new MetricLabel("node", "node-a")), Text: null))
            .ToImmutableArray();
        return new MetricBatch("node-a", tag, items);
    }

    private static void AssertBatch(MetricBatch expected, MetricBatch actual)
    {
        Assert.Equal(expected.SourceNode, actual.SourceNode);
        Assert.Equal(expected.Source, actual.Source);
        Assert.Equal(expected.Samples.Length, actual.Samples.Length);
        for (var i = 0; i < expected.Samples.Length; i++)
        {
            var (e, a) = (expected.Samples[i], actual.Samples[i]);
            Assert.Equal((e.Name, e.Type, e.Value, e.Timestamp, e.Source, e.Step, e.Text), (a.Name, a.Type, a.Value, a.Timestamp, a.Source, a.Step, a.Text));
            Assert.Equal(e.Labels.ToArray(), a.Labels.ToArray());
        }
    }

    [Fact]
    public void Sequences_increase_and_continue_after_reopen_even_when_all_were_deleted()
    {
        using (var store = Open())
        {
            Assert.Equal(1, store.Append(LinkA, Batch("a", 3), 3));
            Assert.Equal(2, store.Append(LinkA, Batch("b", 3), 3));
            Assert.Equal([3L, 4L, 5L], store.AppendAll(LinkA, [(Batch("c", 1), 1), (Batch("d", 1), 1), (Batch("e", 1), 1)]));
            store.DeleteThrough(LinkA, 5);
            Assert.Equal((0, 0, 0), store.Pending(LinkA));
            Assert.Empty(store.Links());
            Assert.Equal(6, store.Append(LinkA, Batch("f", 1), 1));
            store.DeleteThrough(LinkA, 6);
        }

        using (var store = Open())
        {
            Assert.Empty(store.Links());
            Assert.Equal(0, store.TotalBytes);
            Assert.Equal(7, store.Append(LinkA, Batch("g", 1), 1));
            Assert.Equal([8L, 9L], store.AppendAll(LinkA, [(Batch("h", 1), 1), (Batch("i", 1), 1)]));
            Assert.Empty(store.AppendAll(LinkA, []));
        }
    }

    [Fact]
    public void Read_returns_batches_in_order_after_a_sequence_and_respects_max_samples()
    {
        using var store = Open();
        var batches = Enumerable.Range(1, 6).Select(i => Batch($"b{i}", 10)).ToArray();
        foreach (var batch in batches) store.Append(LinkA, batch, 10);

        var all = store.Read(LinkA, 0, int.MaxValue);
        Assert.Equal([1L, 2, 3, 4, 5, 6], all.Select(b => b.Sequence));
        for (var i = 0; i < 6; i++)
        {
            AssertBatch(batches[i], all[i].Batch);
            Assert.Equal(10, all[i].Samples);
            Assert.Equal(Encode(batches[i]).LongLength, all[i].Bytes);
        }

        // After a given sequence, as many whole batches as fit.
        Assert.Equal([3L, 4], store.Read(LinkA, 2, 25).Select(b => b.Sequence));
        Assert.Equal([3L, 4, 5], store.Read(LinkA, 2, 30).Select(b => b.Sequence));
        // At least one, even when it alone exceeds maxSamples.
        Assert.Equal([4L], store.Read(LinkA, 3, 5).Select(b => b.Sequence));
        Assert.Equal([6L], store.Read(LinkA, 5, 1).Select(b => b.Sequence));
        Assert.Empty(store.Read(LinkA, 6, 100));
        Assert.Empty(store.Read("nobody@node-x", 0, 100));
    }

    [Fact]
    public void DeleteThrough_removes_every_batch_up_to_and_including_the_sequence()
    {
        using var store = Open();
        for (var i = 1; i <= 5; i++) store.Append(LinkA, Batch($"b{i}", i), i);
        var bytesBefore = store.TotalBytes;

        store.DeleteThrough(LinkA, 3);
        Assert.Equal([4L, 5], store.Read(LinkA, 0, 100).Select(b => b.Sequence));
        var (batches, samples, bytes) = store.Pending(LinkA);
        Assert.Equal((2L, 9L), (batches, samples));
        Assert.Equal(store.Read(LinkA, 0, 100).Sum(b => b.Bytes), bytes);
        Assert.Equal(bytes, store.TotalBytes);
        Assert.True(store.TotalBytes < bytesBefore);

        // Already deleted, or nothing there: no effect.
        store.DeleteThrough(LinkA, 2);
        store.DeleteThrough(LinkB, 100);
        Assert.Equal(2, store.Pending(LinkA).Batches);

        store.DeleteThrough(LinkA, long.MaxValue);
        Assert.Equal((0, 0, 0), store.Pending(LinkA));
        Assert.Equal(0, store.TotalBytes);
        Assert.Empty(store.Read(LinkA, 0, 100));
    }

    [Fact]
    public void Two_links_are_independent()
    {
        using var store = Open();
        Assert.Equal(1, store.Append(LinkA, Batch("a1", 2), 2));
        Assert.Equal(1, store.Append(LinkB, Batch("b1", 3), 3));
        Assert.Equal(2, store.Append(LinkA, Batch("a2", 2), 2));
        Assert.Equal([2L, 3L], store.AppendAll(LinkB, [(Batch("b2", 3), 3), (Batch("b3", 3), 3)]));

        Assert.Equal(["a1", "a2"], store.Read(LinkA, 0, 100).Select(b => b.Batch.Source));
        Assert.Equal(["b1", "b2", "b3"], store.Read(LinkB, 0, 100).Select(b => b.Batch.Source));
        Assert.Equal([LinkB, LinkA], store.Links()); // ordinal order

        store.DeleteThrough(LinkA, 2);
        Assert.Equal((0L, 0L), (store.Pending(LinkA).Batches, store.Pending(LinkA).Samples));
        Assert.Equal((3L, 9L), (store.Pending(LinkB).Batches, store.Pending(LinkB).Samples));
        Assert.Equal([LinkB], store.Links());
        Assert.Equal(3, store.Append(LinkA, Batch("a3", 2), 2));
        Assert.Equal(4, store.Append(LinkB, Batch("b4", 3), 3));
    }

    [Fact]
    public void Contents_survive_reopening_the_file()
    {
        var a = Enumerable.Range(1, 20).Select(i => Batch($"a{i}", 100)).ToArray();
        var b = Enumerable.Range(1, 3).Select(i => Batch($"b{i}", 7)).ToArray();
        (long Batches, long Samples, long Bytes) pendingA, pendingB;
        long total;
        using (var store = Open())
        {
            store.AppendAll(LinkA, a.Select(x => (x, 100)).ToArray());
            foreach (var x in b) store.Append(LinkB, x, 7);
            store.DeleteThrough(LinkA, 5);
            (pendingA, pendingB, total) = (store.Pending(LinkA), store.Pending(LinkB), store.TotalBytes);
        }

        using (var store = Open())
        {
            Assert.Equal([LinkB, LinkA], store.Links());
            Assert.Equal(pendingA, store.Pending(LinkA));
            Assert.Equal(pendingB, store.Pending(LinkB));
            Assert.Equal((15L, 1500L), (pendingA.Batches, pendingA.Samples));
            Assert.Equal(total, store.TotalBytes);

            var readA = store.Read(LinkA, 0, int.MaxValue);
            Assert.Equal(Enumerable.Range(6, 15).Select(i => (long)i), readA.Select(x => x.Sequence));
            for (var i = 0; i < readA.Count; i++) AssertBatch(a[i + 5], readA[i].Batch);
            var readB = store.Read(LinkB, 0, int.MaxValue);
            for (var i = 0; i < readB.Count; i++) AssertBatch(b[i], readB[i].Batch);
            Assert.Equal(21, store.Append(LinkA, Batch("a21", 1), 1));
        }
    }

    [Fact]
    public void The_bound_refuses_an_append_that_would_exceed_it_and_stores_nothing()
    {
        var batch = Batch("x", 10);
        var size = Encode(batch).LongLength;
        var bound = size * 3 + size / 2; // room for three

        using var store = Open(bound);
        store.AppendAll(LinkA, [(batch, 10), (batch, 10)]);
        store.Append(LinkB, batch, 10);

        var full = Assert.Throws<DurableStoreFullException>(() => store.Append(LinkA, batch, 10));
        Assert.Contains(bound.ToString(), full.Message);
        Assert.Contains(_file, full.Message);
        Assert.Contains((size * 3).ToString(), full.Message);
        Assert.Equal((bound, size * 3, size), (full.MaxBytes, full.CurrentBytes, full.RequestedBytes));
        Assert.Equal(_file, full.File);
        Assert.IsAssignableFrom<DurableStoreException>(full);

        // All or nothing: a transaction that does not fit stores none of its batches.
        store.DeleteThrough(LinkB, 1);
        Assert.Throws<DurableStoreFullException>(() => store.AppendAll(LinkA, [(batch, 10), (batch, 10)]));
        Assert.Equal(2, store.Pending(LinkA).Batches);

        // Acknowledged batches make room; the refused appends used no sequence number.
        Assert.Equal(3, store.Append(LinkA, batch, 10));
        Assert.Equal(size * 3, store.TotalBytes);
    }

    [Fact]
    public void A_full_disk_gives_a_DurableStoreException_naming_the_file_and_stores_nothing()
    {
        using var store = Open();
        store.Append(LinkA, Batch("before", 1), 1);
        // The file may not grow past its current page count: the next new page fails with SQLITE_FULL,
        // as a full disk does.
        store.ExecuteForTests("PRAGMA max_page_count = 1;");

        var big = Batch("big", 2000); // a few hundred KiB: needs new pages
        var error = Assert.Throws<DurableStoreException>(() => store.Append(LinkA, big, 2000));
        Assert.IsNotType<DurableStoreFullException>(error);
        Assert.Contains(_file, error.Message);
        Assert.Contains("full", error.Message);
        Assert.Equal(13, error.SqliteErrorCode); // SQLITE_FULL
        Assert.IsType<SqliteException>(error.InnerException);
        Assert.Equal(1, store.Pending(LinkA).Batches);

        // Once there is room again the store goes on, without a gap in the sequence.
        store.ExecuteForTests("PRAGMA max_page_count = 1073741823;");
        Assert.Equal(2, store.Append(LinkA, big, 2000));
        Assert.Equal([1L, 2], store.Read(LinkA, 0, int.MaxValue).Select(b => b.Sequence));
    }

    [Fact]
    public void A_read_only_database_gives_a_DurableStoreException_naming_the_file()
    {
        // chmod does not stop root (CI runs tests as root): query_only makes SQLite refuse every
        // write with SQLITE_READONLY, as a read-only file does.
        using var store = Open();
        store.Append(LinkA, Batch("a", 1), 1);
        store.ExecuteForTests("PRAGMA query_only = ON;");

        var append = Assert.Throws<DurableStoreException>(() => store.Append(LinkA, Batch("b", 1), 1));
        Assert.Contains(_file, append.Message);
        Assert.Contains("read-only", append.Message);
        Assert.Equal(8, append.SqliteErrorCode); // SQLITE_READONLY

        var delete = Assert.Throws<DurableStoreException>(() => store.DeleteThrough(LinkA, 1));
        Assert.Contains(_file, delete.Message);
        Assert.Equal(1, store.Pending(LinkA).Batches);
        Assert.Single(store.Read(LinkA, 0, 100)); // reading still works
    }

    [Fact]
    public void A_file_that_cannot_be_opened_gives_a_DurableStoreException_naming_the_file()
    {
        // A directory where the file should be: SQLITE_CANTOPEN, also for root.
        var path = Path.Combine(_directory, "not-a-file.db");
        Directory.CreateDirectory(path);
        var open = Assert.Throws<DurableStoreException>(() => new DurableOutboxStore(path, Encode, Decode, 1 << 20));
        Assert.Contains(path, open.Message);
        Assert.Equal(path, open.File);

        // A file that is not a database: SQLITE_NOTADB.
        var garbage = Path.Combine(_directory, "garbage.db");
        File.WriteAllBytes(garbage, Enumerable.Repeat((byte)0x5A, 8192).ToArray());
        var notADb = Assert.Throws<DurableStoreException>(() => new DurableOutboxStore(garbage, Encode, Decode, 1 << 20));
        Assert.Contains(garbage, notADb.Message);
        Assert.Equal(26, notADb.SqliteErrorCode);
    }

    [Fact]
    public async Task Shares_the_journal_file_and_waits_for_another_writer()
    {
        // The node's journal lives in the same file, with its own tables and connections.
        using var other = new SqliteConnection($"Data Source={_file};Pooling=False");
        other.Open();
        using (var create = other.CreateCommand())
        {
            create.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE event_journal(ordering INTEGER PRIMARY KEY, payload BLOB);";
            create.ExecuteNonQuery();
        }

        using var store = Open();
        store.Append(LinkA, Batch("a", 1), 1);

        // The journal holds the write lock for a moment: the append waits for it instead of failing.
        var transaction = other.BeginTransaction();
        using (var insert = other.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO event_journal(payload) VALUES (x'01');";
            insert.ExecuteNonQuery();
        }
        var release = Task.Run(async () =>
        {
            await Task.Delay(300);
            transaction.Commit();
            transaction.Dispose();
        });
        var waited = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(2, store.Append(LinkA, Batch("b", 1), 1));
        waited.Stop();
        await release;
        Assert.True(waited.ElapsedMilliseconds >= 250, $"the append did not wait for the other writer ({waited.ElapsedMilliseconds} ms)");

        using var count = other.CreateCommand();
        count.CommandText = "SELECT (SELECT count(*) FROM event_journal), (SELECT count(*) FROM pipeline_outbox);";
        using var reader = count.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal((1L, 2L), (reader.GetInt64(0), reader.GetInt64(1)));
    }

    [Fact]
    public void A_batch_that_cannot_be_decoded_is_reported_with_its_sequence_and_can_be_deleted()
    {
        using (var store = Open())
            store.AppendAll(LinkA, [(Batch("a", 1), 1), (Batch("b", 1), 1)]);

        var throwing = new DurableOutboxStore(_file, Encode, payload =>
        {
            var batch = Decode(payload);
            return batch.Source == "a" ? throw new InvalidDataException("bad payload") : batch;
        }, 1 << 20);
        using (throwing)
        {
            var error = Assert.Throws<DurableBatchDecodeException>(() => throwing.Read(LinkA, 0, 100));
            Assert.Equal((LinkA, 1L), (error.Link, error.Sequence));
            Assert.Contains(_file, error.Message);
            throwing.DeleteThrough(LinkA, error.Sequence);
            Assert.Equal([2L], throwing.Read(LinkA, 0, 100).Select(b => b.Sequence));
        }
    }

    [Fact]
    public void A_disposed_store_refuses_calls()
    {
        var store = Open();
        store.Dispose();
        store.Dispose();
        Assert.Throws<ObjectDisposedException>(() => store.Append(LinkA, Batch("a", 1), 1));
        Assert.Throws<ObjectDisposedException>(() => store.Links());
    }
}
