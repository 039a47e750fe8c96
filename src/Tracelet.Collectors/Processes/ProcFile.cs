namespace Tracelet.Collectors.Processes;

/// <summary>What reading a file under <c>/proc/&lt;pid&gt;</c> came to.</summary>
internal enum ProcRead
{
    /// <summary>The bytes are in the buffer.</summary>
    Ok,
    /// <summary>The process exited between listing and reading: common, and not an error.</summary>
    Vanished,
    /// <summary>The file exists but could not be read; the reason says why.</summary>
    Failed,
}

/// <summary>Reads small procfs files into a caller's buffer, telling a process that exited from a real failure.</summary>
internal static class ProcFile
{
    /// <summary>
    /// Reads <paramref name="path"/> into <paramref name="buffer"/> (one read: procfs files of a
    /// process are generated whole; a longer file is cut at the buffer's size).
    /// </summary>
    public static ProcRead Read(string path, byte[] buffer, out int length, out string? reason)
    {
        length = 0;
        reason = null;
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            length = RandomAccess.Read(handle, buffer, 0);
            return ProcRead.Ok;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return ProcRead.Vanished;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A process that exits while its file is open answers ESRCH: gone, not broken.
            if (!Directory.Exists(Path.GetDirectoryName(path))) return ProcRead.Vanished;
            reason = $"{path}: {(e is UnauthorizedAccessException ? "permission denied" : e.Message)}";
            return ProcRead.Failed;
        }
    }
}
