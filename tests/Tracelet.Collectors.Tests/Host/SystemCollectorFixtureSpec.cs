using Tracelet.Collectors.Host;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Collectors.Tests.Host;

/// <summary>The system collector over proc and sys trees the spec writes, with a clock it moves: every expected value is worked out by hand.</summary>
public sealed class SystemCollectorFixtureSpec : IDisposable
{
    private const double Tolerance = 1e-12;
    private const string NetHeader = """
        Inter-|   Receive                                                |  Transmit
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed

        """;

    private readonly HostFixture _host = new();
    private readonly RecordingSampleWriter _writer = new();

    public void Dispose() => _host.Dispose();

    private async Task CollectAsync(SystemCollector collector, TimeSpan after)
    {
        _host.Clock.Advance(after);
        _writer.Clear();
        await collector.CollectAsync(_writer, CancellationToken.None);
    }

    [Fact]
    public async Task Cpu_utilization_is_each_states_share_of_the_jiffies_since_the_previous_sample()
    {
        _host.WriteProc("stat", """
            cpu  100 10 50 800 20 5 5 10 0 0
            cpu0 60 5 30 400 10 3 2 5 0 0
            cpu1 40 5 20 400 10 2 3 5 0 0
            intr 12345 0 0
            ctxt 1000
            btime 1700000000
            procs_running 3
            procs_blocked 1
            """);
        var collector = await _host.StartAsync("\"cpu\"");
        await CollectAsync(collector, TimeSpan.Zero);
        Assert.Empty(_writer.Named(SystemMetrics.CpuUtilization));
        Assert.Empty(_writer.Named(SystemMetrics.ContextSwitches));
        Assert.Equal(2, _writer.Value(SystemMetrics.CpuLogicalCount));
        Assert.Equal(3, _writer.Value(SystemMetrics.ProcessCount, ("state", "running")));
        Assert.Equal(1, _writer.Value(SystemMetrics.ProcessCount, ("state", "blocked")));

        // Deltas: total user 60, system 20, idle 200, iowait 10, softirq 10 (300 jiffies);
        // cpu0 user 40, system 10, idle 80, iowait 5, softirq 5 (140); cpu1 20, 10, 120, 5, 5 (160).
        _host.WriteProc("stat", """
            cpu  160 10 70 1000 30 5 15 10 0 0
            cpu0 100 5 40 480 15 3 7 5 0 0
            cpu1 60 5 30 520 15 2 8 5 0 0
            ctxt 1750
            procs_running 1
            procs_blocked 0
            """);
        await CollectAsync(collector, TimeSpan.FromSeconds(2.5));

        double Total(string state) => _writer.Named(SystemMetrics.CpuUtilization).Single(s => s.Labels.Length == 1 && s.Labels[0].Value == state).Value;
        Assert.Equal(60.0 / 300, Total("user"), Tolerance);
        Assert.Equal(0, Total("nice"), Tolerance);
        Assert.Equal(20.0 / 300, Total("system"), Tolerance);
        Assert.Equal(200.0 / 300, Total("idle"), Tolerance);
        Assert.Equal(10.0 / 300, Total("iowait"), Tolerance);
        Assert.Equal(0, Total("interrupt"), Tolerance);
        Assert.Equal(10.0 / 300, Total("softirq"), Tolerance);
        Assert.Equal(0, Total("steal"), Tolerance);
        Assert.Equal(40.0 / 140, _writer.Value(SystemMetrics.CpuUtilization, ("core", "0"), ("state", "user")), Tolerance);
        Assert.Equal(120.0 / 160, _writer.Value(SystemMetrics.CpuUtilization, ("core", "1"), ("state", "idle")), Tolerance);
        Assert.Equal(2 * 8 + 8, _writer.Named(SystemMetrics.CpuUtilization).Count);
        // 750 context switches over 2.5 s of real time, not over an assumed second.
        Assert.Equal(300, _writer.Value(SystemMetrics.ContextSwitches), Tolerance);
    }

