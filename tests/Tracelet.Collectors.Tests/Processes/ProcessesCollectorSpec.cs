using System.Diagnostics;
using System.Text.RegularExpressions;
using Tracelet.Abstractions;
using Tracelet.Collectors.Processes;
using Tracelet.Collectors.Tests.Fixtures;
using Tracelet.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Collectors.Tests.Processes;

public sealed class ProcessesCollectorSpec(ITestOutputHelper output) : IDisposable
{
    private readonly FixtureDirectory _fixture = new();
    private readonly ManualClock _clock = new();
    private string ProcRoot => Path.Combine(_fixture.Path, "proc");

    public void Dispose() => _fixture.Dispose();

    private void WriteProcess(int pid, string command, ulong utime, long rssPages, int threads = 3, uint uid = 1000, string cmdline = "", ulong startTime = 5000)
    {
        _fixture.Write($"proc/{pid}/stat",
            $"{pid} ({command}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 {utime} 0 0 0 20 0 {threads} 0 {startTime} 1000000 {rssPages} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
        _fixture.Write($"proc/{pid}/status", $"Name:\t{command}\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t100\t100\t100\t100\n");
        _fixture.Write($"proc/{pid}/cmdline", cmdline);
    }

    private async Task<ProcessesCollector> StartAsync(string extraConfig = "", int cpuCount = 4, TimeProvider? time = null, string? procRoot = null)
    {
        _fixture.Write("passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\nbroken line\n");
        // The host's CPUs, as the collector counts them: one cpuN line each.
        _fixture.Write("proc/stat", "cpu  1 2 3 4\n" + string.Concat(Enumerable.Range(0, cpuCount).Select(i => $"cpu{i} 1 2 3 4\n")) + "ctxt 5\n");
        var collector = new ProcessesCollector(time ?? _clock, clockTicksPerSecond: 100);
        var config = PluginConfig.Parse($$"""{ "proc-root": "{{procRoot ?? ProcRoot}}", "passwd-file": "{{Path.Combine(_fixture.Path, "passwd")}}" {{extraConfig}} }""");
        await collector.InitializeAsync(new PluginContext("test-node", _fixture.Path, config), CancellationToken.None);
        return collector;
    }

    private static (string, string) Pid(int pid) => ("pid", pid.ToString());

    [Fact]
    public async Task Cpu_is_a_ratio_of_all_cpus_over_the_elapsed_time_and_the_first_scan_has_none()
    {
        WriteProcess(100, "python", utime: 1000, rssPages: 1000, threads: 12, cmdline: "python\0train.py\0--lr\0" + "0.1\0");
        var collector = await StartAsync();
        var first = new RecordingSampleWriter();
        await collector.CollectAsync(first, CancellationToken.None);

        _clock.Advance(TimeSpan.FromSeconds(2));
        WriteProcess(100, "python", utime: 1400, rssPages: 1000, threads: 12, cmdline: "python\0train.py\0--lr\0" + "0.1\0");
        var second = new RecordingSampleWriter();
        await collector.CollectAsync(second, CancellationToken.None);

        Assert.Empty(first.Named(ProcessMetrics.CpuUtilization));
        Assert.Equal(0.5, second.Value(ProcessMetrics.CpuUtilization, Pid(100)), 9); // 400 ticks = 4 s over 2 s on 4 CPUs
        Assert.Equal(1000L * Environment.SystemPageSize, second.Value(ProcessMetrics.MemoryUsage, Pid(100)));
        Assert.Equal(12, second.Value(ProcessMetrics.ThreadCount, Pid(100)));
        var labels = second.Named(ProcessMetrics.ThreadCount).Single().Labels;
        Assert.Contains(new MetricLabel("command", "python"), labels);
        Assert.Contains(new MetricLabel("user", "alice"), labels);
        Assert.Contains(new MetricLabel("command_line", "python train.py --lr 0.1"), labels);
    }

    [Fact]
    public async Task Only_the_top_n_by_cpu_and_by_memory_are_written()
    {
        WriteProcess(1, "busy", utime: 0, rssPages: 10);
        WriteProcess(2, "big", utime: 0, rssPages: 900_000);
        WriteProcess(3, "idle", utime: 0, rssPages: 20, uid: 4242);
        var collector = await StartAsync(""", "top-n": 1 """);
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1));
        WriteProcess(1, "busy", utime: 100, rssPages: 10);
        WriteProcess(2, "big", utime: 10, rssPages: 900_000);
        WriteProcess(3, "idle", utime: 0, rssPages: 20, uid: 4242);
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        var pids = writer.Named(ProcessMetrics.MemoryUsage).Select(s => s.Labels.Single(l => l.Key == "pid").Value).Order().ToArray();
        Assert.Equal(["1", "2"], pids); // 1 tops CPU, 2 tops memory, 3 neither
        Assert.Equal(0.25, writer.Value(ProcessMetrics.CpuUtilization, Pid(1)), 9);
    }

    [Fact]
    public async Task Include_and_exclude_filter_by_command_name()
    {
        WriteProcess(1, "python3", utime: 0, rssPages: 10);
        WriteProcess(2, "python-helper", utime: 0, rssPages: 10);
        WriteProcess(3, "bash", utime: 0, rssPages: 10);
        var collector = await StartAsync(""", "include": ["^python"], "exclude": ["helper"] """);
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Equal("1", Assert.Single(writer.Named(ProcessMetrics.MemoryUsage)).Labels.Single(l => l.Key == "pid").Value);
    }

    [Fact]
    public async Task A_process_that_vanishes_is_counted_and_not_an_error()
    {
        WriteProcess(1, "stays", utime: 0, rssPages: 10);
        Directory.CreateDirectory(Path.Combine(ProcRoot, "2")); // listed, gone before its stat was read
        WriteProcess(3, "leaves", utime: 0, rssPages: 20);
        var collector = await StartAsync();
        var first = new RecordingSampleWriter();
        await collector.CollectAsync(first, CancellationToken.None);
        Directory.Delete(Path.Combine(ProcRoot, "3"), recursive: true);
        var second = new RecordingSampleWriter();

        await collector.CollectAsync(second, CancellationToken.None);

        Assert.Equal(2, first.Named(ProcessMetrics.MemoryUsage).Count);
        Assert.Equal(10L * Environment.SystemPageSize, second.Value(ProcessMetrics.MemoryUsage, Pid(1)));
        Assert.Single(second.Named(ProcessMetrics.MemoryUsage));
        var status = collector.GetStatus();
        Assert.Equal(2L, status["vanished"]); // pid 2 in each scan
        Assert.Equal(0L, status["skipped"]);
    }

    [Fact]
    public async Task A_malformed_stat_line_skips_that_process_and_says_why()
    {
        WriteProcess(1, "fine (really)", utime: 0, rssPages: 10);
        _fixture.Write("proc/2/stat", "2 (truncated) S 1 2\n");
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        var sample = Assert.Single(writer.Named(ProcessMetrics.MemoryUsage));
        Assert.Contains(new MetricLabel("command", "fine (really)"), sample.Labels);
        var status = collector.GetStatus();
        Assert.Equal(1L, status["skipped"]);
        Assert.Equal($"{Path.Combine(ProcRoot, "2", "stat")}: malformed stat line", status["last_skip_reason"]);
    }

    [Fact]
    public async Task A_user_missing_from_passwd_is_shown_as_its_uid()
    {
        WriteProcess(7, "daemon", utime: 0, rssPages: 10, uid: 4242);
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Contains(new MetricLabel("user", "4242"), writer.Named(ProcessMetrics.MemoryUsage).Single().Labels);
        Assert.Contains(new MetricLabel("command_line", "[daemon]"), writer.Named(ProcessMetrics.MemoryUsage).Single().Labels);
    }

    [Fact]
    public async Task Cpu_is_a_share_of_the_cpus_proc_stat_lists_not_of_the_nodes_own_quota()
    {
        WriteProcess(100, "python", utime: 1000, rssPages: 1000);
        var collector = await StartAsync(cpuCount: 16);
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1));
        WriteProcess(100, "python", utime: 1400, rssPages: 1000);
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Equal(0.25, writer.Value(ProcessMetrics.CpuUtilization, Pid(100)), 9); // 4 s of CPU in 1 s over 16 CPUs
        Assert.Equal(16, collector.GetStatus()["cpus"]);
    }

    [Fact]
    public async Task A_uid_unknown_at_first_is_named_once_the_passwd_file_knows_it_a_minute_later()
    {
        WriteProcess(7, "daemon", utime: 0, rssPages: 10, uid: 4242);
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();
        await collector.CollectAsync(writer, CancellationToken.None);
        Assert.Contains(new MetricLabel("user", "4242"), writer.Named(ProcessMetrics.MemoryUsage).Single().Labels);

        _fixture.Write("passwd", "root:x:0:0:root:/root:/bin/bash\nbob:x:4242:100::/home/bob:/bin/sh\n");
        WriteProcess(7, "daemon2", utime: 0, rssPages: 10, uid: 4242); // a new command: details are read again
        _clock.Advance(TimeSpan.FromSeconds(30));
        writer.Clear();
        await collector.CollectAsync(writer, CancellationToken.None);
        Assert.Contains(new MetricLabel("user", "4242"), writer.Named(ProcessMetrics.MemoryUsage).Single().Labels);

        WriteProcess(7, "daemon3", utime: 0, rssPages: 10, uid: 4242);
        _clock.Advance(TimeSpan.FromSeconds(31));
        writer.Clear();
        await collector.CollectAsync(writer, CancellationToken.None);
        Assert.Contains(new MetricLabel("user", "bob"), writer.Named(ProcessMetrics.MemoryUsage).Single().Labels);
    }

    [Fact]
    public void On_this_machine_the_system_user_database_names_uid_0_root()
    {
        var users = new UserNames(passwdFile: null, _clock);

        Assert.Equal("root", users.NameOf(0));
        Assert.Null(users.LoadError);
    }

    [Fact]
    public async Task On_this_machine_the_test_process_is_listed_with_its_rss_and_threads()
    {
        var command = File.ReadAllText("/proc/self/comm").Trim();
        var collector = await StartAsync($$""", "top-n": 100, "include": ["^{{Regex.Escape(command)}}$"] """, time: TimeProvider.System, procRoot: "/proc");
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        var self = Pid(Environment.ProcessId);
        var rss = writer.Value(ProcessMetrics.MemoryUsage, self);
        Assert.InRange(rss, 16 * 1024 * 1024, 64L * 1024 * 1024 * 1024);
        Assert.InRange(writer.Value(ProcessMetrics.ThreadCount, self), 2, 10_000);
        Assert.Contains(new MetricLabel("command", command), writer.Named(ProcessMetrics.ThreadCount).Single(s => s.Labels.Contains(new MetricLabel("pid", Environment.ProcessId.ToString()))).Labels);
    }

    [Fact]
    public async Task On_this_machine_the_test_process_is_in_the_top_n_by_cpu_while_it_burns_cpu()
    {
        var collector = await StartAsync(""", "top-n": 10 """, time: TimeProvider.System, procRoot: "/proc");
        var wall = Stopwatch.StartNew();
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);
        Burn(TimeSpan.FromMilliseconds(700));
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);
        wall.Stop();

        var cpu = writer.Value(ProcessMetrics.CpuUtilization, Pid(Environment.ProcessId));
        var status = collector.GetStatus();
        var cpus = (int)status["cpus"]!;
        output.WriteLine($"scanned {status["processes"]} processes in {status["last_scan_ms"]} ms, {cpus} CPUs, {wall.Elapsed.TotalSeconds:F2} s");
        // At least 0.7 s of CPU (less a tick either side) within the measured wall time, on all of the host's CPUs.
        Assert.InRange(cpu, 0.68 / wall.Elapsed.TotalSeconds / cpus, 1.0);
    }

    /// <summary>Spins until this process has used <paramref name="cpu"/> of CPU time (not wall time: the machine is shared).</summary>
    private static void Burn(TimeSpan cpu)
    {
        var until = Environment.CpuUsage.TotalTime + cpu;
        var x = 0.0;
        while (Environment.CpuUsage.TotalTime < until)
            for (var i = 0; i < 100_000; i++) x += Math.Sqrt(i);
        GC.KeepAlive(x);
    }
}
