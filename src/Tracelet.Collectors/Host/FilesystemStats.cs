using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Tracelet.Collectors.Host;

/// <summary>Space and inodes of one filesystem, in bytes and counts.</summary>
internal readonly record struct FilesystemSpace(ulong TotalBytes, ulong FreeBytes, ulong AvailableBytes, ulong Inodes, ulong FreeInodes);

/// <summary>statvfs(3) through Tmds.LibC, which binds libc without allocating: the path is passed as bytes.</summary>
internal static class FilesystemStats
{
    /// <summary>statvfs of a NUL-terminated path, as one result (the form <see cref="StatvfsGuard"/> runs off-thread).</summary>
    public static StatvfsResult Call(byte[] pathZ) =>
        TryGet(pathZ, out var space, out var error) ? new StatvfsResult(true, space, null) : new StatvfsResult(false, default, error);

    /// <summary>The filesystem's figures, or false with the system's error text.</summary>
    public static unsafe bool TryGet(byte[] pathZ, out FilesystemSpace space, out string? error)
    {
        statvfs buffer;
        int result;
        fixed (byte* path = pathZ) result = LibC.statvfs(path, &buffer);
        if (result != 0)
        {
            var errno = LibC.errno;
            space = default;
            error = Marshal.GetPInvokeErrorMessage(errno);
            return false;
        }
        ulong blockSize = buffer.f_frsize;
        space = new FilesystemSpace(
            (ulong)buffer.f_blocks * blockSize,
            (ulong)buffer.f_bfree * blockSize,
            (ulong)buffer.f_bavail * blockSize,
            buffer.f_files,
            buffer.f_ffree);
        error = null;
        return true;
    }
}
