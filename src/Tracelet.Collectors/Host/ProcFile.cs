namespace Tracelet.Collectors.Host;

/// <summary>
/// One /proc or /sys text file, read whole into a buffer that is kept between samples, so a
/// sample costs an open, a few reads and a close but no managed allocation beyond the handle.
/// </summary>
internal sealed class ProcFile(string path)
{
    // /proc/stat grows with the number of CPUs and interrupts; a file past this size is not one we know.
    private const int MaxBytes = 16 * 1024 * 1024;

    private byte[] _buffer = new byte[4096];

    /// <summary>The file's path.</summary>
    public string Path { get; } = path;

    /// <summary>
    /// The file's current content, valid until the next call. Throws <see cref="IOException"/> (or
    /// <see cref="UnauthorizedAccessException"/>) when it cannot be read.
    /// </summary>
    public ReadOnlySpan<byte> Read()
    {
        using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var total = 0;
        while (true)
        {
            if (total == _buffer.Length)
            {
                if (_buffer.Length >= MaxBytes) throw new IOException($"{Path} is larger than {MaxBytes} bytes");
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            var read = RandomAccess.Read(handle, _buffer.AsSpan(total), total);
            if (read == 0) return _buffer.AsSpan(0, total);
            total += read;
        }
    }
}
