using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Host;

/// <summary>
/// Per block device, from /proc/diskstats: bytes, operations and time spent per direction, busy
/// time, as rates over the real time elapsed since the device's previous sample; requests in flight.
/// Partitions (those with a <c>partition</c> file under /sys/class/block) are left out unless asked for.
/// </summary>
internal sealed class DiskGroup : MetricGroup
{
    private const string Malformed = "disk.malformed";
    private const string CounterReset = "disk.counter-reset";
    private const string Vanished = "disk.vanished";

    // The kernel counts diskstats sectors in 512-byte units whatever the device's sector size.
    private const double SectorBytes = 512;
    private const double Millisecond = 0.001;

    // Counters kept per device, by their index among the numbers after the name (Documentation/admin-guide/iostats.rst).
    private const int ReadsCompleted = 0, SectorsRead = 2, MsReading = 3, WritesCompleted = 4, SectorsWritten = 6, MsWriting = 7, InFlight = 8, MsDoingIo = 9;
    private const int Fields = 11;

    private readonly ProcFileReader _file;
    private readonly SeriesTable<Device> _devices;

    public DiskGroup(string procRoot, string sysRoot, NameFilter filter, bool partitions, SkipCounter skips, TimeProvider clock)
        : base("disk", skips, clock)
    {
        _file = new ProcFileReader(Path.Combine(procRoot, "diskstats"));
        _devices = new SeriesTable<Device>(name => new Device(name,
            filter.Accepts(name) && (partitions || !File.Exists(Path.Combine(sysRoot, "class", "block", name.Replace('/', '!'), "partition")))));
    }

    /// <summary>How many devices the last sample saw (collected or not).</summary>
    public int DeviceCount => _devices.Count;

    public override void Collect(ISampleWriter writer, long sample)
    {
        var text = _file.Read();
        var now = Clock.GetTimestamp();
        Span<ulong> values = stackalloc ulong[Fields];
        while (SpanText.NextLine(ref text, out var line))
        {
            if (SpanText.IsBlank(line)) continue;
            if (!SpanText.NextUInt64(ref line, out _) || !SpanText.NextUInt64(ref line, out _) || !SpanText.NextField(ref line, out var name) || !TryParse(ref line, values))
            {
                Skips.Count(Malformed);
                continue;
            }
            var device = _devices.Get(name, sample);
            if (!device.Included) continue;
            Write(writer, SystemMetrics.DiskPendingOperations, values[InFlight], device.Labels);
            if (device.HasPrevious)
            {
                var seconds = Seconds(device.PreviousAt, now);
                Rate(writer, SystemMetrics.DiskIo, device, SectorsRead, values, seconds, SectorBytes, device.Read);
                Rate(writer, SystemMetrics.DiskIo, device, SectorsWritten, values, seconds, SectorBytes, device.Write);
                Rate(writer, SystemMetrics.DiskOperations, device, ReadsCompleted, values, seconds, 1, device.Read);
                Rate(writer, SystemMetrics.DiskOperations, device, WritesCompleted, values, seconds, 1, device.Write);
                Rate(writer, SystemMetrics.DiskOperationTime, device, MsReading, values, seconds, Millisecond, device.Read);
                Rate(writer, SystemMetrics.DiskOperationTime, device, MsWriting, values, seconds, Millisecond, device.Write);
                Rate(writer, SystemMetrics.DiskIoTime, device, MsDoingIo, values, seconds, Millisecond, device.Labels);
            }
            values.CopyTo(device.Previous);
            device.PreviousAt = now;
            device.HasPrevious = true;
        }
        Skips.Count(Vanished, _devices.RemoveUnseen(sample));
    }

    private void Rate(ISampleWriter writer, string name, Device device, int field, ReadOnlySpan<ulong> values, double seconds, double scale, ImmutableArray<MetricLabel> labels)
    {
        if (CounterDelta.TryRate(device.Previous[field], values[field], seconds, scale, out var rate)) Write(writer, name, rate, labels);
        else Skips.Count(CounterReset);
    }

    // Kernels before 4.18 write 11 numbers, later ones 15 or 17 (discards, flushes); we use the first 11.
    private static bool TryParse(ref ReadOnlySpan<byte> line, Span<ulong> values)
    {
        for (var i = 0; i < values.Length; i++)
            if (!SpanText.NextUInt64(ref line, out values[i])) return false;
        return true;
    }

    private sealed class Device(string name, bool included) : SeriesEntry
    {
        public bool Included { get; } = included;
        public ImmutableArray<MetricLabel> Labels { get; } = [new(SystemLabels.Device, name)];
        public ImmutableArray<MetricLabel> Read { get; } = [new(SystemLabels.Device, name), new(SystemLabels.Direction, "read")];
        public ImmutableArray<MetricLabel> Write { get; } = [new(SystemLabels.Device, name), new(SystemLabels.Direction, "write")];
        public ulong[] Previous { get; } = new ulong[Fields];
        public long PreviousAt;
        public bool HasPrevious;
    }
}