    [Fact]
    public async Task Cpu_counters_that_go_down_are_skipped_and_counted_not_reported_as_huge_rates()
    {
        _host.WriteProc("stat", "cpu  100 0 50 800 20 0 0 0\ncpu0 100 0 50 800 20 0 0 0\nctxt 1000\n");
        var collector = await _host.StartAsync("\"cpu\"");
        await CollectAsync(collector, TimeSpan.Zero);
        // cpu0 was taken offline and back (its counters restart); ctxt wrapped.
        _host.WriteProc("stat", "cpu  200 0 60 900 20 0 0 0\ncpu0 10 0 5 20 1 0 0 0\nctxt 10\n");
        await CollectAsync(collector, TimeSpan.FromSeconds(1));

        Assert.Empty(_writer.Named(SystemMetrics.ContextSwitches));
        Assert.DoesNotContain(_writer.Named(SystemMetrics.CpuUtilization), s => s.Labels.Length == 2);
        Assert.Equal(100.0 / 210, _writer.Value(SystemMetrics.CpuUtilization, ("state", "user")), Tolerance);
        Assert.Equal(2, collector.Skipped("cpu.counter-reset"));

        // From the new baseline on, rates come back.
        _host.WriteProc("stat", "cpu  300 0 70 1000 20 0 0 0\ncpu0 20 0 5 30 1 0 0 0\nctxt 30\n");
        await CollectAsync(collector, TimeSpan.FromSeconds(2));
        Assert.Equal(10, _writer.Value(SystemMetrics.ContextSwitches), Tolerance);
        Assert.Equal(0.5, _writer.Value(SystemMetrics.CpuUtilization, ("core", "0"), ("state", "user")), Tolerance);
    }

    [Fact]
    public async Task Memory_used_is_total_minus_available_and_swap_is_reported_as_paging()
    {
        _host.WriteProc("meminfo", """
            MemTotal:        1000 kB
            MemFree:          200 kB
            MemAvailable:     600 kB
            Buffers:           50 kB
            Cached:           300 kB
            SwapCached:         0 kB
            SwapTotal:        400 kB
            SwapFree:         100 kB
            HugePages_Total:    0
            """);
        var collector = await _host.StartAsync("\"memory\"");
        await CollectAsync(collector, TimeSpan.Zero);

        Assert.Equal(1000 * 1024, _writer.Value(SystemMetrics.MemoryLimit));
        Assert.Equal(400 * 1024, _writer.Value(SystemMetrics.MemoryUsage, ("state", "used")));
        Assert.Equal(200 * 1024, _writer.Value(SystemMetrics.MemoryUsage, ("state", "free")));
        Assert.Equal(50 * 1024, _writer.Value(SystemMetrics.MemoryUsage, ("state", "buffered")));
        Assert.Equal(300 * 1024, _writer.Value(SystemMetrics.MemoryUsage, ("state", "cached")));
        Assert.Equal(600 * 1024, _writer.Value(SystemMetrics.MemoryAvailable));
        Assert.Equal(0.4, _writer.Value(SystemMetrics.MemoryUtilization), Tolerance);
        Assert.Equal(300 * 1024, _writer.Value(SystemMetrics.PagingUsage, ("state", "used")));
        Assert.Equal(100 * 1024, _writer.Value(SystemMetrics.PagingUsage, ("state", "free")));
        Assert.Equal(0.75, _writer.Value(SystemMetrics.PagingUtilization), Tolerance);
    }

