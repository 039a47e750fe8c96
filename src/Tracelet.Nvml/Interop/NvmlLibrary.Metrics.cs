namespace Tracelet.Nvml.Interop;

// The sampling path: utilization, memory, thermals, power, clocks, PCIe. Allocation-free.
public sealed unsafe partial class NvmlLibrary
{
    private delegate* unmanaged<nint, NvmlUtilization*, int> _utilization;
    private delegate* unmanaged<nint, uint*, uint*, int> _encoderUtilization;
    private delegate* unmanaged<nint, uint*, uint*, int> _decoderUtilization;
    private delegate* unmanaged<nint, NvmlMemoryV2*, int> _memoryV2;
    private delegate* unmanaged<nint, NvmlMemoryV1*, int> _memoryV1;
    private volatile bool _memoryV2Rejected;
    private delegate* unmanaged<nint, NvmlTemperatureV1*, int> _temperatureV;
    private delegate* unmanaged<nint, int, uint*, int> _temperature;
    private delegate* unmanaged<nint, uint*, int> _powerUsage;
    private delegate* unmanaged<nint, uint*, int> _enforcedPowerLimit;
    private delegate* unmanaged<nint, ulong*, int> _totalEnergy;
    private delegate* unmanaged<nint, uint*, int> _fanSpeed;
    private delegate* unmanaged<nint, int*, int> _performanceState;
    private delegate* unmanaged<nint, int, uint*, int> _clock;
    private delegate* unmanaged<nint, int, uint*, int> _maxClock;
    private delegate* unmanaged<nint, ulong*, int> _clockEventReasons;
    private delegate* unmanaged<nint, int, uint*, int> _pcieThroughput;
    private delegate* unmanaged<nint, uint*, int> _pcieReplayCounter;
    private delegate* unmanaged<nint, uint*, int> _pcieLinkGeneration;
    private delegate* unmanaged<nint, uint*, int> _pcieLinkWidth;

    private void ResolveDevice()
    {
        ResolveIdentity();
        _utilization = (delegate* unmanaged<nint, NvmlUtilization*, int>)Resolve("Utilization", "nvmlDeviceGetUtilizationRates");
        _encoderUtilization = (delegate* unmanaged<nint, uint*, uint*, int>)Resolve("EncoderUtilization", "nvmlDeviceGetEncoderUtilization");
        _decoderUtilization = (delegate* unmanaged<nint, uint*, uint*, int>)Resolve("DecoderUtilization", "nvmlDeviceGetDecoderUtilization");
        _memoryV2 = (delegate* unmanaged<nint, NvmlMemoryV2*, int>)Resolve("MemoryInfoV2", "nvmlDeviceGetMemoryInfo_v2");
        _memoryV1 = (delegate* unmanaged<nint, NvmlMemoryV1*, int>)Resolve("MemoryInfo", "nvmlDeviceGetMemoryInfo");
        _temperatureV = (delegate* unmanaged<nint, NvmlTemperatureV1*, int>)Resolve("TemperatureV", "nvmlDeviceGetTemperatureV");
        _temperature = (delegate* unmanaged<nint, int, uint*, int>)Resolve("Temperature", "nvmlDeviceGetTemperature");
        _powerUsage = (delegate* unmanaged<nint, uint*, int>)Resolve("PowerUsage", "nvmlDeviceGetPowerUsage");
        _enforcedPowerLimit = (delegate* unmanaged<nint, uint*, int>)Resolve("EnforcedPowerLimit", "nvmlDeviceGetEnforcedPowerLimit");
        _totalEnergy = (delegate* unmanaged<nint, ulong*, int>)Resolve("TotalEnergy", "nvmlDeviceGetTotalEnergyConsumption");
        _fanSpeed = (delegate* unmanaged<nint, uint*, int>)Resolve("FanSpeed", "nvmlDeviceGetFanSpeed");
        _performanceState = (delegate* unmanaged<nint, int*, int>)Resolve("PerformanceState", "nvmlDeviceGetPerformanceState");
        _clock = (delegate* unmanaged<nint, int, uint*, int>)Resolve("Clock", "nvmlDeviceGetClockInfo");
        _maxClock = (delegate* unmanaged<nint, int, uint*, int>)Resolve("MaxClock", "nvmlDeviceGetMaxClockInfo");
        // Renamed from "throttle" to "event" reasons in R535, same bits.
        _clockEventReasons = (delegate* unmanaged<nint, ulong*, int>)Resolve("ClockEventReasons",
            "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons");
        _pcieThroughput = (delegate* unmanaged<nint, int, uint*, int>)Resolve("PcieThroughput", "nvmlDeviceGetPcieThroughput");
        _pcieReplayCounter = (delegate* unmanaged<nint, uint*, int>)Resolve("PcieReplayCounter", "nvmlDeviceGetPcieReplayCounter");
        _pcieLinkGeneration = (delegate* unmanaged<nint, uint*, int>)Resolve("PcieLinkGeneration", "nvmlDeviceGetCurrPcieLinkGeneration");
        _pcieLinkWidth = (delegate* unmanaged<nint, uint*, int>)Resolve("PcieLinkWidth", "nvmlDeviceGetCurrPcieLinkWidth");
        ResolveReliability();
        ResolveProcesses();
        ResolveFieldValues();
        ResolveMig();
    }

