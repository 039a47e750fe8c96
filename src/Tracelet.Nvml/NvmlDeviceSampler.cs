using Tracelet.Nvml.Interop;

namespace Tracelet.Nvml;

/// <summary>
/// Samples one device into a reused <see cref="GpuReading"/>: every default metric, no
/// allocation per tick. A query that answers "not supported" (or "no permission", or a missing
/// symbol) is switched off for this device after that first answer, like W&amp;B's availability
/// flags: no further calls, no noise. A lost GPU stops the tick at once. Not thread-safe: one
/// owner (the device's actor) calls it.
/// </summary>
public sealed class NvmlDeviceSampler
{
    private static readonly int ProbeCount = Enum.GetValues<GpuProbe>().Length;

    // Field-value entries: what to ask for and where the answer goes. NVLink throughput is the
    // sum over links (scope = all). Energy comes from here, saving a call: reading the counter is
    // what costs (an H200 on driver 580: 3.0 ms through FI 83, 3.2 ms through
    // nvmlDeviceGetTotalEnergyConsumption; docs/gpu.md); the function is the fallback when a
    // driver does not answer FI 83.
    private static readonly (uint Id, uint Scope, GpuField Field)[] FieldEntries =
    [
        (NvmlFieldId.TotalEnergyConsumption, 0, GpuField.EnergyMillijoules),
        (NvmlFieldId.MemoryTemperature, 0, GpuField.MemoryTemperatureCelsius),
        (NvmlFieldId.NvLinkThroughputDataTx, NvmlFieldValue.AllLinks, GpuField.NvLinkTxKibibytes),
        (NvmlFieldId.NvLinkThroughputDataRx, NvmlFieldValue.AllLinks, GpuField.NvLinkRxKibibytes),
        (NvmlFieldId.NvLinkCrcFlitErrorTotal, 0, GpuField.NvLinkCrcFlitErrors),
        (NvmlFieldId.NvLinkCrcDataErrorTotal, 0, GpuField.NvLinkCrcDataErrors),
        (NvmlFieldId.NvLinkReplayErrorTotal, 0, GpuField.NvLinkReplayErrors),
        (NvmlFieldId.NvLinkRecoveryErrorTotal, 0, GpuField.NvLinkRecoveryErrors),
        (NvmlFieldId.NvLinkLinkCount, 0, GpuField.NvLinkLinkCount),
    ];

    private readonly NvmlLibrary _lib;
    private readonly NvmlDeviceHandle _device;
    private readonly NvmlReturn?[] _disabled = new NvmlReturn?[ProbeCount];
    private readonly List<(uint Id, uint Scope, GpuField Field)> _fieldEntries = [.. FieldEntries];
    private readonly Dictionary<uint, NvmlReturn> _disabledFields = [];
    private NvmlFieldValue[] _fieldRequest;
    private bool _maxClocksRead;
    private double _maxSm, _maxMemory, _maxGraphics;

    public NvmlDeviceSampler(NvmlLibrary library, NvmlDeviceHandle device, GpuSamplerOptions options)
    {
        _lib = library;
        _device = device;
        Options = options;
        _fieldRequest = new NvmlFieldValue[_fieldEntries.Count];
        if (!options.PcieThroughput)
        {
            _disabled[(int)GpuProbe.PcieTx] = NvmlReturn.Success; // switched off by configuration, not by the device
            _disabled[(int)GpuProbe.PcieRx] = NvmlReturn.Success;
        }
        if (!options.Processes) _disabled[(int)GpuProbe.Processes] = NvmlReturn.Success;
        if (options.IsMigDevice)
        {
            // A MIG device answers only for its own memory and processes; the rest belongs to the parent.
            for (var p = 0; p < ProbeCount; p++)
            {
                if ((GpuProbe)p is not (GpuProbe.Memory or GpuProbe.Processes)) _disabled[p] = NvmlReturn.Success;
            }
        }
    }

    public GpuSamplerOptions Options { get; }

