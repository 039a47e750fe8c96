using System.Globalization;
using System.Text.Json;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.Collectors.Host;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Collectors.Tests.Host;

/// <summary>The system collector on this machine's real /proc and /sys, and its config schema.</summary>
public sealed class SystemCollectorSpec
{
    private static async Task<SystemCollector> StartAsync(string config = "{}")
    {
        var collector = new SystemCollector();
        await collector.InitializeAsync(new PluginContext("test", Path.GetTempPath(), PluginConfig.Parse(config)), CancellationToken.None);
        await collector.StartAsync(CancellationToken.None);
        return collector;
    }

    /// <summary>Polls /proc/stat until the machine's total jiffies (10 ms each) moved past their value now, so the next sample has CPU rates.</summary>
    private static async Task WaitForJiffiesAsync()
    {
        static ulong Total() => File.ReadLines("/proc/stat").First(l => l.StartsWith("cpu ", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Aggregate(0UL, (sum, field) => sum + ulong.Parse(field, CultureInfo.InvariantCulture));
        var before = Total();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Total() == before)
        {
            Assert.True(DateTime.UtcNow < deadline, "the total jiffies in /proc/stat did not move for 10 s");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task The_first_sample_has_no_rates_and_the_second_has_sane_ones()
    {
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();
        await collector.CollectAsync(writer, CancellationToken.None);
        string[] rates = [SystemMetrics.CpuUtilization, SystemMetrics.ContextSwitches, SystemMetrics.DiskIo, SystemMetrics.DiskIoTime, SystemMetrics.NetworkIo, SystemMetrics.NetworkPackets];
        Assert.DoesNotContain(writer.Samples, s => rates.Contains(s.Name));
        Assert.NotEmpty(writer.Named(SystemMetrics.MemoryLimit));

        await WaitForJiffiesAsync();
        writer.Clear();
        await collector.CollectAsync(writer, CancellationToken.None);

        var cpuLines = File.ReadLines("/proc/stat").Count(l => l.StartsWith("cpu", StringComparison.Ordinal) && char.IsDigit(l[3]));
        Assert.Equal(cpuLines, writer.Value(SystemMetrics.CpuLogicalCount));
        Assert.InRange(Environment.ProcessorCount, 1, cpuLines);
        // The machine's jiffies moved on; an idle core's may not have: it is counted, not reported.
        var coresReported = writer.Named(SystemMetrics.CpuUtilization).Where(s => s.Labels.Length == 2).Select(s => s.Labels[0].Value).Distinct().Count();
        Assert.Equal(8, writer.Named(SystemMetrics.CpuUtilization).Count(s => s.Labels.Length == 1));
        Assert.Equal(8 * coresReported, writer.Named(SystemMetrics.CpuUtilization).Count(s => s.Labels.Length == 2));
        Assert.Equal(cpuLines, coresReported + collector.Skipped("cpu.no-time-passed"));
        Assert.All(writer.Named(SystemMetrics.CpuUtilization), s => Assert.InRange(s.Value, 0, 1));
        var totalShares = writer.Named(SystemMetrics.CpuUtilization).Where(s => s.Labels.Length == 1).Sum(s => s.Value);
        Assert.Equal(1, totalShares, 1e-9);
        Assert.NotEmpty(writer.Named(SystemMetrics.ContextSwitches));

        foreach (var name in new[] { SystemMetrics.ContextSwitches, SystemMetrics.DiskIo, SystemMetrics.DiskOperations, SystemMetrics.DiskIoTime, SystemMetrics.NetworkIo, SystemMetrics.NetworkPackets, SystemMetrics.NetworkErrors, SystemMetrics.NetworkDropped })
            Assert.All(writer.Named(name), s => Assert.True(s.Value >= 0, $"{name} {string.Join(",", s.Labels)} = {s.Value}"));
        Assert.All(writer.Named(SystemMetrics.DiskIoTime), s => Assert.InRange(s.Value, 0, 1.05));
        Assert.All(writer.Samples, s => Assert.False(double.IsNaN(s.Value) || double.IsInfinity(s.Value), s.Name));

        var skipped = (IReadOnlyDictionary<string, long>)collector.GetStatus()["skipped_by_reason"]!;
        Assert.DoesNotContain(skipped.Keys, k => k.EndsWith(".unreadable", StringComparison.Ordinal) || k.EndsWith(".malformed", StringComparison.Ordinal) || k.EndsWith(".failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Memory_total_matches_proc_meminfo_and_the_root_filesystem_is_sampled()
    {
        var collector = await StartAsync();
        var writer = new RecordingSampleWriter();
        await collector.CollectAsync(writer, CancellationToken.None);

        var memTotalKiB = long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        Assert.Equal(memTotalKiB * 1024, writer.Value(SystemMetrics.MemoryLimit));
        Assert.InRange(writer.Value(SystemMetrics.MemoryUtilization), 0, 1);
        Assert.InRange(writer.Value(SystemMetrics.MemoryUsage, ("state", "used")), 1, memTotalKiB * 1024);
        Assert.True(writer.Value(SystemMetrics.LoadAverage1m) >= 0);

        var root = new DriveInfo("/");
        double RootUsage(string state) => writer.Value(SystemMetrics.FilesystemUsage, ("mountpoint", "/"), ("state", state));
        Assert.Equal(root.TotalSize, RootUsage("used") + RootUsage("free") + RootUsage("reserved"));
        Assert.InRange(writer.Value(SystemMetrics.FilesystemUtilization, ("mountpoint", "/")), 0, 1);
        Assert.True(writer.Value(SystemMetrics.FilesystemInodesUsage, ("mountpoint", "/"), ("state", "used")) > 0);
        Assert.DoesNotContain(writer.Samples, s => s.Labels.Contains(new("mountpoint", "/proc")) || s.Labels.Contains(new("mountpoint", "/sys")));
    }

    [Theory]
    [InlineData("""{ "groups": ["cpu", "gpu"] }""", "groups[1]")]
    [InlineData("""{ "per-cores": true }""", "per-cores")]
    [InlineData("""{ "disks-exclude": "loop*" }""", "disks-exclude")]
    [InlineData("""{ "proc-root": "" }""", "proc-root")]
    public void The_config_schema_rejects_bad_keys_naming_them(string config, string key)
    {
        var schema = PluginConfigValidator.ParseSchema(new SystemCollector().Metadata.ConfigSchema!, out var schemaError);
        Assert.Null(schemaError);
        var error = PluginConfigValidator.Validate(schema!, JsonDocument.Parse(config).RootElement);
        Assert.NotNull(error);
        Assert.Contains($"'{key}'", error);
    }

    [Fact]
    public void The_config_schema_accepts_every_documented_key()
    {
        var schema = PluginConfigValidator.ParseSchema(new SystemCollector().Metadata.ConfigSchema!, out _);
        const string Config = """
            { "interval": "1s", "groups": ["cpu", "memory", "load", "filesystem", "disk", "network"], "per-core": false,
              "disks": ["nvme*"], "disks-exclude": ["loop*"], "partitions": true, "mountpoints": ["/", "/data*"],
              "mountpoints-exclude": ["/boot*"], "filesystem-types-exclude": ["proc"], "interfaces": ["eth*"],
              "interfaces-exclude": ["lo"], "proc-root": "/host/proc", "sys-root": "/host/sys" }
            """;
        Assert.Null(PluginConfigValidator.Validate(schema!, JsonDocument.Parse(Config).RootElement));
    }

    [Fact]
    public async Task Per_core_off_leaves_only_the_machine_wide_utilization()
    {
        var collector = await StartAsync("""{ "groups": ["cpu"], "per-core": false }""");
        var writer = new RecordingSampleWriter();
        await collector.CollectAsync(writer, CancellationToken.None);
        await WaitForJiffiesAsync();
        writer.Clear();
        await collector.CollectAsync(writer, CancellationToken.None);
        Assert.All(writer.Samples, s => Assert.DoesNotContain(s.Labels, l => l.Key == "core"));
        Assert.Equal(8, writer.Named(SystemMetrics.CpuUtilization).Count);
    }
}
