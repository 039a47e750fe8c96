using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

namespace Tracelet.Bench.Nvml;

/// <summary>
/// The baseline of the nvml benchmark: the NVML calls that <see cref="NvmlDeviceSampler"/> makes
/// on a device in steady state, made directly through the raw <see cref="NvmlLibrary"/>
/// <c>Try*</c> methods in a plain sequence: no probe switches, no error classification, no
/// <see cref="GpuReading"/>. The plan (which queries a device answers) is copied from a warmed-up
/// sampler, so both sides ask the driver the same questions.
/// </summary>
internal sealed class RawNvmlCalls
{
    // The sampler's field-value request (NvmlDeviceSampler.FieldEntries), before it drops the
    // fields a device does not know.
    private static readonly (uint Id, uint Scope)[] FieldEntries =
    [
        (NvmlFieldId.MemoryTemperature, 0),
        (NvmlFieldId.NvLinkThroughputDataTx, NvmlFieldValue.AllLinks),
        (NvmlFieldId.NvLinkThroughputDataRx, NvmlFieldValue.AllLinks),
        (NvmlFieldId.NvLinkCrcFlitErrorTotal, 0),
        (NvmlFieldId.NvLinkCrcDataErrorTotal, 0),
        (NvmlFieldId.NvLinkReplayErrorTotal, 0),
        (NvmlFieldId.NvLinkRecoveryErrorTotal, 0),
        (NvmlFieldId.NvLinkLinkCount, 0),
    ];

    private readonly NvmlLibrary _lib;
    private readonly Plan[] _plans;

    /// <summary>Whatever the calls returned, summed, so that nothing is optimised away.</summary>
    public double Sink { get; private set; }

    /// <summary>Calls that answered anything but success, summed over all samples (expected 0).</summary>
    public long Failures { get; private set; }

    public RawNvmlCalls(NvmlLibrary library, IReadOnlyList<(NvmlDeviceHandle Handle, NvmlDeviceSampler Sampler)> devices)
    {
        _lib = library;
        _plans = devices.Select(d => PlanFor(library, d.Handle, d.Sampler)).ToArray();
    }

    /// <summary>One sample of every device: the same calls, in the same order, as the samplers make.</summary>
    public void SampleAll()
    {
        foreach (var plan in _plans) Sample(plan);
    }