    /// <summary>Answers that were neither success nor "unsupported" (busy driver, no data yet...), summed over ticks.</summary>
    public long TransientErrors { get; private set; }

    /// <summary>The answer that made each query go off on this device (configuration switches are not listed).</summary>
    public IEnumerable<(string Metric, NvmlReturn Code)> Unsupported
    {
        get
        {
            for (var p = 0; p < ProbeCount; p++)
            {
                if (_disabled[p] is { } code && code != NvmlReturn.Success) yield return (((GpuProbe)p).ToString(), code);
            }
            foreach (var (id, code) in _disabledFields) yield return ($"Field{id}", code);
        }
    }

    /// <summary>Whether a tick calls this query's function (energy is not called while the field-value batch answers for it).</summary>
    public bool IsEnabled(GpuProbe probe) => _disabled[(int)probe] is null && !(probe == GpuProbe.Energy && EnergyFromFieldValues);

    /// <summary>
    /// Takes one sample into <paramref name="reading"/>. Returns <see cref="NvmlReturn.Success"/>,
    /// or the code that makes the device (<see cref="NvmlErrorClass.DeviceLost"/>) or the whole
    /// library (<see cref="NvmlErrorClass.LibraryFatal"/>) unusable; then the reading is partial.
    /// </summary>
    public NvmlReturn Sample(GpuReading reading)
    {
        reading.Clear();
        reading.Timestamp = DateTimeOffset.UtcNow;
        var d = _device;
        NvmlReturn rc;

        if (On(GpuProbe.Utilization))
        {
            rc = _lib.TryGetUtilization(d, out var u);
            if (Check(GpuProbe.Utilization, rc, out var fatal)) { reading.Set(GpuField.UtilizationGpuPercent, u.GpuPercent); reading.Set(GpuField.UtilizationMemoryPercent, u.MemoryPercent); }
            else if (fatal) return rc;
        }
        if (!ReadUInt(GpuProbe.EncoderUtilization, GpuField.EncoderUtilizationPercent, reading, static (l, h, out v) => l.TryGetEncoderUtilization(h, out v), out rc)) return rc;
        if (!ReadUInt(GpuProbe.DecoderUtilization, GpuField.DecoderUtilizationPercent, reading, static (l, h, out v) => l.TryGetDecoderUtilization(h, out v), out rc)) return rc;
        if (On(GpuProbe.Memory))
        {
            rc = _lib.TryGetMemory(d, out var m);
            if (Check(GpuProbe.Memory, rc, out var fatal))
            {
                reading.Set(GpuField.MemoryTotalBytes, m.TotalBytes);
                reading.Set(GpuField.MemoryUsedBytes, m.UsedBytes);
                reading.Set(GpuField.MemoryFreeBytes, m.FreeBytes);
                if (m.ReservedBytes is { } reserved) reading.Set(GpuField.MemoryReservedBytes, reserved);
            }
            else if (fatal) return rc;
        }
        if (On(GpuProbe.Temperature))
        {
            rc = _lib.TryGetTemperature(d, out var celsius);
            if (Check(GpuProbe.Temperature, rc, out var fatal)) reading.Set(GpuField.TemperatureCelsius, celsius);
            else if (fatal) return rc;
        }
        if (!ReadUInt(GpuProbe.PowerUsage, GpuField.PowerUsageMilliwatts, reading, static (l, h, out v) => l.TryGetPowerUsage(h, out v), out rc)) return rc;
        if (!ReadUInt(GpuProbe.PowerLimit, GpuField.PowerLimitMilliwatts, reading, static (l, h, out v) => l.TryGetEnforcedPowerLimit(h, out v), out rc)) return rc;
        if (On(GpuProbe.Energy) && !EnergyFromFieldValues)
        {
            rc = _lib.TryGetTotalEnergy(d, out var mj);
            if (Check(GpuProbe.Energy, rc, out var fatal)) reading.Set(GpuField.EnergyMillijoules, mj);
            else if (fatal) return rc;
        }
        if (!ReadUInt(GpuProbe.ClockSm, GpuField.ClockSmMegahertz, reading, static (l, h, out v) => l.TryGetClock(h, NvmlClockType.Sm, out v), out rc)) return rc;
        if (!ReadUInt(GpuProbe.ClockMemory, GpuField.ClockMemoryMegahertz, reading, static (l, h, out v) => l.TryGetClock(h, NvmlClockType.Memory, out v), out rc)) return rc;
        if (!ReadUInt(GpuProbe.ClockGraphics, GpuField.ClockGraphicsMegahertz, reading, static (l, h, out v) => l.TryGetClock(h, NvmlClockType.Graphics, out v), out rc)) return rc;
        if (On(GpuProbe.MaxClocks))
        {
            // Maxima are fixed for the life of the device: asked once, then repeated from memory.
            if (!_maxClocksRead)
            {
                rc = _lib.TryGetMaxClock(d, NvmlClockType.Sm, out var sm);
                if (Check(GpuProbe.MaxClocks, rc, out var fatal))
                {
                    _lib.TryGetMaxClock(d, NvmlClockType.Memory, out var mem);
                    _lib.TryGetMaxClock(d, NvmlClockType.Graphics, out var graphics);
                    (_maxSm, _maxMemory, _maxGraphics, _maxClocksRead) = (sm, mem, graphics, true);
                }
                else if (fatal) return rc;
            }
            if (_maxClocksRead)
            {
                reading.Set(GpuField.ClockSmMaxMegahertz, _maxSm);
                reading.Set(GpuField.ClockMemoryMaxMegahertz, _maxMemory);
                reading.Set(GpuField.ClockGraphicsMaxMegahertz, _maxGraphics);
            }
        }
        if (!ReadUInt(GpuProbe.FanSpeed, GpuField.FanSpeedPercent, reading, static (l, h, out v) => l.TryGetFanSpeed(h, out v), out rc)) return rc;
        if (On(GpuProbe.PerformanceState))
        {
            rc = _lib.TryGetPerformanceState(d, out var pstate);
            if (Check(GpuProbe.PerformanceState, rc, out var fatal)) reading.Set(GpuField.PerformanceState, pstate);
            else if (fatal) return rc;
        }
        if (!ReadUInt(GpuProbe.PcieTx, GpuField.PcieTxKilobytesPerSecond, reading, static (l, h, out v) => l.TryGetPcieThroughput(h, NvmlPcieCounter.TxBytes, out v), out rc)) return rc;
        if (!ReadUInt(GpuProbe.PcieRx, GpuField.PcieRxKilobytesPerSecond, reading, static (l, h, out v) => l.TryGetPcieThroughput(h, NvmlPcieCounter.RxBytes, out v), out rc)) return rc;
        if (!ReadUInt(GpuProbe.PcieReplay, GpuField.PcieReplayCount, reading, static (l, h, out v) => l.TryGetPcieReplayCounter(h, out v), out rc)) return rc;
        if (On(GpuProbe.PcieLink))
        {
            rc = _lib.TryGetPcieLinkGeneration(d, out var generation);
            if (Check(GpuProbe.PcieLink, rc, out var fatal))
            {
                reading.Set(GpuField.PcieLinkGeneration, generation);
                if (_lib.TryGetPcieLinkWidth(d, out var width) == NvmlReturn.Success) reading.Set(GpuField.PcieLinkWidth, width);
            }
            else if (fatal) return rc;
        }
        if (On(GpuProbe.ClockEventReasons))
        {
            rc = _lib.TryGetClockEventReasons(d, out var reasons);
            if (Check(GpuProbe.ClockEventReasons, rc, out var fatal)) reading.Set(GpuField.ClockEventReasons, reasons);
            else if (fatal) return rc;
        }
        if (!ReadEcc(GpuProbe.EccCorrectedVolatile, GpuField.EccCorrectedVolatile, NvmlMemoryErrorType.Corrected, NvmlEccCounterType.Volatile, reading, out rc)) return rc;
        if (!ReadEcc(GpuProbe.EccUncorrectedVolatile, GpuField.EccUncorrectedVolatile, NvmlMemoryErrorType.Uncorrected, NvmlEccCounterType.Volatile, reading, out rc)) return rc;
        if (!ReadEcc(GpuProbe.EccCorrectedAggregate, GpuField.EccCorrectedAggregate, NvmlMemoryErrorType.Corrected, NvmlEccCounterType.Aggregate, reading, out rc)) return rc;
        if (!ReadEcc(GpuProbe.EccUncorrectedAggregate, GpuField.EccUncorrectedAggregate, NvmlMemoryErrorType.Uncorrected, NvmlEccCounterType.Aggregate, reading, out rc)) return rc;
        if (On(GpuProbe.RemappedRows))
        {
            rc = _lib.TryGetRemappedRows(d, out var rows);
            if (Check(GpuProbe.RemappedRows, rc, out var fatal))
            {
                reading.Set(GpuField.RemappedRowsCorrectable, rows.Correctable);
                reading.Set(GpuField.RemappedRowsUncorrectable, rows.Uncorrectable);
                reading.Set(GpuField.RemappedRowsPending, rows.Pending ? 1 : 0);
                reading.Set(GpuField.RemappedRowsFailed, rows.Failed ? 1 : 0);
                // Ampere and newer remap rows instead of retiring pages: one of the two is enough.
                _disabled[(int)GpuProbe.RetiredPages] ??= NvmlReturn.Success;
            }
            else if (fatal) return rc;
        }
        if (On(GpuProbe.RetiredPages))
        {
            rc = _lib.TryGetRetiredPageCount(d, NvmlPageRetirementCause.MultipleSingleBitEccErrors, out var sbe);
            if (Check(GpuProbe.RetiredPages, rc, out var fatal))
            {
                reading.Set(GpuField.RetiredPagesSingleBit, sbe);
                if (_lib.TryGetRetiredPageCount(d, NvmlPageRetirementCause.DoubleBitEccError, out var dbe) == NvmlReturn.Success) reading.Set(GpuField.RetiredPagesDoubleBit, dbe);
                if (_lib.TryGetRetiredPagesPending(d, out var pending) == NvmlReturn.Success) reading.Set(GpuField.RetiredPagesPending, pending ? 1 : 0);
            }
            else if (fatal) return rc;
        }
        if (On(GpuProbe.Processes))
        {
            rc = ReadProcesses(reading);
            if (Check(GpuProbe.Processes, rc, out var fatal)) reading.Set(GpuField.ComputeProcessCount, reading.ProcessCount);
            else if (fatal) return rc;
        }
        if (On(GpuProbe.FieldValues) && _fieldEntries.Count > 0)
        {
            rc = ReadFieldValues(reading);
            if (!Check(GpuProbe.FieldValues, rc, out var fatal) && fatal) return rc;
        }
        return NvmlReturn.Success;
    }

