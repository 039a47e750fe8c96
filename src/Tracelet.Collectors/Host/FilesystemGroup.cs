using Tracelet.Abstractions;

namespace Tracelet.Collectors.Host;

/// <summary>
/// Space and inodes of each mounted filesystem (statvfs), as df shows them. Pseudo and network
/// filesystems are excluded by type before any call, a filesystem of zero blocks is left out as df
/// does, and statvfs runs under a timeout (<see cref="StatvfsGuard"/>) so a hung mount stalls nothing.
/// </summary>
internal sealed class FilesystemGroup : MetricGroup, IDisposable
{
    private const string Malformed = "filesystem.malformed";
    private const string StatFailed = "filesystem.statvfs-failed";
    private const string Stuck = "filesystem.stuck";
    private const string TooManyStuck = "filesystem.stuck-limit";

    // Enough for every network mount of a node to hang at once; past it, mounts are skipped, not called.
    private const int MaxStuck = 64;

    private readonly MountTable _table;
    private readonly StatvfsGuard _guard;
    private readonly List<Mount> _toCall = [];
    private ISampleWriter? _writer;

    public FilesystemGroup(string procRoot, NameFilter mountpoints, Func<string, bool> excludesType, Func<string, bool> isNetworkType,
        Func<byte[], StatvfsResult> statvfs, TimeSpan timeout, SkipCounter skips, TimeProvider clock)
        : base("filesystem", skips, clock)
    {
        _table = new MountTable(procRoot, mountpoints, excludesType, isNetworkType);
        _guard = new StatvfsGuard(statvfs, timeout, MaxStuck);
    }

    /// <summary>How many mounts passed the filters.</summary>
    public int MountCount => _table.Mounts.Count;

    /// <summary>Mounts whose statvfs hangs now.</summary>
    public int StuckCount => _guard.StuckCount;

    public override void Collect(ISampleWriter writer, long sample) =>
        throw new NotSupportedException("the filesystem group is collected with CollectAsync");

    public override async ValueTask CollectAsync(ISampleWriter writer, long sample)
    {
        if (_table.Refresh()) Skips.Count(Malformed, _table.Malformed);
        _guard.ForgetReturned();
        _toCall.Clear();
        var pending = _guard.StuckCount;
        foreach (var mount in _table.Mounts)
        {
            if (_guard.IsStuck(mount))
            {
                Skips.Count(Stuck, $"statvfs {mount.Mountpoint}: still pending from an earlier collection (hung mount?)");
            }
            else if (pending + _toCall.Count >= MaxStuck)
            {
                Skips.Count(TooManyStuck, $"statvfs {mount.Mountpoint}: not called, {MaxStuck} calls are already stuck");
            }
            else
            {
                _toCall.Add(mount);
            }
        }
        _writer = writer;
        try
        {
            await _guard.RunAsync(_toCall, WriteMount, mount =>
                Skips.Count(Stuck, $"statvfs {mount.Mountpoint}: no answer within the timeout (hung mount?)")).ConfigureAwait(false);
        }
        finally
        {
            _writer = null;
        }
    }

    private void WriteMount(Mount mount, StatvfsResult result)
    {
        var writer = _writer!;
        if (!result.Ok)
        {
            Skips.Count(StatFailed, $"statvfs {mount.Mountpoint}: {result.Error}");
            return;
        }
        var space = result.Space;
        if (space.TotalBytes == 0) return;
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

    /// <inheritdoc />
    public void Dispose() => _guard.Dispose();
}
