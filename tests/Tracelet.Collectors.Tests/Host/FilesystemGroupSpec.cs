using System.Collections.Concurrent;
using System.Text;
using Tracelet.Collectors.Host;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Collectors.Tests.Host;

/// <summary>The filesystem group with a statvfs the spec controls: hung mounts, network filesystems, bind mounts.</summary>
public sealed class FilesystemGroupSpec : IDisposable
{
    private static readonly StatvfsResult Space = new(true, new FilesystemSpace(1000, 400, 300, 10, 4), null);

    private readonly HostFixture _host = new();
    private readonly RecordingSampleWriter _writer = new();
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    public void Dispose() => _host.Dispose();

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_host.Root, name)).FullName;

    private StatvfsResult Record(byte[] pathZ)
    {
        _calls.AddOrUpdate(Encoding.UTF8.GetString(pathZ, 0, pathZ.Length - 1), 1, (_, n) => n + 1);
        return Space;
    }

    private async Task CollectAsync(SystemCollector collector)
    {
        _host.Clock.Advance(TimeSpan.FromSeconds(1));
        _writer.Clear();
        await collector.CollectAsync(_writer, CancellationToken.None);
    }

    private bool Sampled(string mountpoint) => _writer.Named(SystemMetrics.FilesystemUsage).Any(s => s.Labels.Contains(new("mountpoint", mountpoint)));

    [Fact]
    public async Task A_hung_statvfs_marks_its_mount_stuck_without_stopping_the_other_groups_and_is_not_called_again_until_it_returns()
    {
        var (healthy, hung) = (Folder("healthy"), Folder("hung"));
        _host.WriteProc("stat", "cpu  1 0 1 10 0 0 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0 0 0\n");
        _host.WriteProc("self/mounts", $"/dev/a {healthy} ext4 rw 0 0\n/dev/b {hung} xfs rw 0 0\n");
        using var release = new ManualResetEventSlim();
        var collector = await _host.StartAsync("\"cpu\", \"filesystem\"", "\"statvfs-timeout\": \"2s\"", pathZ =>
        {
            var result = Record(pathZ);
            if (Encoding.UTF8.GetString(pathZ, 0, pathZ.Length - 1) == hung) release.Wait();
            return result;
        });

        await CollectAsync(collector);
        Assert.True(Sampled(healthy));
        Assert.False(Sampled(hung));
        Assert.Equal(1, _writer.Value(SystemMetrics.CpuLogicalCount));
        Assert.Equal(1, collector.Skipped("filesystem.stuck"));
        Assert.Equal(1, collector.GetStatus()["mounts_stuck"]);

        await CollectAsync(collector);
        Assert.True(Sampled(healthy));
        Assert.Equal(1, _calls[hung]); // never a second call while the first is pending
        Assert.Equal(2, collector.Skipped("filesystem.stuck"));
        Assert.Contains(hung, collector.LastError());

        release.Set();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        do await CollectAsync(collector);
        while (!Sampled(hung) && DateTime.UtcNow < deadline);
        Assert.True(Sampled(hung), "the mount was not sampled again after its statvfs returned");
        Assert.Equal(2, _calls[hung]);
        Assert.Equal(0, collector.GetStatus()["mounts_stuck"]);
    }

    [Fact]
    public async Task Network_filesystems_are_not_called_unless_network_filesystems_is_on()
    {
        var (local, nfs, sshfs, cifs) = (Folder("local"), Folder("nfs"), Folder("sshfs"), Folder("cifs"));
        _host.WriteProc("self/mounts", $"""
            /dev/a {local} ext4 rw 0 0
            server:/export {nfs} nfs4 rw 0 0
            user@host: {sshfs} fuse.sshfs rw 0 0
            //server/share {cifs} cifs rw 0 0
            """);

        var collector = await _host.StartAsync("\"filesystem\"", statvfs: Record);
        await CollectAsync(collector);
        Assert.Equal([local], _calls.Keys.Order());
        Assert.Equal(1, collector.GetStatus()["mounts"]);

        _calls.Clear();
        var withNetwork = await _host.StartAsync("\"filesystem\"", "\"network-filesystems\": true", Record);
        await CollectAsync(withNetwork);
        Assert.Equal(new[] { cifs, local, nfs, sshfs }.Order(), _calls.Keys.Order());
    }

    [Fact]
    public async Task A_disk_bind_mounted_at_several_places_is_sampled_once_at_its_shortest_mount_point_and_file_mounts_are_left_out()
    {
        var (root, longer, overlay) = (Folder("r"), Folder("bound-data"), Folder("o"));
        var hosts = Path.Combine(_host.Root, "hosts");
        File.WriteAllText(hosts, "127.0.0.1 localhost\n");
        // As in a container: / is an overlay; /etc/hosts and a data folder are binds of the host's disk (253:1).
        _host.WriteProc("self/mountinfo", $"""
            600 500 0:50 / {overlay} rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u
            601 600 253:1 /var/lib/docker/containers/c/hosts {hosts} rw,relatime - ext4 /dev/vda1 rw
            602 600 253:1 /srv/data {longer} rw,relatime master:1 - ext4 /dev/vda1 rw
            603 600 253:1 / {root} rw,relatime - ext4 /dev/vda1 rw
            """);

        var collector = await _host.StartAsync("\"filesystem\"", statvfs: Record);
        await CollectAsync(collector);

        Assert.Equal(new[] { overlay, root }.Order(), _calls.Keys.Order());
        Assert.Equal(2, collector.GetStatus()["mounts"]);
        Assert.True(Sampled(root));
        Assert.Contains(_writer.Named(SystemMetrics.FilesystemUsage), s => s.Labels.Contains(new("device", "/dev/vda1")));
    }
}
