using Tracelet.Abstractions;

namespace Tracelet.Collectors.Gpu;

/// <summary>The gpu collector's configuration (its JSON Schema is in <see cref="GpuCollector"/>).</summary>
/// <param name="LibraryPath">Absolute path of libnvidia-ml.so.1; empty: TRACELET_NVML_PATH, then the usual places.</param>
/// <param name="Processes">Sample each GPU's compute processes and their memory.</param>
/// <param name="JobLabels">Label process samples with LOCAL_RANK, RANK, SLURM_JOB_ID, CUDA_VISIBLE_DEVICES from the process's environment.</param>
/// <param name="PcieThroughput">Sample PCIe TX/RX (the driver measures each for 20 ms).</param>
/// <param name="CollectTimeout">How long a collection waits for the device actors; a device that has not answered is left out of that collection.</param>
/// <param name="Watchdog">A device call running longer than this is flagged "stalled" in status.</param>
/// <param name="LostRetry">How often a lost GPU's handle is looked up again by UUID.</param>
/// <param name="InitTimeout">How long NVML may take to initialize and enumerate the GPUs (seconds without persistence mode) before start fails.</param>
/// <param name="RefuseFake">Refuse to run on the test fake of NVML (on by default; tests turn it off).</param>
public sealed record GpuCollectorSettings(
    string LibraryPath,
    bool Processes,
    bool JobLabels,
    bool PcieThroughput,
    TimeSpan CollectTimeout,
    TimeSpan Watchdog,
    TimeSpan LostRetry,
    TimeSpan InitTimeout,
    bool RefuseFake)
{
    public static GpuCollectorSettings Create(PluginConfig config) => new(
        config.GetString("library-path", ""),
        config.GetBoolean("processes", true),
        config.GetBoolean("job-labels", true),
        config.GetBoolean("pcie-throughput", true),
        config.GetDuration("collect-timeout", TimeSpan.FromSeconds(3)),
        config.GetDuration("watchdog", TimeSpan.FromSeconds(10)),
        config.GetDuration("lost-retry", TimeSpan.FromMinutes(1)),
        config.GetDuration("init-timeout", TimeSpan.FromSeconds(20)),
        !config.GetBoolean("allow-fake", false));
}
