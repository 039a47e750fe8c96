using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Collectors.Host;

/// <summary>
/// One group of the system collector (cpu, memory, load, filesystem, disk, network): reads its
/// files, keeps what it needs from the previous sample, and writes samples. A group throws only
/// when its file cannot be read; the collector counts that and goes on with the other groups.
/// </summary>
internal abstract class MetricGroup(string name, SkipCounter skips, TimeProvider clock)
{
    /// <summary>The group's name as used in config <c>groups</c> and in status reasons.</summary>
    public string Name { get; } = name;

    /// <summary>The status reason counted when the group's file cannot be read.</summary>
    public string UnreadableReason { get; } = name + ".unreadable";

    /// <summary>The status reason counted when the group fails in a way nobody foresaw.</summary>
    public string FailedReason { get; } = name + ".failed";

    protected SkipCounter Skips { get; } = skips;

    protected TimeProvider Clock { get; } = clock;

    /// <summary>Reads, compares with the previous sample and writes; <paramref name="sample"/> numbers the collection.</summary>
    public abstract void Collect(ISampleWriter writer, long sample);

    /// <summary>Collects; a group that waits for something (statvfs under a timeout) overrides this instead of blocking.</summary>
    public virtual ValueTask CollectAsync(ISampleWriter writer, long sample)
    {
        Collect(writer, sample);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes one sample with labels built once per series.</summary>
    protected static void Write(ISampleWriter writer, string name, double value, ImmutableArray<MetricLabel> labels) =>
        writer.Write(new MetricSample(name, MetricType.System, value, writer.Now, SystemCollector.SourceName, null, labels));

    /// <summary>Seconds between two timestamps of <see cref="Clock"/>.</summary>
    protected double Seconds(long from, long to) => Clock.GetElapsedTime(from, to).TotalSeconds;
}
