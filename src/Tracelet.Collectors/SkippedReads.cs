namespace Tracelet.Collectors;

/// <summary>
/// Counts metrics a host collector skipped (missing or unreadable file, malformed line, counter
/// reset) and keeps the last reason, for <c>GetStatus</c>: bad input is reported, never thrown.
/// </summary>
internal sealed class SkippedReads
{
    /// <summary>Metrics skipped since the collector started.</summary>
    public long Count { get; private set; }

    /// <summary>Why the last one was skipped, or null.</summary>
    public string? LastReason { get; private set; }

    /// <summary>Records one skipped metric and why.</summary>
    public void Skip(string reason)
    {
        Count++;
        LastReason = reason;
    }

    /// <summary>Adds <c>skipped</c> and <c>last_skip_reason</c> to a status map.</summary>
    public void AddTo(Dictionary<string, object?> status)
    {
        status["skipped"] = Count;
        status["last_skip_reason"] = LastReason;
    }
}
