using Tracelet.Abstractions;

namespace Tracelet.Collectors.Host;

/// <summary>
/// Space and inodes of each mounted filesystem (statvfs), as df shows them. Pseudo filesystems
/// are excluded by type before any call, and a filesystem of zero blocks is left out as df does.
/// </summary>
internal sealed class FilesystemGroup(string procRoot, NameFilter mountpoints, IReadOnlySet<string> excludedTypes, SkipCounter skips, TimeProvider clock)
    : MetricGroup("filesystem", skips, clock)
{
    private const string Malformed = "filesystem.malformed";
    private const string StatFailed = "filesystem.statvfs-failed";

    private readonly MountTable _table = new(procRoot, mountpoints, excludedTypes);

    /// <summary>How many mounts passed the filters.</summary>
    public int MountCount => _table.Mounts.Count;

    public override void Collect(ISampleWriter writer, long sample)
    {
        if (_table.Refresh()) Skips.Count(Malformed, _table.Malformed);
        foreach (var mount in _table.Mounts)
        {
            if (!FilesystemStats.TryGet(mount.PathZ, out var space, out var error))
            {
                Skips.Count(StatFailed, $"statvfs {mount.Mountpoint}: {error}");
                continue;
            }
            if (space.TotalBytes == 0) continue;
            var used = space.TotalBytes - Math.Min(space.FreeBytes, space.TotalBytes);
            var reserved = space.FreeBytes - Math.Min(space.AvailableBytes, space.FreeBytes);
            Write(writer, SystemMetrics.FilesystemUsage, used, mount.Used);
            Write(writer, SystemMetrics.FilesystemUsage, space.AvailableBytes, mount.Free);
            Write(writer, SystemMetrics.FilesystemUsage, reserved, mount.Reserved);
            if (used + space.AvailableBytes > 0)
                Write(writer, SystemMetrics.FilesystemUtilization, (double)used / (used + space.AvailableBytes), mount.Plain);
            // Some filesystems (btrfs, vfat) have no fixed inode table and report 0 inodes: nothing to tell then.
            if (space.Inodes > 0)
            {
                Write(writer, SystemMetrics.FilesystemInodesUsage, space.Inodes - Math.Min(space.FreeInodes, space.Inodes), mount.Used);
                Write(writer, SystemMetrics.FilesystemInodesUsage, space.FreeInodes, mount.Free);
            }
        }
    }
}
