using System.IO.Compression;

namespace Tracelet.Backends.Jsonl;

/// <summary>
/// Compresses rotated files and deletes the oldest beyond <c>keep</c>, on one background task so the
/// plugin's actor is never held up by gzip. Each pass works from the directory listing, so files a
/// crash left uncompressed are picked up by the next pass.
/// </summary>
internal sealed class JsonlArchiver : IAsyncDisposable
{
    private readonly JsonlFileNames _names;
    private readonly bool _gzip;
    private readonly int _keep;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _compressed;
    private long _deleted;
    private volatile string? _lastError;

    public JsonlArchiver(JsonlFileNames names, bool gzip, int keep)
    {
        _names = names;
        _gzip = gzip;
        _keep = keep;
        _loop = Task.Run(RunAsync);
    }

    public long FilesCompressed => Interlocked.Read(ref _compressed);

    public long FilesDeleted => Interlocked.Read(ref _deleted);

    /// <summary>The last failure of a pass (compression or deletion), or null after a clean pass.</summary>
    public string? LastError => _lastError;

    /// <summary>Asks for a pass; several requests while one runs collapse into one more pass.</summary>
    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A pass is already due.
        }
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        try
        {
            while (true)
            {
                await _wake.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    await PassAsync(token).ConfigureAwait(false);
                    _lastError = null;
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    _lastError = $"{DateTimeOffset.UtcNow:O} {e.GetType().Name}: {e.Message}";
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private async Task PassAsync(CancellationToken token)
    {
        foreach (var partial in _names.ListPartialArchives()) File.Delete(partial);
        if (_gzip)
        {
            foreach (var file in _names.ListRotated().Where(p => p.EndsWith(".jsonl", StringComparison.Ordinal)))
                await CompressAsync(file, token).ConfigureAwait(false);
        }
        if (_keep > 0)
        {
            var rotated = _names.ListRotated();
            foreach (var old in rotated.Take(Math.Max(0, rotated.Count - _keep)))
            {
                File.Delete(old);
                Interlocked.Increment(ref _deleted);
            }
        }
    }

    /// <summary>
    /// gzip to a temporary file, fsync, rename, and only then delete the original: a crash at any
    /// point leaves either the readable original or a complete archive.
    /// </summary>
    private async Task CompressAsync(string file, CancellationToken token)
    {
        var archive = file + ".gz";
        if (File.Exists(archive))
        {
            // A crash came after the rename and before the delete: the archive is complete.
            File.Delete(file);
            return;
        }
        var temporary = archive + ".tmp";
        try
        {
            await using (var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true))
            await using (var target = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                await using (var gzip = new GZipStream(target, CompressionLevel.Fastest, leaveOpen: true))
                    await source.CopyToAsync(gzip, token).ConfigureAwait(false);
                target.Flush(flushToDisk: true);
            }
            File.Move(temporary, archive);
            // The rename must be on disk before the original goes, or a power loss could leave neither.
            DirectorySync.Sync(Path.GetDirectoryName(Path.GetFullPath(archive))!);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        File.Delete(file);
        Interlocked.Increment(ref _compressed);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The next pass deletes leftovers.
        }
    }

    /// <summary>Stops after the current file; an unfinished one stays uncompressed for the next start.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected.
        }
        _stop.Dispose();
        _wake.Dispose();
    }
}
