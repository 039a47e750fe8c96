namespace Tracelet.Collectors.ProcFiles;

/// <summary>What reading a procfs file came to.</summary>
internal enum ProcRead
{
    /// <summary>The bytes were read whole.</summary>
    Ok,
    /// <summary>The file (a process's, usually) is gone: the process exited between listing and reading; not an error.</summary>
    Vanished,
    /// <summary>The file exists but could not be read; the reason says why.</summary>
    Failed,
}

/// <summary>
/// Reads /proc, /sys and cgroup text files whole into a buffer kept between reads, so a sample
/// costs an open, a few reads and a close but no managed allocation beyond the handle. The
/// buffer grows until the file fits: a file is never cut short without an error.
/// </summary>
internal sealed class ProcFileReader(string path)
{
    // /proc/stat grows with the number of CPUs and interrupts; a file past this size is not one we know.
    private const int MaxBytes = 16 * 1024 * 1024;

    private byte[] _buffer = new byte[4096];

    /// <summary>A reader for files named at each read (<see cref="TryRead"/>), sharing one buffer.</summary>
    public ProcFileReader()
        : this("")
    {
    }

    /// <summary>The file's path.</summary>
    public string Path { get; } = path;

    /// <summary>
    /// The file's current content, valid until the next read. Throws <see cref="IOException"/> (or
    /// <see cref="UnauthorizedAccessException"/>) when it cannot be read, or is larger than 16 MiB.
    /// </summary>
    public ReadOnlySpan<byte> Read() => Read(Path);

    /// <summary>The content of <paramref name="file"/>, valid until the next read; throws as <see cref="Read()"/>.</summary>
    public ReadOnlySpan<byte> Read(string file)
    {
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var total = 0;
        while (true)
        {
            if (total == _buffer.Length)
            {
                if (_buffer.Length >= MaxBytes) throw new IOException($"{file} is larger than {MaxBytes} bytes");
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            var read = RandomAccess.Read(handle, _buffer.AsSpan(total), total);
            if (read == 0) return _buffer.AsSpan(0, total);
            total += read;
        }
    }

    /// <summary>
    /// Reads <paramref name="file"/> without throwing, telling a file that vanished (its process
    /// exited) from one that could not be read (<paramref name="reason"/> then says why).
    /// </summary>
    public ProcRead TryRead(string file, out ReadOnlySpan<byte> content, out string? reason)
    {
        content = default;
        reason = null;
        try
        {
            content = Read(file);
            return ProcRead.Ok;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return ProcRead.Vanished;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A process that exits while its file is open answers ESRCH: gone, not broken.
            if (!Directory.Exists(System.IO.Path.GetDirectoryName(file))) return ProcRead.Vanished;
            reason = $"{file}: {(e is UnauthorizedAccessException ? "permission denied" : e.Message)}";
            return ProcRead.Failed;
        }
    }
}