    [Fact]
    public async Task Disk_rates_are_per_second_of_real_elapsed_time_for_whole_devices_only()
    {
        _host.MarkPartition("vda1");
        _host.WriteProc("diskstats", """
               7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0
             254       0 vda 1000 0 8000 500 2000 0 16000 1000 2 3000 4000 0 0 0 0 0 0
             254       1 vda1 900 0 7000 400 1900 0 15000 900 0 2800 3600 0 0 0 0 0 0
            """);
        var collector = await _host.StartAsync("\"disk\"");
        await CollectAsync(collector, TimeSpan.Zero);
        Assert.Empty(_writer.Named(SystemMetrics.DiskIo));
        Assert.Equal(2, _writer.Value(SystemMetrics.DiskPendingOperations, ("device", "vda")));

        _host.WriteProc("diskstats", """
               7       0 loop0 50 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0
             254       0 vda 1100 0 10000 700 2400 0 20000 1600 5 4000 5000 0 0 0 0 0 0
             254       1 vda1 1000 0 9000 500 2300 0 19000 1500 5 3800 4600 0 0 0 0 0 0
            """);
        await CollectAsync(collector, TimeSpan.FromSeconds(2));

        Assert.Equal(2000.0 * 512 / 2, _writer.Value(SystemMetrics.DiskIo, ("device", "vda"), ("direction", "read")), Tolerance);
        Assert.Equal(4000.0 * 512 / 2, _writer.Value(SystemMetrics.DiskIo, ("device", "vda"), ("direction", "write")), Tolerance);
        Assert.Equal(50, _writer.Value(SystemMetrics.DiskOperations, ("device", "vda"), ("direction", "read")), Tolerance);
        Assert.Equal(200, _writer.Value(SystemMetrics.DiskOperations, ("device", "vda"), ("direction", "write")), Tolerance);
        Assert.Equal(0.1, _writer.Value(SystemMetrics.DiskOperationTime, ("device", "vda"), ("direction", "read")), Tolerance);
        Assert.Equal(0.3, _writer.Value(SystemMetrics.DiskOperationTime, ("device", "vda"), ("direction", "write")), Tolerance);
        Assert.Equal(0.5, _writer.Value(SystemMetrics.DiskIoTime, ("device", "vda")), Tolerance);
        Assert.Equal(5, _writer.Value(SystemMetrics.DiskPendingOperations, ("device", "vda")));
        Assert.All(_writer.Samples, s => Assert.Equal("vda", s.Labels[0].Value));
    }

    [Fact]
    public async Task Partitions_and_excluded_devices_follow_the_config()
    {
        _host.MarkPartition("vda1");
        _host.WriteProc("diskstats", """
               7       0 loop0 5 0 10 0 0 0 0 0 0 0 0
             254       0 vda 1000 0 8000 500 2000 0 16000 1000 2 3000 4000
             254       1 vda1 900 0 7000 400 1900 0 15000 900 1 2800 3600
            """);
        var collector = await _host.StartAsync("\"disk\"", "\"partitions\": true, \"disks-exclude\": [\"vda\"]");
        await CollectAsync(collector, TimeSpan.Zero);
        var devices = _writer.Named(SystemMetrics.DiskPendingOperations).Select(s => s.Labels[0].Value).Order().ToArray();
        Assert.Equal(["loop0", "vda1"], devices);
    }

    [Fact]
    public async Task A_disk_counter_that_goes_down_skips_only_that_rate_and_is_counted()
    {
        _host.WriteProc("diskstats", " 254 0 vda 1000 0 8000 500 2000 0 16000 1000 0 3000 4000\n");
        var collector = await _host.StartAsync("\"disk\"");
        await CollectAsync(collector, TimeSpan.Zero);
        _host.WriteProc("diskstats", " 254 0 vda 1000 0 500 500 2000 0 17000 1000 0 3000 4000\n");
        await CollectAsync(collector, TimeSpan.FromSeconds(1));

        Assert.DoesNotContain(_writer.Named(SystemMetrics.DiskIo), s => s.Labels.Contains(new("direction", "read")));
        Assert.Equal(512000, _writer.Value(SystemMetrics.DiskIo, ("direction", "write")), Tolerance);
        Assert.Equal(1, collector.Skipped("disk.counter-reset"));
        Assert.All(_writer.Samples, s => Assert.True(s.Value >= 0 && s.Value < 1e9, $"{s.Name} = {s.Value}"));
    }

