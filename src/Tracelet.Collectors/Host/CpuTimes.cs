using System.Runtime.CompilerServices;

namespace Tracelet.Collectors.Host;

/// <summary>
/// Cumulative jiffies of one CPU line of /proc/stat, in <see cref="States"/> order. guest and
/// guest_nice are left out: the kernel already counts them in user and nice.
/// </summary>
[InlineArray(Count)]
internal struct CpuTimes
{
    /// <summary>How many states are kept.</summary>
    public const int Count = 8;

    /// <summary>State label values, in the column order of /proc/stat (irq named as OpenTelemetry's cpu.mode "interrupt").</summary>
    public static readonly string[] States = ["user", "nice", "system", "idle", "iowait", "interrupt", "softirq", "steal"];

    private ulong _first;
}
