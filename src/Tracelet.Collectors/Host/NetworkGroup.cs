using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Host;

/// <summary>
/// Per network interface, from /proc/net/dev (the node's network namespace): bytes, packets,
/// errors and drops per direction, as rates over the real time elapsed since the interface's previous sample.
/// </summary>
internal sealed class NetworkGroup : MetricGroup
{
    private const string Malformed = "network.malformed";
    private const string CounterReset = "network.counter-reset";
    private const string Vanished = "network.vanished";

    // Columns after "name:": 8 receive counters, then 8 transmit counters; we keep bytes, packets, errs, drop of each.
    private const int Columns = 16, Transmit = 8;
    private const int Bytes = 0, Packets = 1, Errors = 2, Dropped = 3;

    private readonly ProcFileReader _file;
    private readonly SeriesTable<Interface> _interfaces;

    public NetworkGroup(string procRoot, NameFilter filter, SkipCounter skips, TimeProvider clock)
        : base("network", skips, clock)
    {
        _file = new ProcFileReader(Path.Combine(procRoot, "net", "dev"));
        _interfaces = new SeriesTable<Interface>(name => new Interface(name, filter.Accepts(name)));
    }

    /// <summary>How many interfaces the last sample saw (collected or not).</summary>
    public int InterfaceCount => _interfaces.Count;

    public override void Collect(ISampleWriter writer, long sample)
    {
        var text = _file.Read();
        var now = Clock.GetTimestamp();
        Span<ulong> values = stackalloc ulong[Columns];
        while (SpanText.NextLine(ref text, out var line))
        {
            // The two header lines have a '|' and no interface; a counter line is "name: numbers".
            var colon = line.IndexOf((byte)':');
            if (line.IndexOf((byte)'|') >= 0 || SpanText.IsBlank(line)) continue;
            var name = colon > 0 ? line[..colon].Trim((byte)' ') : default;
            var rest = colon > 0 ? line[(colon + 1)..] : default;
            if (name.IsEmpty || !TryParse(ref rest, values))
            {
                Skips.Count(Malformed);
                continue;
            }
            var link = _interfaces.Get(name, sample);
            if (!link.Included) continue;
            if (link.HasPrevious)
            {
                var seconds = Seconds(link.PreviousAt, now);
                for (var direction = 0; direction <= Transmit; direction += Transmit)
                {
                    var labels = direction == 0 ? link.Receive : link.Transmit;
                    Rate(writer, SystemMetrics.NetworkIo, link, direction + Bytes, values, seconds, labels);
                    Rate(writer, SystemMetrics.NetworkPackets, link, direction + Packets, values, seconds, labels);
                    Rate(writer, SystemMetrics.NetworkErrors, link, direction + Errors, values, seconds, labels);
                    Rate(writer, SystemMetrics.NetworkDropped, link, direction + Dropped, values, seconds, labels);
                }
            }
            values.CopyTo(link.Previous);
            link.PreviousAt = now;
            link.HasPrevious = true;
        }
        Skips.Count(Vanished, _interfaces.RemoveUnseen(sample));
    }

    private void Rate(ISampleWriter writer, string name, Interface link, int column, ReadOnlySpan<ulong> values, double seconds, ImmutableArray<MetricLabel> labels)
    {
        if (CounterDelta.TryRate(link.Previous[column], values[column], seconds, 1, out var rate)) Write(writer, name, rate, labels);
        else Skips.Count(CounterReset);
    }

    private static bool TryParse(ref ReadOnlySpan<byte> line, Span<ulong> values)
    {
        for (var i = 0; i < values.Length; i++)
            if (!SpanText.NextUInt64(ref line, out values[i])) return false;
        return true;
    }

    private sealed class Interface(string name, bool included) : SeriesEntry
    {
        public bool Included { get; } = included;
        public ImmutableArray<MetricLabel> Receive { get; } = [new(SystemLabels.Interface, name), new(SystemLabels.Direction, "receive")];
        public ImmutableArray<MetricLabel> Transmit { get; } = [new(SystemLabels.Interface, name), new(SystemLabels.Direction, "transmit")];
        public ulong[] Previous { get; } = new ulong[Columns];
        public long PreviousAt;
        public bool HasPrevious;
    }
}