    [Fact]
    public async Task A_disk_that_vanishes_is_counted_and_starts_afresh_when_it_returns()
    {
        const string Both = " 254 0 vda 1 0 8 1 1 0 8 1 0 1 1\n 254 16 vdb 1 0 8 1 1 0 8 1 0 1 1\n";
        _host.WriteProc("diskstats", Both);
        var collector = await _host.StartAsync("\"disk\"");
        await CollectAsync(collector, TimeSpan.Zero);
        _host.WriteProc("diskstats", " 254 0 vda 2 0 16 1 1 0 8 1 0 1 1\n");
        await CollectAsync(collector, TimeSpan.FromSeconds(1));
        Assert.Equal(1, collector.Skipped("disk.vanished"));
        Assert.DoesNotContain(_writer.Samples, s => s.Labels.Contains(new("device", "vdb")));
        Assert.Equal(4096, _writer.Value(SystemMetrics.DiskIo, ("device", "vda"), ("direction", "read")), Tolerance);

        _host.WriteProc("diskstats", " 254 0 vda 3 0 24 1 1 0 8 1 0 1 1\n 254 16 vdb 9 0 80 1 1 0 8 1 0 1 1\n");
        await CollectAsync(collector, TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(_writer.Named(SystemMetrics.DiskIo), s => s.Labels.Contains(new("device", "vdb")));
        Assert.Equal(0, _writer.Value(SystemMetrics.DiskPendingOperations, ("device", "vdb")));
    }

    [Fact]
    public async Task Network_rates_per_interface_and_direction_skip_loopback_and_a_wrapped_counter()
    {
        _host.WriteProc("net/dev", NetHeader + """
                lo: 5000 50 0 0 0 0 0 0 5000 50 0 0 0 0 0 0
              eth0: 100000 1000 1 2 0 0 0 0 50000 500 0 1 0 0 0 0
            """);
        var collector = await _host.StartAsync("\"network\"");
        await CollectAsync(collector, TimeSpan.Zero);
        Assert.Empty(_writer.Samples);

        _host.WriteProc("net/dev", NetHeader + """
                lo: 9000 90 0 0 0 0 0 0 9000 90 0 0 0 0 0 0
              eth0: 500000 1400 3 2 0 0 0 0 90000 700 0 5 0 0 0 0
            """);
        await CollectAsync(collector, TimeSpan.FromSeconds(4));
        Assert.Equal(100000, _writer.Value(SystemMetrics.NetworkIo, ("interface", "eth0"), ("direction", "receive")), Tolerance);
        Assert.Equal(10000, _writer.Value(SystemMetrics.NetworkIo, ("interface", "eth0"), ("direction", "transmit")), Tolerance);
        Assert.Equal(100, _writer.Value(SystemMetrics.NetworkPackets, ("direction", "receive")), Tolerance);
        Assert.Equal(50, _writer.Value(SystemMetrics.NetworkPackets, ("direction", "transmit")), Tolerance);
        Assert.Equal(0.5, _writer.Value(SystemMetrics.NetworkErrors, ("direction", "receive")), Tolerance);
        Assert.Equal(0, _writer.Value(SystemMetrics.NetworkDropped, ("direction", "receive")), Tolerance);
        Assert.Equal(1, _writer.Value(SystemMetrics.NetworkDropped, ("direction", "transmit")), Tolerance);
        Assert.DoesNotContain(_writer.Samples, s => s.Labels.Contains(new("interface", "lo")));

        // A 32-bit driver counter wrapped: no rate this time, counted; the other counters carry on.
        _host.WriteProc("net/dev", NetHeader + "  eth0: 1000 1500 3 2 0 0 0 0 100000 800 0 5 0 0 0 0\n");
        await CollectAsync(collector, TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(_writer.Named(SystemMetrics.NetworkIo), s => s.Labels.Contains(new("direction", "receive")));
        Assert.Equal(10000, _writer.Value(SystemMetrics.NetworkIo, ("direction", "transmit")), Tolerance);
        Assert.Equal(1, collector.Skipped("network.counter-reset"));
        Assert.Equal(1, collector.Skipped("network.vanished"));
    }

    [Fact]
    public async Task A_malformed_line_is_skipped_and_counted_and_the_others_are_kept()
    {
        _host.WriteProc("net/dev", NetHeader + "  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n  eth1: 12 x 0 0\nnonsense\n");
        _host.WriteProc("diskstats", " 254 0 vda 1 0 8 1 1 0 8 1 3 1 1\n 254 16 vdb 1 0 eight\n");
        _host.WriteProc("loadavg", "0.50 abc 1.00 1/85 3100\n");
        var collector = await _host.StartAsync("\"disk\", \"network\", \"load\"");
        await CollectAsync(collector, TimeSpan.Zero);
        await CollectAsync(collector, TimeSpan.FromSeconds(1));

        Assert.Equal(0, _writer.Value(SystemMetrics.NetworkIo, ("interface", "eth0"), ("direction", "receive")));
        Assert.Equal(3, _writer.Value(SystemMetrics.DiskPendingOperations, ("device", "vda")));
        Assert.Empty(_writer.Named(SystemMetrics.LoadAverage1m));
        Assert.Equal(4, collector.Skipped("network.malformed"));
        Assert.Equal(2, collector.Skipped("disk.malformed"));
        Assert.Equal(2, collector.Skipped("load.malformed"));
        Assert.Contains("loadavg", collector.LastError());
    }

    [Fact]
    public async Task A_missing_file_skips_its_group_names_the_file_and_never_fails_the_collection()
    {
        _host.WriteProc("loadavg", "0.50 0.75 1.00 1/85 3100\n");
        var collector = await _host.StartAsync("\"memory\", \"load\", \"cpu\"");
        await CollectAsync(collector, TimeSpan.Zero);

        Assert.Equal(0.75, _writer.Value(SystemMetrics.LoadAverage5m));
        Assert.Equal(1, collector.Skipped("memory.unreadable"));
        Assert.Equal(1, collector.Skipped("cpu.unreadable"));
        Assert.Contains(Path.Combine(_host.Proc, "meminfo"), collector.LastError());

        _host.DeleteProc("loadavg");
        await CollectAsync(collector, TimeSpan.FromSeconds(1));
        Assert.Empty(_writer.Samples);
        Assert.Equal(1, collector.Skipped("load.unreadable"));
    }

    [Fact]
    public async Task Filesystems_are_sampled_with_statvfs_skipping_pseudo_ones_and_counting_failures()
    {
        var spaced = Directory.CreateDirectory(Path.Combine(_host.Root, "with space")).FullName;
        _host.WriteProc("self/mounts", $"""
            proc /proc proc rw,relatime 0 0
            tmpfs /dev/shm tmpfs rw 0 0
            /dev/fake {spaced.Replace(" ", "\\040", StringComparison.Ordinal)} ext4 rw 0 0
            /dev/gone /nonexistent-tracelet-mount ext4 rw 0 0
            """);
        var collector = await _host.StartAsync("\"filesystem\"");
        await CollectAsync(collector, TimeSpan.Zero);

        var total = new DriveInfo(spaced).TotalSize;
        double Usage(string state) => _writer.Value(SystemMetrics.FilesystemUsage, ("mountpoint", spaced), ("device", "/dev/fake"), ("type", "ext4"), ("state", state));
        Assert.Equal(total, Usage("used") + Usage("free") + Usage("reserved"));
        var utilization = _writer.Value(SystemMetrics.FilesystemUtilization, ("mountpoint", spaced));
        Assert.Equal(Usage("used") / (Usage("used") + Usage("free")), utilization, Tolerance);
        Assert.InRange(utilization, 0, 1);
        Assert.All(_writer.Samples, s => Assert.Contains(new("mountpoint", spaced), s.Labels));
        Assert.Equal(1, collector.Skipped("filesystem.statvfs-failed"));
        Assert.Contains("/nonexistent-tracelet-mount", collector.LastError());
        Assert.Equal(2, collector.GetStatus()["mounts"]);
    }

    [Fact]
    public async Task Interface_include_globs_pick_interfaces_by_name()
    {
        _host.WriteProc("net/dev", NetHeader + "  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n  ib0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n  docker0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
        var collector = await _host.StartAsync("\"network\"", "\"interfaces\": [\"eth*\", \"ib?\"]");
        await CollectAsync(collector, TimeSpan.Zero);
        await CollectAsync(collector, TimeSpan.FromSeconds(1));
        var names = _writer.Named(SystemMetrics.NetworkIo).Select(s => s.Labels[0].Value).Distinct().Order().ToArray();
        Assert.Equal(["eth0", "ib0"], names);
    }
}
