namespace Tracelet.Nvml;

/// <summary>One NVML query the sampler makes per tick. Each is switched off on a device after its first "not supported" answer.</summary>
public enum GpuProbe
{
    Utilization,
    EncoderUtilization,
    DecoderUtilization,
    Memory,
    Temperature,
    PowerUsage,
    PowerLimit,
    Energy,
    ClockSm,
    ClockMemory,
    ClockGraphics,
    MaxClocks,
    FanSpeed,
    PerformanceState,
    PcieTx,
    PcieRx,
    PcieReplay,
    PcieLink,
    ClockEventReasons,
    EccCorrectedVolatile,
    EccUncorrectedVolatile,
    EccCorrectedAggregate,
    EccUncorrectedAggregate,
    RemappedRows,
    RetiredPages,
    Processes,
    FieldValues,
}
