using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Bench.Pipeline;

/// <summary>
/// Collector-like batches of 100 samples: 10 system metrics × 10 CPUs, one timestamp per batch
/// (one tick), labels <c>node</c> and <c>cpu</c> (label arrays shared between batches, as a
/// collector's per-device labels are).
/// </summary>
internal sealed class Batches
{
    public const int SamplesPerBatch = 100;

    public const string Source = "bench";

    private static readonly string[] Names =
    [
        "system.cpu.utilization", "system.cpu.user", "system.cpu.system", "system.cpu.iowait", "system.cpu.irq",
        "system.cpu.frequency", "system.cpu.temperature", "system.cpu.steal", "system.cpu.idle", "system.cpu.nice",
    ];

    private readonly string _node;
    private readonly ImmutableArray<MetricLabel>[] _labels;
    private long _tick;

    public Batches(string node)
    {
        _node = node;
        _labels = [.. Enumerable.Range(0, SamplesPerBatch / Names.Length).Select(cpu => ImmutableArray.Create(new MetricLabel("node", node), new MetricLabel("cpu", cpu.ToString(System.Globalization.CultureInfo.InvariantCulture))))];
    }

    /// <summary>A new batch (new sample array, timestamp one tick after the previous batch's).</summary>
    public MetricBatch Next()
    {
        var tick = _tick++;
        var timestamp = new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero).AddMilliseconds(tick);
        var samples = ImmutableArray.CreateBuilder<MetricSample>(SamplesPerBatch);
        for (var i = 0; i < SamplesPerBatch; i++)
            samples.Add(new MetricSample(Names[i % Names.Length], MetricType.System, (tick + i) % 1000 / 10.0, timestamp, Source, Labels: _labels[i / Names.Length]));
        return new MetricBatch(_node, Source, samples.MoveToImmutable());
    }

    /// <summary><paramref name="count"/> distinct batches, built ahead so that the timed loops only send.</summary>
    public MetricBatch[] Pool(int count) => [.. Enumerable.Range(0, count).Select(_ => Next())];
}
