namespace Tracelet.Collectors.Tests.Fixtures;

/// <summary>A clock the spec moves by hand, so that rates over "elapsed time" can be computed exactly.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
