using Tracelet.Abstractions;
using Tracelet.Collectors.Cgroups;
using Tracelet.Collectors.Tests.Fixtures;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Collectors.Tests.Cgroups;

public sealed class CgroupCollectorSpec : IDisposable
{
    private readonly FixtureDirectory _fixture = new();
    private readonly ManualClock _clock = new();
    private string CgroupRoot => Path.Combine(_fixture.Path, "cgroup");
    private string ProcRoot => Path.Combine(_fixture.Path, "proc");

    public void Dispose() => _fixture.Dispose();

    private void WriteHierarchy(string cpuMax = "200000 100000", string memoryMax = "1073741824")
    {
        _fixture.Write("cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
        _fixture.Write("proc/self/cgroup", "0::/slurm/job_42\n");
        _fixture.Write("cgroup/slurm/job_42/cpu.max", cpuMax + "\n");
        WriteCpuStat(usageUsec: 10_000_000, periods: 100, throttledPeriods: 10, throttledUsec: 500_000);
        _fixture.Write("cgroup/slurm/job_42/memory.max", memoryMax + "\n");
        _fixture.Write("cgroup/slurm/job_42/memory.current", "268435456\n");
        _fixture.Write("cgroup/slurm/job_42/memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n");
    }

    private void WriteCpuStat(long usageUsec, long periods, long throttledPeriods, long throttledUsec) =>
        _fixture.Write("cgroup/slurm/job_42/cpu.stat",
            $"usage_usec {usageUsec}\nuser_usec {usageUsec / 2}\nsystem_usec {usageUsec / 2}\nnr_periods {periods}\nnr_throttled {throttledPeriods}\nthrottled_usec {throttledUsec}\nnr_bursts 0\nburst_usec 0\n");

    private async Task<CgroupCollector> StartAsync(string extraConfig = "")
    {
        var collector = new CgroupCollector(_clock);
        var config = PluginConfig.Parse($$"""{ "cgroup-root": "{{CgroupRoot}}", "proc-root": "{{ProcRoot}}" {{extraConfig}} }""");
        await collector.InitializeAsync(new PluginContext("test-node", _fixture.Path, config), CancellationToken.None);
        return collector;
    }

    private static (string Key, string Value) Job => ("cgroup", "/slurm/job_42");

    [Fact]
    public async Task Limits_and_usage_come_from_the_nodes_own_cgroup_and_the_first_collection_has_no_rates()
    {
        WriteHierarchy();
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Equal(2.0, writer.Value(CgroupMetrics.CpuLimit, Job)); // 200000 / 100000 µs
        Assert.Equal(10.0, writer.Value(CgroupMetrics.CpuTime, Job));
        Assert.Equal(0.5, writer.Value(CgroupMetrics.CpuThrottledTime, Job));
        Assert.Equal(10, writer.Value(CgroupMetrics.CpuThrottledPeriods, Job));
        Assert.Equal(1073741824, writer.Value(CgroupMetrics.MemoryLimit, Job));
        Assert.Equal(268435456, writer.Value(CgroupMetrics.MemoryUsage, Job));
        Assert.Equal(0.25, writer.Value(CgroupMetrics.MemoryLimitUtilization, Job));
        Assert.Equal(1, writer.Value(CgroupMetrics.MemoryEvents, Job, ("event", "oom_kill")));
        Assert.Equal(7, writer.Value(CgroupMetrics.MemoryEvents, Job, ("event", "max")));
        Assert.Empty(writer.Named(CgroupMetrics.CpuUsage));
        Assert.Empty(writer.Named(CgroupMetrics.CpuThrottledRate));
        Assert.Equal("/slurm/job_42", collector.GetStatus()["cgroup"]);
        Assert.Equal(0L, collector.GetStatus()["skipped"]);
    }

    [Fact]
    public async Task Rates_are_taken_over_the_elapsed_time_between_collections()
    {
        WriteHierarchy();
        var collector = await StartAsync();
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);

        // 2 s later: 3 s more CPU, 20 more periods of which 5 throttled, 0.4 s more throttled time.
        _clock.Advance(TimeSpan.FromSeconds(2));
        WriteCpuStat(usageUsec: 13_000_000, periods: 120, throttledPeriods: 15, throttledUsec: 900_000);
        var writer = new RecordingSampleWriter();
        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Equal(1.5, writer.Value(CgroupMetrics.CpuUsage, Job), 9);              // 3 s / 2 s
        Assert.Equal(0.75, writer.Value(CgroupMetrics.CpuLimitUtilization, Job), 9);  // 1.5 of 2 cores
        Assert.Equal(0.2, writer.Value(CgroupMetrics.CpuThrottledRate, Job), 9);      // 0.4 s / 2 s
        Assert.Equal(0.25, writer.Value(CgroupMetrics.CpuThrottledPeriodsRatio, Job), 9); // 5 / 20
    }

