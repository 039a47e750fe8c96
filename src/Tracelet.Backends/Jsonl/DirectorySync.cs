using System.Text;
using Tmds.Linux;

namespace Tracelet.Backends.Jsonl;

/// <summary>
/// fsync of a directory: on POSIX a created, renamed or deleted name is durable only once its directory
/// is synced, so a new active file or a finished archive survives a power loss. .NET cannot open a
/// directory as a stream, hence libc open/fsync/close. Elsewhere than Linux it does nothing.
/// </summary>
internal static class DirectorySync
{
    /// <summary>Syncs <paramref name="directory"/>; throws <see cref="IOException"/> naming it on failure.</summary>
    public static unsafe void Sync(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        var name = Encoding.UTF8.GetBytes(directory + "\0");
        int fd;
        fixed (byte* p = name) fd = LibC.open(p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd < 0) throw new IOException($"cannot open directory {directory} to sync it (errno {LibC.errno})");
        try
        {
            if (LibC.fsync(fd) != 0) throw new IOException($"fsync of directory {directory} failed (errno {LibC.errno})");
        }
        finally
        {
            LibC.close(fd);
        }
    }
}