    /// <summary>GPU and memory-controller busy percent over the last sample period. Not supported on MIG.</summary>
    public NvmlReturn TryGetUtilization(NvmlDeviceHandle device, out NvmlUtilization utilization)
    {
        utilization = default;
        if (_utilization == null) return NvmlReturn.FunctionNotFound;
        NvmlUtilization u;
        var rc = (NvmlReturn)_utilization(device.Value, &u);
        utilization = u;
        return rc;
    }

    /// <summary>Video encoder busy percent.</summary>
    public NvmlReturn TryGetEncoderUtilization(NvmlDeviceHandle device, out uint percent) => ReadPercentWithPeriod(_encoderUtilization, device, out percent);

    /// <summary>Video decoder busy percent.</summary>
    public NvmlReturn TryGetDecoderUtilization(NvmlDeviceHandle device, out uint percent) => ReadPercentWithPeriod(_decoderUtilization, device, out percent);

    /// <summary>
    /// Framebuffer memory. Uses <c>_v2</c> (used excludes reserved) and falls back to v1 when the
    /// symbol is missing or the driver rejects the struct version; then <see cref="NvmlMemory.ReservedBytes"/> is null
    /// and used includes the reserved part, as v1 reports it.
    /// </summary>
    public NvmlReturn TryGetMemory(NvmlDeviceHandle device, out NvmlMemory memory)
    {
        memory = default;
        if (_memoryV2 != null && !_memoryV2Rejected)
        {
            var v2 = new NvmlMemoryV2 { Version = NvmlMemoryV2.Version2 };
            var rc = (NvmlReturn)_memoryV2(device.Value, &v2);
            // A driver that rejects the struct version (25), or that answers UNKNOWN to _v2 while
            // having v1 (seen inside WSL on 516), is asked with v1 from then on.
            if (rc != NvmlReturn.ArgumentVersionMismatch && !(rc == NvmlReturn.Unknown && _memoryV1 != null))
            {
                if (rc == NvmlReturn.Success) memory = new NvmlMemory(v2.TotalBytes, v2.FreeBytes, v2.UsedBytes, v2.ReservedBytes);
                return rc;
            }
            _memoryV2Rejected = true;
        }
        if (_memoryV1 == null) return NvmlReturn.FunctionNotFound;
        NvmlMemoryV1 v1;
        var rc1 = (NvmlReturn)_memoryV1(device.Value, &v1);
        if (rc1 == NvmlReturn.Success) memory = new NvmlMemory(v1.TotalBytes, v1.FreeBytes, v1.UsedBytes, null);
        return rc1;
    }

    /// <summary>Which memory function answers: "v2", "v1" or null.</summary>
    public string? MemoryVersion => _memoryV2 != null && !_memoryV2Rejected ? "v2" : _memoryV1 != null ? "v1" : null;

    /// <summary>GPU die temperature in °C (<c>TemperatureV</c> on API 13 drivers, else the deprecated <c>GetTemperature</c>).</summary>
    public NvmlReturn TryGetTemperature(NvmlDeviceHandle device, out int celsius)
    {
        celsius = 0;
        if (_temperatureV != null)
        {
            var t = new NvmlTemperatureV1 { Version = NvmlTemperatureV1.Version1, SensorType = 0 };
            var rc = (NvmlReturn)_temperatureV(device.Value, &t);
            if (rc != NvmlReturn.ArgumentVersionMismatch || _temperature == null)
            {
                celsius = t.Temperature;
                return rc;
            }
        }
        if (_temperature == null) return NvmlReturn.FunctionNotFound;
        uint value;
        var rc1 = (NvmlReturn)_temperature(device.Value, 0, &value);
        celsius = (int)value;
        return rc1;
    }