    private bool On(GpuProbe probe) => _disabled[(int)probe] is null;

    /// <summary>True while the field-value batch still answers for energy (FI 83), so its own function is not called.</summary>
    private bool EnergyFromFieldValues => On(GpuProbe.FieldValues) && !_disabledFields.ContainsKey(NvmlFieldId.TotalEnergyConsumption);

    /// <summary>How many times a query was switched off; changes exactly when <see cref="Unsupported"/> does.</summary>
    public int SwitchedOff { get; private set; }

    private delegate NvmlReturn UIntQuery(NvmlLibrary library, NvmlDeviceHandle device, out uint value);

    /// <summary>Asks one uint query; false only when the device or library became unusable (then <paramref name="rc"/> says why).</summary>
    private bool ReadUInt(GpuProbe probe, GpuField field, GpuReading reading, UIntQuery query, out NvmlReturn rc)
    {
        rc = NvmlReturn.Success;
        if (!On(probe)) return true;
        rc = query(_lib, _device, out var value);
        if (Check(probe, rc, out var fatal))
        {
            reading.Set(field, value);
            return true;
        }
        return !fatal;
    }

    private bool ReadEcc(GpuProbe probe, GpuField field, NvmlMemoryErrorType type, NvmlEccCounterType counter, GpuReading reading, out NvmlReturn rc)
    {
        rc = NvmlReturn.Success;
        if (!On(probe)) return true;
        rc = _lib.TryGetEccErrors(_device, type, counter, out var count);
        if (Check(probe, rc, out var fatal))
        {
            reading.Set(field, count);
            return true;
        }
        return !fatal;
    }

