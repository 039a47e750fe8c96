namespace Tracelet.Backends.Jsonl;

/// <summary>
/// The file being appended to. Every append is written and fsynced before it returns; an append
/// that fails is cut off again, so a retried batch is written exactly once.
/// </summary>
internal sealed class JsonlActiveFile : IDisposable
{
    private readonly FileStream _stream;

    private JsonlActiveFile(string path, FileStream stream, long length, long tornBytesRemoved)
    {
        Path = path;
        _stream = stream;
        Length = length;
        TornBytesRemoved = tornBytesRemoved;
    }

    public string Path { get; }

    /// <summary>Bytes in the file: every one of them belongs to a complete, fsynced line.</summary>
    public long Length { get; private set; }

    /// <summary>Bytes after the last newline found at open (a batch cut short by a crash), which were removed.</summary>
    public long TornBytesRemoved { get; }

    /// <summary>
    /// Opens (or creates) the file for appending. A tail without a final newline was never
    /// acknowledged (acknowledgement follows the fsync of a whole batch, newline included), so it is
    /// cut off and the next record starts on a fresh line; the pipeline delivers that batch again.
    /// </summary>
    public static JsonlActiveFile Open(string path)
    {
        // bufferSize 0: this class hands FileStream whole batches, and an unbuffered stream holds no
        // bytes of a failed write that a later flush could append behind our back.
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        try
        {
            var length = stream.CanSeek ? stream.Length : 0;
            var complete = length == 0 ? 0 : EndOfLastLine(stream, length);
            if (complete < length)
            {
                stream.SetLength(complete);
                stream.Flush(flushToDisk: true);
            }
            if (stream.CanSeek) stream.Seek(complete, SeekOrigin.Begin);
            return new JsonlActiveFile(path, stream, complete, length - complete);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends the bytes and fsyncs. On failure the file is cut back to its previous length where possible, and the error is rethrown.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        var before = Length;
        try
        {
            _stream.Write(bytes);
            _stream.Flush(flushToDisk: true);
            Length = before + bytes.Length;
        }
        catch (IOException)
        {
            TryCutBack(before);
            throw;
        }
    }

    private void TryCutBack(long length)
    {
        if (!_stream.CanSeek) return;
        try
        {
            _stream.SetLength(length);
            _stream.Seek(length, SeekOrigin.Begin);
        }
        catch (IOException)
        {
            // Then the next open cuts the torn tail instead (see Open).
        }
    }

    /// <summary>The offset just after the last '\n', or 0 when there is none.</summary>
    private static long EndOfLastLine(FileStream stream, long length)
    {
        var chunk = new byte[64 * 1024];
        var end = length;
        while (end > 0)
        {
            var start = Math.Max(0, end - chunk.Length);
            var count = (int)(end - start);
            stream.Seek(start, SeekOrigin.Begin);
            stream.ReadExactly(chunk, 0, count);
            var i = chunk.AsSpan(0, count).LastIndexOf((byte)'\n');
            if (i >= 0) return start + i + 1;
            end = start;
        }
        return 0;
    }

    public void Dispose() => _stream.Dispose();
}
