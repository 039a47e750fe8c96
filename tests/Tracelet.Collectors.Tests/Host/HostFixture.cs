using Tracelet.Abstractions;
using Tracelet.Collectors.Host;

namespace Tracelet.Collectors.Tests.Host;

/// <summary>A proc and sys tree in a temp folder that a spec writes, and a clock it moves by hand.</summary>
internal sealed class HostFixture : IDisposable
{
    public HostFixture()
    {
        Root = Directory.CreateTempSubdirectory("tracelet-host-").FullName;
        Proc = Path.Combine(Root, "proc");
        Sys = Path.Combine(Root, "sys");
        Directory.CreateDirectory(Path.Combine(Proc, "self"));
        Directory.CreateDirectory(Path.Combine(Proc, "net"));
        Directory.CreateDirectory(Sys);
    }

    public string Root { get; }
    public string Proc { get; }
    public string Sys { get; }
    public ManualClock Clock { get; } = new();

    /// <summary>Writes a file under proc/ (e.g. "stat", "net/dev").</summary>
    public void WriteProc(string relative, string text) => File.WriteAllText(Path.Combine(Proc, relative), text);

    public void DeleteProc(string relative) => File.Delete(Path.Combine(Proc, relative));

    /// <summary>Marks a block device as a partition the way sysfs does.</summary>
    public void MarkPartition(string device)
    {
        var folder = Path.Combine(Sys, "class", "block", device);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "partition"), "1\n");
    }

    /// <summary>A collector of the given groups over this tree; <paramref name="extra"/> is more JSON config members.</summary>
    public async Task<SystemCollector> StartAsync(string groups, string extra = "")
    {
        var collector = new SystemCollector(Clock);
        var json = $$"""{ "groups": [{{groups}}], "proc-root": "{{Proc}}", "sys-root": "{{Sys}}"{{(extra.Length > 0 ? ", " + extra : "")}} }""";
        await collector.InitializeAsync(new PluginContext("test", Root, PluginConfig.Parse(json)), CancellationToken.None);
        await collector.StartAsync(CancellationToken.None);
        return collector;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>A clock that moves only when told, so a spec knows the elapsed time exactly.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}

internal static class SystemCollectorStatus
{
    /// <summary>The count of skips for one reason (0 when none).</summary>
    public static long Skipped(this SystemCollector collector, string reason) =>
        ((IReadOnlyDictionary<string, long>)collector.GetStatus()["skipped_by_reason"]!).GetValueOrDefault(reason);

    public static string? LastError(this SystemCollector collector) => (string?)collector.GetStatus()["last_skip_reason"];
}