    private void Sample(Plan p)
    {
        var lib = _lib;
        var d = p.Handle;
        double sum = 0;
        long failures = 0;
        if (p.Utilization) { failures += Fail(lib.TryGetUtilization(d, out var u)); sum += u.GpuPercent + u.MemoryPercent; }
        if (p.EncoderUtilization) { failures += Fail(lib.TryGetEncoderUtilization(d, out var v)); sum += v; }
        if (p.DecoderUtilization) { failures += Fail(lib.TryGetDecoderUtilization(d, out var v)); sum += v; }
        if (p.Memory) { failures += Fail(lib.TryGetMemory(d, out var m)); sum += m.UsedBytes; }
        if (p.Temperature) { failures += Fail(lib.TryGetTemperature(d, out var v)); sum += v; }
        if (p.PowerUsage) { failures += Fail(lib.TryGetPowerUsage(d, out var v)); sum += v; }
        if (p.PowerLimit) { failures += Fail(lib.TryGetEnforcedPowerLimit(d, out var v)); sum += v; }
        if (p.Energy) { failures += Fail(lib.TryGetTotalEnergy(d, out var v)); sum += v; }
        if (p.ClockSm) { failures += Fail(lib.TryGetClock(d, NvmlClockType.Sm, out var v)); sum += v; }
        if (p.ClockMemory) { failures += Fail(lib.TryGetClock(d, NvmlClockType.Memory, out var v)); sum += v; }
        if (p.ClockGraphics) { failures += Fail(lib.TryGetClock(d, NvmlClockType.Graphics, out var v)); sum += v; }
        // Max clocks: read once by the sampler and repeated from memory, so no call here.
        if (p.FanSpeed) { failures += Fail(lib.TryGetFanSpeed(d, out var v)); sum += v; }
        if (p.PerformanceState) { failures += Fail(lib.TryGetPerformanceState(d, out var v)); sum += v; }
        if (p.PcieTx) { failures += Fail(lib.TryGetPcieThroughput(d, NvmlPcieCounter.TxBytes, out var v)); sum += v; }
        if (p.PcieRx) { failures += Fail(lib.TryGetPcieThroughput(d, NvmlPcieCounter.RxBytes, out var v)); sum += v; }
        if (p.PcieReplay) { failures += Fail(lib.TryGetPcieReplayCounter(d, out var v)); sum += v; }
        if (p.PcieLink)
        {
            failures += Fail(lib.TryGetPcieLinkGeneration(d, out var generation));
            failures += Fail(lib.TryGetPcieLinkWidth(d, out var width));
            sum += generation + width;
        }
        if (p.ClockEventReasons) { failures += Fail(lib.TryGetClockEventReasons(d, out var v)); sum += v; }
        if (p.Ecc)
        {
            failures += Fail(lib.TryGetEccErrors(d, NvmlMemoryErrorType.Corrected, NvmlEccCounterType.Volatile, out var a));
            failures += Fail(lib.TryGetEccErrors(d, NvmlMemoryErrorType.Uncorrected, NvmlEccCounterType.Volatile, out var b));
            failures += Fail(lib.TryGetEccErrors(d, NvmlMemoryErrorType.Corrected, NvmlEccCounterType.Aggregate, out var c));
            failures += Fail(lib.TryGetEccErrors(d, NvmlMemoryErrorType.Uncorrected, NvmlEccCounterType.Aggregate, out var e));
            sum += a + b + c + e;
        }
        if (p.RemappedRows) { failures += Fail(lib.TryGetRemappedRows(d, out var rows)); sum += rows.Correctable; }
        if (p.RetiredPages)
        {
            failures += Fail(lib.TryGetRetiredPageCount(d, NvmlPageRetirementCause.MultipleSingleBitEccErrors, out var sbe));
            failures += Fail(lib.TryGetRetiredPageCount(d, NvmlPageRetirementCause.DoubleBitEccError, out var dbe));
            failures += Fail(lib.TryGetRetiredPagesPending(d, out var pending));
            sum += sbe + dbe + (pending ? 1 : 0);
        }
        if (p.Processes)
        {
            var rc = lib.TryGetComputeProcesses(d, p.ProcessBuffer, out var count);
            if (rc == NvmlReturn.InsufficientSize)
            {
                p.ProcessBuffer = new NvmlProcessInfo[count * 2 + 5];
                rc = lib.TryGetComputeProcesses(d, p.ProcessBuffer, out count);
            }
            failures += Fail(rc);
            for (var i = 0; i < count; i++) sum += p.ProcessBuffer[i].UsedGpuMemoryBytes;
        }
        if (p.FieldRequest.Length > 0)
        {
            var request = p.FieldRequest;
            for (var i = 0; i < request.Length; i++)
            {
                request[i] = default;
                request[i].FieldId = p.FieldIds[i].Id;
                request[i].ScopeId = p.FieldIds[i].Scope;
            }
            failures += Fail(lib.TryGetFieldValues(d, request));
            for (var i = 0; i < request.Length; i++) sum += request[i].Value.UnsignedInt;
        }
        Sink += sum;
        Failures += failures;
    }

    private static int Fail(NvmlReturn rc) => rc == NvmlReturn.Success ? 0 : 1;

