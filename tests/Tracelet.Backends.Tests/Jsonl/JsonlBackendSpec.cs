using System.Collections.Immutable;
using System.IO.Compression;
using System.Text.Json;
using Tracelet.Abstractions;
using Tracelet.Backends.Jsonl;
using Xunit;

namespace Tracelet.Backends.Tests.Jsonl;

public sealed class JsonlBackendSpec : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ManualTimeProvider _time = new(DateTimeOffset.UtcNow);

    public void Dispose() => _dir.Dispose();

    private string Dir => Path.Combine(_dir.Path, "jsonl");

    private async Task<JsonlBackend> Started(string config)
    {
        var backend = new JsonlBackend(_time);
        await backend.InitializeAsync(Samples.Context(_dir.Path, config), CancellationToken.None);
        await backend.StartAsync(CancellationToken.None);
        return backend;
    }

    private async Task WriteSequence(JsonlBackend backend, int batches, int perBatch)
    {
        for (var b = 0; b < batches; b++)
        {
            await backend.WriteAsync(Samples.Sequence(b * perBatch, perBatch), CancellationToken.None);
            _time.Advance(TimeSpan.FromMilliseconds(1));
        }
    }

    [Fact]
    public async Task Rotation_by_size_keeps_every_sample_exactly_once_and_in_order_across_gzipped_files()
    {
        var backend = await Started("""{ "max-file-size": "2KiB" }""");
        await WriteSequence(backend, 50, 10);
        await JsonlFiles.WaitUntil(() => JsonlFiles.Rotated(Dir).All(p => p.EndsWith(".gz", StringComparison.Ordinal)), "every rotated file is gzipped");
        await backend.StopAsync(CancellationToken.None);

        var rotated = JsonlFiles.Rotated(Dir);
        Assert.True(rotated.Length >= 5, $"expected several rotations, got {rotated.Length}");
        Assert.All(rotated, p => Assert.Matches(@"node-a-\d{8}T\d{9}Z\.jsonl\.gz$", p));
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (double)i), JsonlFiles.Values(Dir));
        // Each rotated file reached the size limit and exceeds it by less than one batch.
        foreach (var p in rotated)
        {
            var size = JsonlFiles.Lines(p).Sum(l => l.Length + 1);
            Assert.InRange(size, 2048, 2048 + 10 * 200);
        }
        Assert.Equal(rotated.Length, (long)backend.GetStatus()["rotations"]!);
    }

    [Fact]
    public async Task Rotation_by_age_starts_a_new_file_once_the_active_one_is_old_enough()
    {
        var backend = await Started("""{ "max-file-size": 0, "max-file-age": "1m", "gzip": false }""");
        await backend.WriteAsync(Samples.Sequence(0, 1), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(30));
        await backend.WriteAsync(Samples.Sequence(1, 1), CancellationToken.None);
        Assert.Empty(JsonlFiles.Rotated(Dir));
        _time.Advance(TimeSpan.FromSeconds(31));
        await backend.WriteAsync(Samples.Sequence(2, 1), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        var rotated = Assert.Single(JsonlFiles.Rotated(Dir));
        Assert.EndsWith(".jsonl", rotated, StringComparison.Ordinal);
        Assert.Equal(2, JsonlFiles.Lines(rotated).Count());
        Assert.Single(JsonlFiles.Lines(Path.Combine(Dir, "node-a.jsonl")));
        Assert.Equal([0.0, 1, 2], JsonlFiles.Values(Dir));
    }

    [Fact]
    public async Task Keep_deletes_the_oldest_rotated_files_beyond_the_limit()
    {
        var backend = await Started("""{ "max-file-size": 1000, "keep": 2 }""");
        await WriteSequence(backend, 40, 10);
        await JsonlFiles.WaitUntil(() => JsonlFiles.Rotated(Dir) is { Length: 2 } r && r.All(p => p.EndsWith(".gz", StringComparison.Ordinal)), "two gzipped files remain");
        var rotations = (long)backend.GetStatus()["rotations"]!;
        await backend.StopAsync(CancellationToken.None);

        Assert.True(rotations > 5, $"only {rotations} rotations");
        // What is left is the newest data, still in order and ending with the last sample.
        var values = JsonlFiles.Values(Dir);
        Assert.Equal(399, values[^1]);
        Assert.Equal(Enumerable.Range((int)values[0], values.Count).Select(i => (double)i), values);
    }

    [Fact]
    public async Task A_torn_last_line_from_a_crash_is_cut_off_and_the_next_record_starts_on_a_fresh_line()
    {
        Directory.CreateDirectory(Dir);
        var active = Path.Combine(Dir, "node-a.jsonl");
        const string torn = """{"name":"seq","val""";
        await File.WriteAllTextAsync(active, """{"name":"seq","value":0}""" + "\n" + torn);

        var backend = await Started("{}");
        await backend.WriteAsync(Samples.Sequence(1, 2), CancellationToken.None);
        var status = backend.GetStatus();
        await backend.StopAsync(CancellationToken.None);

        Assert.Equal([0.0, 1, 2], JsonlFiles.Values(Dir));
        Assert.Equal((long)torn.Length, status["torn_bytes_removed"]);
    }

    [Fact]
    public async Task A_restarted_backend_appends_to_the_existing_active_file()
    {
        var first = await Started("{}");
        await first.WriteAsync(Samples.Sequence(0, 3), CancellationToken.None);
        await first.StopAsync(CancellationToken.None);
        var second = await Started("{}");
        await second.WriteAsync(Samples.Sequence(3, 3), CancellationToken.None);
        await second.StopAsync(CancellationToken.None);

        Assert.Equal([0.0, 1, 2, 3, 4, 5], JsonlFiles.Values(Dir));
    }

    [Fact]
    public async Task NaN_infinity_and_labels_with_newlines_round_trip_through_a_JSON_parser()
    {
        var backend = await Started("{}");
        MetricLabel[] labels = [new("note", "line one\nline \"two\""), new("gpu", "0")];
        var batch = new MetricBatch("node-a", "experiment", [
            new MetricSample("loss", MetricType.Scalar, double.NaN, Samples.T0, "experiment", 7, [.. labels]),
            new MetricSample("grad", MetricType.Scalar, double.PositiveInfinity, Samples.T0, "experiment", 7),
            new MetricSample("grad", MetricType.Scalar, double.NegativeInfinity, Samples.T0, "experiment", 8),
            new MetricSample("log", MetricType.Text, double.NaN, Samples.T0, "experiment", Text: "a\nb\r\n\u0001"),
        ]);
        await backend.WriteAsync(batch, CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        var lines = JsonlFiles.Lines(Path.Combine(Dir, "node-a.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(4, lines.Count);
        Assert.Equal("NaN", lines[0].GetProperty("value").GetString());
        Assert.Equal("line one\nline \"two\"", lines[0].GetProperty("labels").GetProperty("note").GetString());
        Assert.Equal(7, lines[0].GetProperty("step").GetInt64());
        Assert.Equal("scalar", lines[0].GetProperty("type").GetString());
        Assert.Equal("Infinity", lines[1].GetProperty("value").GetString());
        Assert.Equal("-Infinity", lines[2].GetProperty("value").GetString());
        Assert.Equal("a\nb\r\n\u0001", lines[3].GetProperty("text").GetString());
        Assert.Equal(Samples.T0, lines[0].GetProperty("ts").GetDateTimeOffset());
    }

    [Fact]
    public async Task A_lone_surrogate_in_a_name_is_written_as_a_replacement_character_instead_of_failing_the_batch()
    {
        var backend = await Started("{}");
        var batch = new MetricBatch("node-a", "heartbeat", [
            new MetricSample("seq", MetricType.System, 0, Samples.T0, "heartbeat"),
            new MetricSample("bad\ud800name", MetricType.System, 1, Samples.T0, "heartbeat"),
        ]);
        await backend.WriteAsync(batch, CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        var lines = JsonlFiles.Lines(Path.Combine(Dir, "node-a.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal("bad\ufffdname", lines[1].GetProperty("name").GetString());
        Assert.Equal([0.0, 1], JsonlFiles.Values(Dir));
    }

    [Fact]
    public async Task A_full_disk_fails_the_write_with_the_cause_and_the_path_so_the_batch_stays_unacknowledged()
    {
        // /dev/full answers every write with ENOSPC: the kernel's own "disk full", without root or a tiny file system.
        Assert.True(File.Exists("/dev/full"), "this test needs /dev/full (Linux) to produce a real ENOSPC");
        Directory.CreateDirectory(Dir);
        var active = Path.Combine(Dir, "node-a.jsonl");
        File.CreateSymbolicLink(active, "/dev/full");
        var backend = await Started("""{ "max-file-size": 0 }""");

        var error = await Assert.ThrowsAsync<IOException>(() => backend.WriteAsync(Samples.Sequence(0, 5), CancellationToken.None).AsTask());
        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.Contains(active, error.Message, StringComparison.Ordinal);
        var status = backend.GetStatus();
        Assert.Equal(0L, status["samples_written"]);
        Assert.Equal(1L, status["write_failures"]);
        Assert.Contains("No space left on device", (string)status["last_error"]!, StringComparison.Ordinal);

        // Space comes back (the link now points to a real file): the retried batch is written once.
        File.Delete(active);
        await backend.WriteAsync(Samples.Sequence(0, 5), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);
        Assert.Equal([0.0, 1, 2, 3, 4], JsonlFiles.Values(Dir));
    }

    [Fact]
    public async Task Files_left_by_a_crash_during_compression_are_finished_at_start_and_the_original_stays_readable_until_then()
    {
        Directory.CreateDirectory(Dir);
        var rotated = Path.Combine(Dir, "node-a-20261126T100000000Z.jsonl");
        await File.WriteAllTextAsync(rotated, """{"value":0}""" + "\n");
        await File.WriteAllBytesAsync(rotated + ".gz.tmp", [0x1f, 0x8b, 0x08]); // a half-written archive
        var archivedTwice = Path.Combine(Dir, "node-a-20261126T100001000Z.jsonl");
        await File.WriteAllTextAsync(archivedTwice, """{"value":1}""" + "\n");
        await using (var gz = new GZipStream(File.Create(archivedTwice + ".gz"), CompressionLevel.Fastest))
            await gz.WriteAsync("""{"value":1}"""u8.ToArray().Append((byte)'\n').ToArray());

        var backend = await Started("{}");
        await JsonlFiles.WaitUntil(() => !Directory.GetFiles(Dir).Any(p => p.EndsWith(".tmp", StringComparison.Ordinal) || p.EndsWith("Z.jsonl", StringComparison.Ordinal)), "the leftovers are handled");
        await backend.WriteAsync(Samples.Sequence(2, 1), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        Assert.Equal([rotated + ".gz", archivedTwice + ".gz"], JsonlFiles.Rotated(Dir));
        Assert.Equal([0.0, 1, 2], JsonlFiles.Values(Dir));
    }

    [Theory]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("500 MB", 500_000_000L)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData("4096", 4096L)]
    [InlineData("64k", 64L << 10)]
    [InlineData("64K", 64L << 10)]
    [InlineData("64m", 64L << 20)]
    [InlineData("2G", 2L << 30)]
    [InlineData("64kB", 64_000L)]
    [InlineData("64KB", 64_000L)]
    [InlineData("3GB", 3_000_000_000L)]
    public void Sizes_are_read_as_people_write_them(string text, long expected)
    {
        Assert.True(ByteSizeText.TryParse(text, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void A_directory_sync_of_a_missing_directory_fails_naming_it()
    {
        DirectorySync.Sync(_dir.Path);
        var missing = Path.Combine(_dir.Path, "no-such-folder");
        var error = Assert.Throws<IOException>(() => DirectorySync.Sync(missing));
        Assert.Contains(missing, error.Message);
    }

    [Theory]
    [InlineData("64 parsecs")]
    [InlineData("MiB")]
    [InlineData("1TiB-ish")]
    public void Sizes_that_are_not_sizes_are_refused(string text) => Assert.False(ByteSizeText.TryParse(text, out _));
}