    [Fact]
    public async Task Unlimited_cpu_and_memory_leave_the_limit_metrics_out()
    {
        WriteHierarchy(cpuMax: "max 100000", memoryMax: "max");
        var collector = await StartAsync();
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var writer = new RecordingSampleWriter();
        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Empty(writer.Named(CgroupMetrics.CpuLimit));
        Assert.Empty(writer.Named(CgroupMetrics.CpuLimitUtilization));
        Assert.Empty(writer.Named(CgroupMetrics.MemoryLimit));
        Assert.Empty(writer.Named(CgroupMetrics.MemoryLimitUtilization));
        Assert.Equal(0.0, writer.Value(CgroupMetrics.CpuUsage, Job));
        Assert.Equal(268435456, writer.Value(CgroupMetrics.MemoryUsage, Job));
        Assert.Equal(0L, collector.GetStatus()["skipped"]);
    }

    [Fact]
    public async Task A_host_without_cgroup_v2_gets_a_clear_status_and_no_samples()
    {
        _fixture.Write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"); // a v1 hierarchy
        _fixture.Write("proc/self/cgroup", "4:memory:/user.slice\n0::/\n");
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Empty(writer.Samples);
        Assert.Equal($"cgroup v2 not mounted at {CgroupRoot} (cgroup v1 or hybrid host)", collector.GetStatus()["cgroup"]);
    }

    [Fact]
    public async Task When_the_node_moves_to_another_cgroup_no_rate_spans_the_two()
    {
        WriteHierarchy();
        _fixture.Write("cgroup/slurm/job_43/cpu.stat", "usage_usec 99000000\nnr_periods 900\nnr_throttled 90\nthrottled_usec 9000000\n");
        var collector = await StartAsync();
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);

        _fixture.Write("proc/self/cgroup", "0::/slurm/job_43\n");
        _clock.Advance(TimeSpan.FromSeconds(1));
        var moved = new RecordingSampleWriter();
        await collector.CollectAsync(moved, CancellationToken.None);

        _fixture.Write("cgroup/slurm/job_43/cpu.stat", "usage_usec 100000000\nnr_periods 910\nnr_throttled 90\nthrottled_usec 9000000\n");
        _clock.Advance(TimeSpan.FromSeconds(1));
        var next = new RecordingSampleWriter();
        await collector.CollectAsync(next, CancellationToken.None);

