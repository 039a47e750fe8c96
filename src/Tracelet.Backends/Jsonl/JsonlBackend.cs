using Tracelet.Abstractions;

namespace Tracelet.Backends.Jsonl;

/// <summary>
/// Appends one JSON object per sample to <c>&lt;node&gt;.jsonl</c>, written and fsynced per batch before
/// the write completes, so a crash loses nothing the backend acknowledged. The file is rotated by
/// size and age; rotated files are gzipped and pruned in the background.
/// </summary>
public sealed class JsonlBackend : BackendPlugin
{
    private const long DefaultMaxFileSize = 64L << 20;

    private readonly TimeProvider _time;
    private readonly JsonlSampleEncoder _encoder = new();
    private JsonlFileNames? _names;
    private JsonlActiveFile? _file;
    private JsonlArchiver? _archiver;
    private DateTimeOffset _activeSince;
    private long _maxFileSize;
    private TimeSpan _maxFileAge;
    private bool _gzip;
    private int _keep;

    private long _samples;
    private long _batches;
    private long _bytes;
    private long _rotations;
    private bool _directorySyncPending;
    private long _writeFailures;
    private long _tornBytesRemoved;
    private string? _lastError;

    /// <summary>Creates the backend on the system clock (what the runtime uses).</summary>
    public JsonlBackend() : this(TimeProvider.System) { }

    /// <summary>Creates the backend on a given clock (tests of age rotation).</summary>
    internal JsonlBackend(TimeProvider time) => _time = time;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("jsonl", "1.1.0", PluginType.Backend)
    {
        Description = "One JSON object per sample in rotating files, fsynced per batch",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "path": { "type": "string", "minLength": 1, "description": "the active file; default <directory>/<node>.jsonl" },
                "directory": { "type": "string", "minLength": 1, "description": "where files go when path is not set; default <data-dir>/jsonl" },
                "max-file-size": {
                  "description": "rotate once the active file reaches this: bytes, or a string like \"64MiB\"; 0 = never",
                  "oneOf": [
                    { "type": "integer", "minimum": 0 },
                    { "type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgG][iI]?)?[bB]?\\s*$" }
                  ]
                },
                "max-file-age": { "type": ["number", "string"], "description": "rotate a non-empty active file this old (\"1h\"); 0 = never" },
                "gzip": { "type": "boolean", "description": "gzip rotated files (default on)" },
                "keep": { "type": "integer", "minimum": 0, "description": "rotated files kept, oldest deleted first; 0 = keep all (default)" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken).ConfigureAwait(false);
        var config = context.Config;
        var directory = config.GetString("directory", Path.Combine(context.DataDirectory, "jsonl"));
        var path = config.GetString("path", Path.Combine(directory, $"{SafeFileName(context.NodeId)}.jsonl"));
        _names = new JsonlFileNames(Path.GetFullPath(path));
        _maxFileSize = ReadSize(config, "max-file-size", DefaultMaxFileSize);
        _maxFileAge = config.GetDuration("max-file-age", TimeSpan.Zero);
        if (_maxFileAge < TimeSpan.Zero) throw new ArgumentException($"config key 'max-file-age' must not be negative, got {_maxFileAge}");
        _gzip = config.GetBoolean("gzip", true);
        _keep = (int)Math.Min(int.MaxValue, config.GetInt64("keep", 0));
    }