    /// <summary>Board power draw in milliwatts (a 1 s average on Ampere and newer).</summary>
    public NvmlReturn TryGetPowerUsage(NvmlDeviceHandle device, out uint milliwatts) => ReadUInt(_powerUsage, device, out milliwatts);

    /// <summary>The power limit the driver enforces, in milliwatts.</summary>
    public NvmlReturn TryGetEnforcedPowerLimit(NvmlDeviceHandle device, out uint milliwatts) => ReadUInt(_enforcedPowerLimit, device, out milliwatts);

    /// <summary>Energy since the driver was loaded, in millijoules (a counter; Volta and newer).</summary>
    public NvmlReturn TryGetTotalEnergy(NvmlDeviceHandle device, out ulong millijoules) => ReadULong(_totalEnergy, device, out millijoules);

    /// <summary>Fan speed as a percent of the maximum noise-tolerant speed (may exceed 100). Fanless boards: not supported.</summary>
    public NvmlReturn TryGetFanSpeed(NvmlDeviceHandle device, out uint percent) => ReadUInt(_fanSpeed, device, out percent);

    /// <summary>The performance state, 0 (P0, fastest) to 15; 32 = unknown.</summary>
    public NvmlReturn TryGetPerformanceState(NvmlDeviceHandle device, out int pstate)
    {
        pstate = 32;
        if (_performanceState == null) return NvmlReturn.FunctionNotFound;
        int p;
        var rc = (NvmlReturn)_performanceState(device.Value, &p);
        pstate = p;
        return rc;
    }

    /// <summary>A current clock in MHz.</summary>
    public NvmlReturn TryGetClock(NvmlDeviceHandle device, NvmlClockType type, out uint megahertz) => ReadIndexed(_clock, device, (int)type, out megahertz);

    /// <summary>A clock's maximum in MHz.</summary>
    public NvmlReturn TryGetMaxClock(NvmlDeviceHandle device, NvmlClockType type, out uint megahertz) => ReadIndexed(_maxClock, device, (int)type, out megahertz);

    /// <summary>Why clocks are held down right now: a bitmask of <c>nvmlClocksEventReason*</c> (0 = none).</summary>
    public NvmlReturn TryGetClockEventReasons(NvmlDeviceHandle device, out ulong reasons) => ReadULong(_clockEventReasons, device, out reasons);

    /// <summary>PCIe throughput in KB/s, measured by the driver over 20 ms.</summary>
    public NvmlReturn TryGetPcieThroughput(NvmlDeviceHandle device, NvmlPcieCounter counter, out uint kilobytesPerSecond) =>
        ReadIndexed(_pcieThroughput, device, (int)counter, out kilobytesPerSecond);

    /// <summary>PCIe replay counter.</summary>
    public NvmlReturn TryGetPcieReplayCounter(NvmlDeviceHandle device, out uint count) => ReadUInt(_pcieReplayCounter, device, out count);

    /// <summary>Current PCIe link generation.</summary>
    public NvmlReturn TryGetPcieLinkGeneration(NvmlDeviceHandle device, out uint generation) => ReadUInt(_pcieLinkGeneration, device, out generation);

    /// <summary>Current PCIe link width (lanes).</summary>
    public NvmlReturn TryGetPcieLinkWidth(NvmlDeviceHandle device, out uint lanes) => ReadUInt(_pcieLinkWidth, device, out lanes);

    private static NvmlReturn ReadIndexed(delegate* unmanaged<nint, int, uint*, int> function, NvmlDeviceHandle device, int which, out uint value)
    {
        value = 0;
        if (function == null) return NvmlReturn.FunctionNotFound;
        uint v;
        var rc = (NvmlReturn)function(device.Value, which, &v);
        value = v;
        return rc;
    }

    private static NvmlReturn ReadPercentWithPeriod(delegate* unmanaged<nint, uint*, uint*, int> function, NvmlDeviceHandle device, out uint percent)
    {
        percent = 0;
        if (function == null) return NvmlReturn.FunctionNotFound;
        uint p, period;
        var rc = (NvmlReturn)function(device.Value, &p, &period);
        percent = p;
        return rc;
    }
}

/// <summary>Framebuffer memory in bytes. <see cref="ReservedBytes"/> is null when only the v1 call exists (then used includes it).</summary>
public readonly record struct NvmlMemory(ulong TotalBytes, ulong FreeBytes, ulong UsedBytes, ulong? ReservedBytes);