        Assert.Empty(moved.Named(CgroupMetrics.CpuUsage));
        Assert.Equal(99, moved.Value(CgroupMetrics.CpuTime, ("cgroup", "/slurm/job_43")));
        Assert.Equal(1.0, next.Value(CgroupMetrics.CpuUsage, ("cgroup", "/slurm/job_43")), 9); // 1 s more CPU over 1 s
        Assert.DoesNotContain("cpu.stat.counter-backwards", ((IReadOnlyDictionary<string, long>)collector.GetStatus()["skipped_by_reason"]!).Keys);
    }

    [Fact]
    public async Task At_the_root_cgroup_the_missing_limit_files_are_said_once_in_status_not_counted_as_skips()
    {
        _fixture.Write("cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
        _fixture.Write("cgroup/cpu.stat", "usage_usec 5000000\nuser_usec 3000000\nsystem_usec 2000000\n");
        _fixture.Write("proc/self/cgroup", "0::/\n");
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1));
        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Equal(5, writer.Named(CgroupMetrics.CpuTime)[0].Value);
        Assert.Empty(writer.Named(CgroupMetrics.CpuLimit));
        Assert.Empty(writer.Named(CgroupMetrics.MemoryLimit));
        var status = collector.GetStatus();
        Assert.Equal(0L, status["skipped"]);
        Assert.Equal("/ (root cgroup: no limits)", status["cgroup"]);
    }

    [Fact]
    public async Task A_missing_file_and_a_malformed_line_skip_only_their_metric_and_are_counted()
    {
        WriteHierarchy();
        File.Delete(Path.Combine(CgroupRoot, "slurm/job_42/memory.events"));
        _fixture.Write("cgroup/slurm/job_42/memory.max", "lots\n");
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Empty(writer.Named(CgroupMetrics.MemoryEvents));
        Assert.Empty(writer.Named(CgroupMetrics.MemoryLimit));
        Assert.Equal(268435456, writer.Value(CgroupMetrics.MemoryUsage, Job));
        Assert.Equal(2.0, writer.Value(CgroupMetrics.CpuLimit, Job));
        var status = collector.GetStatus();
        Assert.Equal(2L, status["skipped"]);
        Assert.Equal(new SortedDictionary<string, long> { ["file.malformed"] = 1, ["file.unreadable"] = 1 }, status["skipped_by_reason"]);
        Assert.StartsWith("memory.events: file not found", (string)status["last_skip_reason"]!); // read after memory.max
    }

    [Fact]
    public async Task A_counter_that_goes_backwards_skips_the_rates_once()
    {
        WriteHierarchy();
        var collector = await StartAsync();
        await collector.CollectAsync(new RecordingSampleWriter(), CancellationToken.None);

        _clock.Advance(TimeSpan.FromSeconds(1));
        WriteCpuStat(usageUsec: 1_000_000, periods: 5, throttledPeriods: 0, throttledUsec: 0); // the cgroup was recreated
        var reset = new RecordingSampleWriter();
        await collector.CollectAsync(reset, CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1));
        WriteCpuStat(usageUsec: 1_500_000, periods: 15, throttledPeriods: 0, throttledUsec: 0);
        var after = new RecordingSampleWriter();
        await collector.CollectAsync(after, CancellationToken.None);

        Assert.Empty(reset.Named(CgroupMetrics.CpuUsage));
        Assert.Equal(1.0, reset.Value(CgroupMetrics.CpuTime, Job));
        Assert.Contains("went backwards", (string)collector.GetStatus()["last_skip_reason"]!);
        Assert.Equal(0.5, after.Value(CgroupMetrics.CpuUsage, Job), 9);
        Assert.Equal(0.0, after.Value(CgroupMetrics.CpuThrottledPeriodsRatio, Job));
    }

    [Fact]
    public async Task A_configured_path_is_watched_instead_of_the_nodes_own_cgroup()
    {
        WriteHierarchy();
        _fixture.Write("cgroup/kubepods/pod-a/memory.current", "1024\n");
        var collector = await StartAsync(""", "path": "/kubepods/pod-a" """);
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        Assert.Equal(1024, writer.Value(CgroupMetrics.MemoryUsage, ("cgroup", "/kubepods/pod-a")));
        Assert.DoesNotContain(writer.Samples, s => s.Labels.Contains(new MetricLabel("cgroup", "/slurm/job_42")));
    }

    [Fact]
    public async Task On_this_machine_the_node_reads_its_real_cgroup_or_says_that_v2_is_not_mounted()
    {
        var collector = new CgroupCollector();
        await collector.InitializeAsync(new PluginContext("test-node", _fixture.Path, PluginConfig.Empty), CancellationToken.None);
        var writer = new RecordingSampleWriter();

        await collector.CollectAsync(writer, CancellationToken.None);

        var state = (string)collector.GetStatus()["cgroup"]!;
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers"))
        {
            Assert.StartsWith("/", state);
            Assert.True(writer.Value(CgroupMetrics.CpuTime, ("cgroup", state)) > 0);
        }
        else
        {
            Assert.Equal("cgroup v2 not mounted at /sys/fs/cgroup (cgroup v1 or hybrid host)", state);
            Assert.Empty(writer.Samples);
        }
    }
}