    private static Plan PlanFor(NvmlLibrary lib, NvmlDeviceHandle handle, NvmlDeviceSampler sampler)
    {
        bool On(GpuProbe probe) => sampler.IsEnabled(probe);
        var ecc = new[] { GpuProbe.EccCorrectedVolatile, GpuProbe.EccUncorrectedVolatile, GpuProbe.EccCorrectedAggregate, GpuProbe.EccUncorrectedAggregate };
        if (ecc.Select(On).Distinct().Count() > 1)
            throw new InvalidOperationException($"device {handle}: the sampler answers some ECC counters but not others; the raw plan asks all four or none");

        // The fields this device answers, found the way the sampler finds them: ask once, keep what succeeded.
        var fieldIds = Array.Empty<(uint, uint)>();
        if (On(GpuProbe.FieldValues))
        {
            var probe = FieldEntries.Select(e => new NvmlFieldValue { FieldId = e.Id, ScopeId = e.Scope }).ToArray();
            if (lib.TryGetFieldValues(handle, probe) == NvmlReturn.Success)
                fieldIds = FieldEntries.Where((_, i) => probe[i].Outcome == NvmlReturn.Success).ToArray();
        }

        return new Plan(handle)
        {
            Utilization = On(GpuProbe.Utilization),
            EncoderUtilization = On(GpuProbe.EncoderUtilization),
            DecoderUtilization = On(GpuProbe.DecoderUtilization),
            Memory = On(GpuProbe.Memory),
            Temperature = On(GpuProbe.Temperature),
            PowerUsage = On(GpuProbe.PowerUsage),
            PowerLimit = On(GpuProbe.PowerLimit),
            Energy = On(GpuProbe.Energy),
            ClockSm = On(GpuProbe.ClockSm),
            ClockMemory = On(GpuProbe.ClockMemory),
            ClockGraphics = On(GpuProbe.ClockGraphics),
            FanSpeed = On(GpuProbe.FanSpeed),
            PerformanceState = On(GpuProbe.PerformanceState),
            PcieTx = On(GpuProbe.PcieTx),
            PcieRx = On(GpuProbe.PcieRx),
            PcieReplay = On(GpuProbe.PcieReplay),
            PcieLink = On(GpuProbe.PcieLink),
            ClockEventReasons = On(GpuProbe.ClockEventReasons),
            Ecc = On(GpuProbe.EccCorrectedVolatile),
            RemappedRows = On(GpuProbe.RemappedRows),
            RetiredPages = On(GpuProbe.RetiredPages),
            Processes = On(GpuProbe.Processes),
            FieldIds = fieldIds,
            FieldRequest = new NvmlFieldValue[fieldIds.Length],
        };
    }

    /// <summary>Which queries one device answers, and its reused buffers.</summary>
    private sealed class Plan(NvmlDeviceHandle handle)
    {
        public NvmlDeviceHandle Handle { get; } = handle;
        public bool Utilization { get; init; }
        public bool EncoderUtilization { get; init; }
        public bool DecoderUtilization { get; init; }
        public bool Memory { get; init; }
        public bool Temperature { get; init; }
        public bool PowerUsage { get; init; }
        public bool PowerLimit { get; init; }
        public bool Energy { get; init; }
        public bool ClockSm { get; init; }
        public bool ClockMemory { get; init; }
        public bool ClockGraphics { get; init; }
        public bool FanSpeed { get; init; }
        public bool PerformanceState { get; init; }
        public bool PcieTx { get; init; }
        public bool PcieRx { get; init; }
        public bool PcieReplay { get; init; }
        public bool PcieLink { get; init; }
        public bool ClockEventReasons { get; init; }
        public bool Ecc { get; init; }
        public bool RemappedRows { get; init; }
        public bool RetiredPages { get; init; }
        public bool Processes { get; init; }
        public (uint Id, uint Scope)[] FieldIds { get; init; } = [];
        public NvmlFieldValue[] FieldRequest { get; init; } = [];
        public NvmlProcessInfo[] ProcessBuffer { get; set; } = new NvmlProcessInfo[8];
    }
}
