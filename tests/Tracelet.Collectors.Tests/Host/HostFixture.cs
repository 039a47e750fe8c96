using Tracelet.Abstractions;
using Tracelet.Collectors.Host;
using Tracelet.Collectors.Tests.Fixtures;

namespace Tracelet.Collectors.Tests.Host;

/// <summary>A proc and sys tree in a temp folder that a spec writes, and a clock it moves by hand.</summary>
internal sealed class HostFixture : IDisposable
{
    private readonly FixtureDirectory _directory = new();

    public HostFixture()
    {
        Root = _directory.Path;
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
    public void WriteProc(string relative, string text) => _directory.Write(Path.Combine("proc", relative), text);

    public void DeleteProc(string relative) => File.Delete(Path.Combine(Proc, relative));

    /// <summary>Marks a block device as a partition the way sysfs does.</summary>
    public void MarkPartition(string device)
    {
        var folder = Path.Combine(Sys, "class", "block", device);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "partition"), "1\n");
    }

    /// <summary>A collector of the given groups over this tree; <paramref name="extra"/> is more JSON config members.</summary>
    public async Task<SystemCollector> StartAsync(string groups, string extra = "", Func<byte[], StatvfsResult>? statvfs = null)
    {
        var collector = statvfs is null ? new SystemCollector(Clock) : new SystemCollector(Clock, statvfs);
        var json = $$"""{ "groups": [{{groups}}], "proc-root": "{{Proc}}", "sys-root": "{{Sys}}"{{(extra.Length > 0 ? ", " + extra : "")}} }""";
        await collector.InitializeAsync(new PluginContext("test", Root, PluginConfig.Parse(json)), CancellationToken.None);
        await collector.StartAsync(CancellationToken.None);
        return collector;
    }

    public void Dispose() => _directory.Dispose();
}

internal static class SystemCollectorStatus
{
    /// <summary>The count of skips for one reason (0 when none).</summary>
    public static long Skipped(this SystemCollector collector, string reason) =>
        ((IReadOnlyDictionary<string, long>)collector.GetStatus()["skipped_by_reason"]!).GetValueOrDefault(reason);

    public static string? LastError(this SystemCollector collector) => (string?)collector.GetStatus()["last_skip_reason"];
}
