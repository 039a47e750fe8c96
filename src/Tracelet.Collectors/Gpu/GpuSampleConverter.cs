using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Nvml;

namespace Tracelet.Collectors.Gpu;

/// <summary>
/// Turns a device's <see cref="GpuReading"/> (NVML units) into samples (Tracelet units, labelled).
/// Label arrays are built once per device, so a tick allocates only the sample array and the
/// per-process labels.
/// </summary>
internal sealed class GpuSampleConverter
{
    private const double Mega = 1_000_000;

    // field → metric name, factor from NVML's unit to ours, extra labels (beyond the device's).
    private static readonly (GpuField Field, string Name, double Scale, MetricLabel[] Extra)[] Table =
    [
        (GpuField.UtilizationGpuPercent, GpuMetrics.Utilization, 0.01, []),
        (GpuField.UtilizationMemoryPercent, GpuMetrics.MemoryUtilization, 0.01, []),
        (GpuField.EncoderUtilizationPercent, GpuMetrics.EncoderUtilization, 0.01, []),
        (GpuField.DecoderUtilizationPercent, GpuMetrics.DecoderUtilization, 0.01, []),
        (GpuField.MemoryTotalBytes, GpuMetrics.MemoryTotal, 1, []),
        (GpuField.MemoryUsedBytes, GpuMetrics.MemoryUsed, 1, []),
        (GpuField.MemoryFreeBytes, GpuMetrics.MemoryFree, 1, []),
        (GpuField.MemoryReservedBytes, GpuMetrics.MemoryReserved, 1, []),
        (GpuField.TemperatureCelsius, GpuMetrics.Temperature, 1, []),
        (GpuField.MemoryTemperatureCelsius, GpuMetrics.MemoryTemperature, 1, []),
        (GpuField.PowerUsageMilliwatts, GpuMetrics.PowerUsage, 0.001, []),
        (GpuField.PowerLimitMilliwatts, GpuMetrics.PowerLimit, 0.001, []),
        (GpuField.EnergyMillijoules, GpuMetrics.Energy, 0.001, []),
        (GpuField.ClockSmMegahertz, GpuMetrics.ClockSm, Mega, []),
        (GpuField.ClockMemoryMegahertz, GpuMetrics.ClockMemory, Mega, []),
        (GpuField.ClockGraphicsMegahertz, GpuMetrics.ClockGraphics, Mega, []),
        (GpuField.ClockSmMaxMegahertz, GpuMetrics.ClockSmMax, Mega, []),
        (GpuField.ClockMemoryMaxMegahertz, GpuMetrics.ClockMemoryMax, Mega, []),
        (GpuField.ClockGraphicsMaxMegahertz, GpuMetrics.ClockGraphicsMax, Mega, []),
        (GpuField.FanSpeedPercent, GpuMetrics.FanSpeed, 0.01, []),
        (GpuField.PerformanceState, GpuMetrics.PerformanceState, 1, []),
        // NVML documents "KB/s"; like nvitop we read its KB as KiB.
        (GpuField.PcieTxKilobytesPerSecond, GpuMetrics.PcieTx, 1024, []),
        (GpuField.PcieRxKilobytesPerSecond, GpuMetrics.PcieRx, 1024, []),
        (GpuField.PcieReplayCount, GpuMetrics.PcieReplays, 1, []),
        (GpuField.PcieLinkGeneration, GpuMetrics.PcieLinkGeneration, 1, []),
        (GpuField.PcieLinkWidth, GpuMetrics.PcieLinkWidth, 1, []),
        (GpuField.ClockEventReasons, GpuMetrics.ClockEventReasons, 1, []),
        (GpuField.EccCorrectedVolatile, GpuMetrics.EccErrors, 1, [new(GpuLabels.Type, "corrected"), new(GpuLabels.Counter, "volatile")]),
        (GpuField.EccUncorrectedVolatile, GpuMetrics.EccErrors, 1, [new(GpuLabels.Type, "uncorrected"), new(GpuLabels.Counter, "volatile")]),
        (GpuField.EccCorrectedAggregate, GpuMetrics.EccErrors, 1, [new(GpuLabels.Type, "corrected"), new(GpuLabels.Counter, "aggregate")]),
        (GpuField.EccUncorrectedAggregate, GpuMetrics.EccErrors, 1, [new(GpuLabels.Type, "uncorrected"), new(GpuLabels.Counter, "aggregate")]),
        (GpuField.RemappedRowsCorrectable, GpuMetrics.RemappedRows, 1, [new(GpuLabels.Type, "correctable")]),
        (GpuField.RemappedRowsUncorrectable, GpuMetrics.RemappedRows, 1, [new(GpuLabels.Type, "uncorrectable")]),
        (GpuField.RemappedRowsPending, GpuMetrics.RemapPending, 1, []),
        (GpuField.RemappedRowsFailed, GpuMetrics.RemapFailed, 1, []),
        (GpuField.RetiredPagesSingleBit, GpuMetrics.RetiredPages, 1, [new(GpuLabels.Cause, "single_bit_ecc")]),
        (GpuField.RetiredPagesDoubleBit, GpuMetrics.RetiredPages, 1, [new(GpuLabels.Cause, "double_bit_ecc")]),
        (GpuField.RetiredPagesPending, GpuMetrics.RetiredPagesPending, 1, []),
        (GpuField.NvLinkTxKibibytes, GpuMetrics.NvLinkTx, 1024, []),
        (GpuField.NvLinkRxKibibytes, GpuMetrics.NvLinkRx, 1024, []),
        (GpuField.NvLinkCrcFlitErrors, GpuMetrics.NvLinkErrors, 1, [new(GpuLabels.Type, "crc_flit")]),
        (GpuField.NvLinkCrcDataErrors, GpuMetrics.NvLinkErrors, 1, [new(GpuLabels.Type, "crc_data")]),
        (GpuField.NvLinkReplayErrors, GpuMetrics.NvLinkErrors, 1, [new(GpuLabels.Type, "replay")]),
        (GpuField.NvLinkRecoveryErrors, GpuMetrics.NvLinkErrors, 1, [new(GpuLabels.Type, "recovery")]),
        (GpuField.NvLinkLinkCount, GpuMetrics.NvLinkLinks, 1, []),
        (GpuField.ComputeProcessCount, GpuMetrics.ProcessCount, 1, []),
    ];

