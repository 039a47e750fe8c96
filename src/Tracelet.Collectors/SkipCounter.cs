namespace Tracelet.Collectors;

/// <summary>
/// What a host collector left out and why, for its status: counts per short reason
/// (e.g. <c>disk.counter-reset</c>, <c>stat.malformed</c>) and the last skip's detail text.
/// Bad input is reported here, never thrown.
/// </summary>
internal sealed class SkipCounter
{
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);

    /// <summary>Skips of every reason since the collector started.</summary>
    public long Total { get; private set; }

    /// <summary>The text of the last error, with the file or mount it concerns.</summary>
    public string? LastError { get; private set; }

    /// <summary>Counts one skip for <paramref name="reason"/> (a constant, so counting allocates nothing after the first).</summary>
    public void Count(string reason, long times = 1)
    {
        if (times <= 0) return;
        _counts[reason] = _counts.GetValueOrDefault(reason) + times;
        Total += times;
    }

    /// <summary>Counts one skip and remembers why.</summary>
    public void Count(string reason, string error)
    {
        Count(reason);
        LastError = error;
    }

    /// <summary>Adds <c>skipped</c> (the total), <c>skipped_by_reason</c> and <c>last_skip_reason</c> (the detail) to a status map.</summary>
    public void AddTo(IDictionary<string, object?> status)
    {
        status["skipped"] = Total;
        status["skipped_by_reason"] = Snapshot();
        status["last_skip_reason"] = LastError;
    }

    /// <summary>A copy of the counts, for status (read on the same thread, after a collection).</summary>
    public IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);
}