    /// <inheritdoc />
    public override ValueTask StartAsync(CancellationToken cancellationToken)
    {
        var names = _names ?? throw new InvalidOperationException("jsonl backend is not initialized");
        Directory.CreateDirectory(names.Directory);
        OpenActive(existing: true);
        _archiver = new JsonlArchiver(names, _gzip, _keep);
        // Rotated files a crash left uncompressed (or over the keep limit) are handled now.
        _archiver.Wake();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        if (_names is null) throw new InvalidOperationException("jsonl backend is not started");
        var bytes = _encoder.Encode(batch);
        try
        {
            // After a failed write the file may have been closed; it is opened again (and its tail checked) here.
            if (_file is null) OpenActive(existing: true);
            if (DueForRotation()) Rotate();
            _file!.Append(bytes.Span);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _writeFailures++;
            _lastError = $"{_time.GetUtcNow():O} writing {batch.Samples.Length} samples to {_names.ActivePath}: {e.Message}";
            CloseActive();
            // Thrown so the batch stays unacknowledged and the runtime retries it (nothing was kept of it).
            throw new IOException($"jsonl: could not write {batch.Samples.Length} samples to {_names.ActivePath}: {e.Message}", e);
        }
        _samples += batch.Samples.Length;
        _batches++;
        _bytes += bytes.Length;
        if (DueForRotation()) TryRotateAfterWrite();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        CloseActive();
        if (_archiver is not null) await _archiver.DisposeAsync().ConfigureAwait(false);
        _archiver = null;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?>
        {
            ["path"] = _names?.ActivePath,
            ["samples_written"] = _samples,
            ["batches_written"] = _batches,
            ["bytes_written"] = _bytes,
            ["active_file_bytes"] = _file?.Length,
            ["rotations"] = _rotations,
            ["files_compressed"] = _archiver?.FilesCompressed ?? 0,
            ["files_deleted"] = _archiver?.FilesDeleted ?? 0,
            ["write_failures"] = _writeFailures,
            ["torn_bytes_removed"] = _tornBytesRemoved,
        };
        if (_lastError is not null) status["last_error"] = _lastError;
        if (_archiver?.LastError is { } archiveError) status["archive_error"] = archiveError;
        return status;
    }

    private bool DueForRotation()
    {
        if (_file is null || _file.Length == 0) return false;
        if (_maxFileSize > 0 && _file.Length >= _maxFileSize) return true;
        return _maxFileAge > TimeSpan.Zero && _time.GetUtcNow() - _activeSince >= _maxFileAge;
    }

    /// <summary>Closes the active file, renames it to its rotated name and opens a fresh one.</summary>
    private void Rotate()
    {
        var names = _names!;
        CloseActive();
        _directorySyncPending = true;
        File.Move(names.ActivePath, names.RotatedPath(_time.GetUtcNow()));
        _rotations++;
        OpenActive(existing: false);
        _archiver?.Wake();
    }

    private void TryRotateAfterWrite()
    {
        try
        {
            Rotate();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The batch is already safe in the old file; rotation is tried again before the next write.
            _lastError = $"{_time.GetUtcNow():O} rotating {_names!.ActivePath}: {e.Message}";
            CloseActive();
        }
    }

    private void OpenActive(bool existing)
    {
        var path = _names!.ActivePath;
        var isNew = !File.Exists(path);
        _file = JsonlActiveFile.Open(path);
        // A batch acknowledged in a new file (or after a rename) is durable only once the directory entry is: sync it first,
        // and keep trying on later opens until a sync succeeds.
        if (isNew || !existing) _directorySyncPending = true;
        if (_directorySyncPending)
        {
            SyncDirectory(path);
            _directorySyncPending = false;
        }
        _tornBytesRemoved += _file.TornBytesRemoved;
        var now = _time.GetUtcNow();
        // A file found at start is as old as its creation (where the file system records it), so restarts do not postpone age rotation.
        _activeSince = existing && !isNew ? Min(now, new DateTimeOffset(File.GetCreationTimeUtc(path), TimeSpan.Zero)) : now;
    }

    private void SyncDirectory(string path)
    {
        try
        {
            DirectorySync.Sync(Path.GetDirectoryName(path)!);
        }
        catch
        {
            CloseActive();
            throw;
        }
    }

    private void CloseActive()
    {
        _file?.Dispose();
        _file = null;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;

    private static long ReadSize(PluginConfig config, string key, long defaultValue)
    {
        if (!config.Root.TryGetProperty(key, out var v)) return defaultValue;
        if (v.ValueKind == System.Text.Json.JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0) return n;
        if (v.ValueKind == System.Text.Json.JsonValueKind.String && ByteSizeText.TryParse(v.GetString()!, out var parsed)) return parsed;
        throw new FormatException($"config key '{key}': '{v}' is not a size (use bytes, or a string like \"64MiB\", \"500MB\")");
    }

    private static string SafeFileName(string name) =>
        string.Concat(name.Select(c => Path.GetInvalidFileNameChars().Contains(c) ? '_' : c));
}