    private readonly string _source;
    private readonly ImmutableArray<MetricLabel> _labels;
    private readonly ImmutableArray<MetricLabel>[] _labelsByRow;
    private readonly ProcessJobLabels? _jobLabels;

    public GpuSampleConverter(string source, ImmutableArray<MetricLabel> deviceLabels, ProcessJobLabels? jobLabels)
    {
        _source = source;
        _labels = deviceLabels;
        _jobLabels = jobLabels;
        _labelsByRow = Table.Select(row => row.Extra.Length == 0 ? deviceLabels : deviceLabels.AddRange(row.Extra)).ToArray();
    }

    public ImmutableArray<MetricLabel> DeviceLabels => _labels;

    /// <summary>The device's samples: <c>gpu.up</c> = 1, every present field, and one memory sample per process.</summary>
    public void Convert(GpuReading reading, ImmutableArray<MetricSample>.Builder into)
    {
        var at = reading.Timestamp;
        into.Add(Sample(GpuMetrics.Up, 1, at, _labels));
        for (var i = 0; i < Table.Length; i++)
        {
            ref readonly var row = ref Table[i];
            if (reading.TryGet(row.Field, out var value)) into.Add(Sample(row.Name, value * row.Scale, at, _labelsByRow[i]));
        }
        if (reading.TryGet(GpuField.ClockEventReasons, out var reasons))
            into.Add(Sample(GpuMetrics.Throttled, ((ulong)reasons & GpuMetrics.ThrottleMask) != 0 ? 1 : 0, at, _labels));
        for (var p = 0; p < reading.ProcessCount; p++)
        {
            var process = reading.Processes[p];
            // NVML_VALUE_NOT_AVAILABLE: the driver does not know (WDDM, some containers). Absent, not zero.
            if (process.UsedGpuMemoryBytes == Nvml.Interop.NvmlProcessInfo.NotAvailable) continue;
            var labels = _labels.Add(new MetricLabel(GpuLabels.Pid, process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            if (_jobLabels is not null) labels = labels.AddRange(_jobLabels.For(process.Pid));
            into.Add(Sample(GpuMetrics.ProcessMemoryUsed, process.UsedGpuMemoryBytes, at, labels));
        }
    }

    /// <summary>The one sample a lost or unreachable device still gives: <c>gpu.up</c> = 0.</summary>
    public MetricSample Down(DateTimeOffset at) => Sample(GpuMetrics.Up, 0, at, _labels);

    public MetricSample Sample(string name, double value, DateTimeOffset at, ImmutableArray<MetricLabel> labels) =>
        new(name, MetricType.System, value, at, _source, Labels: labels);
}
