namespace Tracelet.Collectors.Host;

/// <summary>Turning two readings of a monotonic kernel counter into a rate.</summary>
internal static class CounterDelta
{
    /// <summary>
    /// The increase per second from <paramref name="previous"/> to <paramref name="current"/> over
    /// <paramref name="seconds"/>; false when the counter went down (it wrapped, or the device was
    /// reset or replaced): no honest rate can be told then, and the caller skips and counts it.
    /// </summary>
    public static bool TryRate(ulong previous, ulong current, double seconds, double scale, out double rate)
    {
        if (current < previous || seconds <= 0)
        {
            rate = 0;
            return false;
        }
        rate = (current - previous) * scale / seconds;
        return true;
    }
}
