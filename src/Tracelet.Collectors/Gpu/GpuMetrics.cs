namespace Tracelet.Collectors.Gpu;

/// <summary>
/// Names of the GPU collector's metrics (docs/metrics.md lists units and sources). Tracelet's
/// units: ratios 0..1, bytes, watts, joules, hertz, degrees Celsius, counts.
/// </summary>
public static class GpuMetrics
{
    public const string Up = "gpu.up";
    public const string Utilization = "gpu.utilization";
    public const string MemoryUtilization = "gpu.memory.utilization";
    public const string EncoderUtilization = "gpu.encoder.utilization";
    public const string DecoderUtilization = "gpu.decoder.utilization";
    public const string MemoryTotal = "gpu.memory.total";
    public const string MemoryUsed = "gpu.memory.used";
    public const string MemoryFree = "gpu.memory.free";
    public const string MemoryReserved = "gpu.memory.reserved";
    public const string Temperature = "gpu.temperature";
    public const string MemoryTemperature = "gpu.memory.temperature";
    public const string PowerUsage = "gpu.power.usage";
    public const string PowerLimit = "gpu.power.limit";
    public const string Energy = "gpu.energy";
    public const string ClockSm = "gpu.clock.sm";
    public const string ClockMemory = "gpu.clock.memory";
    public const string ClockGraphics = "gpu.clock.graphics";
    public const string ClockSmMax = "gpu.clock.sm.max";
    public const string ClockMemoryMax = "gpu.clock.memory.max";
    public const string ClockGraphicsMax = "gpu.clock.graphics.max";
    public const string FanSpeed = "gpu.fan.speed";
    public const string PerformanceState = "gpu.performance_state";
    public const string PcieTx = "gpu.pcie.tx";
    public const string PcieRx = "gpu.pcie.rx";
    public const string PcieReplays = "gpu.pcie.replays";
    public const string PcieLinkGeneration = "gpu.pcie.link.generation";
    public const string PcieLinkWidth = "gpu.pcie.link.width";
    public const string ClockEventReasons = "gpu.clock.event_reasons";
    public const string Throttled = "gpu.throttled";
    public const string EccErrors = "gpu.ecc.errors";
    public const string RemappedRows = "gpu.memory.remapped_rows";
    public const string RemapPending = "gpu.memory.remap.pending";
    public const string RemapFailed = "gpu.memory.remap.failed";
    public const string RetiredPages = "gpu.memory.retired_pages";
    public const string RetiredPagesPending = "gpu.memory.retired_pages.pending";
    public const string NvLinkTx = "gpu.nvlink.tx";
    public const string NvLinkRx = "gpu.nvlink.rx";
    public const string NvLinkErrors = "gpu.nvlink.errors";
    public const string NvLinkLinks = "gpu.nvlink.links";
    public const string ProcessCount = "gpu.process.count";
    public const string ProcessMemoryUsed = "gpu.process.memory.used";
    public const string Xid = "gpu.xid";
    public const string XidErrors = "gpu.xid.errors";

    /// <summary>
    /// Clock event reasons that mean the GPU is held below what the work asks for: everything
    /// except "idle" (0x1), "application clocks setting" (0x2) and "display clock setting" (0x100).
    /// </summary>
    public const ulong ThrottleMask = 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80;
}

/// <summary>Label keys of GPU samples.</summary>
public static class GpuLabels
{
    public const string Node = "node";
    public const string Gpu = "gpu";
    public const string Uuid = "uuid";
    public const string Model = "model";
    public const string ParentUuid = "parent_uuid";
    public const string GpuInstance = "gpu_instance";
    public const string ComputeInstance = "compute_instance";
    public const string Pid = "pid";
    public const string LocalRank = "local_rank";
    public const string Rank = "rank";
    public const string JobId = "job_id";
    public const string CudaVisibleDevices = "cuda_visible_devices";
    public const string Type = "type";
    public const string Counter = "counter";
    public const string Cause = "cause";
    public const string Code = "xid";
}
