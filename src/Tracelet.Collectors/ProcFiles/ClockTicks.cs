using Tmds.Linux;

namespace Tracelet.Collectors.ProcFiles;

/// <summary>USER_HZ, the unit of the CPU times in <c>/proc/&lt;pid&gt;/stat</c>: sysconf(_SC_CLK_TCK), 100 where it cannot be asked.</summary>
internal static class ClockTicks
{
    // _SC_CLK_TCK in glibc and musl on every Linux architecture; Tmds.LibC binds sysconf but names no constant for it.
    private const int ScClkTck = 2;

    /// <summary>Clock ticks per second.</summary>
    public static readonly double PerSecond = Query();

    private static double Query()
    {
        try
        {
            var ticks = LibC.sysconf(ScClkTck);
            return ticks > 0 ? ticks : 100;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100;
        }
    }
}