    /// <summary>True on success. Otherwise switches the probe off when unsupported, counts transients, and says whether the failure is fatal.</summary>
    private bool Check(GpuProbe probe, NvmlReturn rc, out bool fatal)
    {
        fatal = false;
        switch (NvmlErrors.Classify(rc))
        {
            case NvmlErrorClass.Ok:
                return true;
            case NvmlErrorClass.MetricUnavailable:
            case NvmlErrorClass.Bug: // an argument this device rejects: asking again cannot help
                _disabled[(int)probe] = rc;
                SwitchedOff++;
                return false;
            case NvmlErrorClass.DeviceLost:
            case NvmlErrorClass.LibraryFatal:
                fatal = true;
                return false;
            default:
                TransientErrors++;
                return false;
        }
    }

    private NvmlReturn ReadProcesses(GpuReading reading)
    {
        // The count can change between the two calls: grow and ask again, a few times at most.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var rc = _lib.TryGetComputeProcesses(_device, reading.Processes, out var count);
            if (rc == NvmlReturn.Success)
            {
                reading.ProcessCount = count;
                return rc;
            }
            if (rc != NvmlReturn.InsufficientSize) return rc;
            reading.Processes = new NvmlProcessInfo[count * 2 + 5]; // allocation only when the buffer grows
        }
        return NvmlReturn.InsufficientSize;
    }

    private NvmlReturn ReadFieldValues(GpuReading reading)
    {
        var request = _fieldRequest;
        for (var i = 0; i < request.Length; i++)
        {
            request[i] = default;
            request[i].FieldId = _fieldEntries[i].Id;
            request[i].ScopeId = _fieldEntries[i].Scope;
        }
        var rc = _lib.TryGetFieldValues(_device, request);
        if (rc != NvmlReturn.Success) return rc;
        var dropped = false;
        for (var i = 0; i < request.Length; i++)
        {
            var entry = request[i];
            if (entry.Outcome == NvmlReturn.Success)
            {
                var value = entry.AsDouble();
                if (!double.IsNaN(value)) reading.Set(_fieldEntries[i].Field, value);
                continue;
            }
            var cls = NvmlErrors.Classify(entry.Outcome);
            if (cls == NvmlErrorClass.DeviceLost) return entry.Outcome;
            if (cls is NvmlErrorClass.MetricUnavailable or NvmlErrorClass.Bug)
            {
                _disabledFields[entry.FieldId] = entry.Outcome;
                SwitchedOff++;
                dropped = true;
            }
        }
        if (dropped)
        {
            // Rare (once per field per device): rebuild the request without the fields this device lacks.
            _fieldEntries.RemoveAll(e => _disabledFields.ContainsKey(e.Id));
            _fieldRequest = new NvmlFieldValue[_fieldEntries.Count];
        }
        return NvmlReturn.Success;
    }
}

/// <summary>What to sample on a device.</summary>
/// <param name="Processes">Ask for the running compute processes.</param>
/// <param name="PcieThroughput">Ask for PCIe TX/RX throughput (each call measures for 20 ms in the driver).</param>
/// <param name="IsMigDevice">A MIG device: only its memory and processes.</param>
public sealed record GpuSamplerOptions(bool Processes = true, bool PcieThroughput = true, bool IsMigDevice = false);
