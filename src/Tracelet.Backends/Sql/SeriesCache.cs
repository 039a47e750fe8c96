namespace Tracelet.Backends.Sql;

/// <summary>
/// Series ids known to be committed, by series identity. Ids found during a batch stay pending
/// until its transaction commits, so a rolled-back batch never leaves an id that does not exist.
/// </summary>
internal sealed class SeriesCache
{
    /// <summary>Bounded: a label that changes every sample (a pid) must not grow memory forever; past this the cache starts over.</summary>
    private const int MaxEntries = 200_000;

    private readonly Dictionary<SeriesKey, long> _committed = [];
    private readonly Dictionary<SeriesKey, long> _pending = [];

    public int Count => _committed.Count;

    /// <summary>The id of a series, from the cache or by <paramref name="resolve"/> (which inserts it in the open transaction).</summary>
    public long Resolve(in SeriesKey key, Func<SeriesKey, long> resolve)
    {
        if (_committed.TryGetValue(key, out var id) || _pending.TryGetValue(key, out id)) return id;
        id = resolve(key);
        _pending[key] = id;
        return id;
    }

    /// <summary>The async twin of <see cref="Resolve"/> for providers whose commands are async.</summary>
    public async ValueTask<long> ResolveAsync(SeriesKey key, Func<SeriesKey, Task<long>> resolve)
    {
        if (_committed.TryGetValue(key, out var id) || _pending.TryGetValue(key, out id)) return id;
        id = await resolve(key).ConfigureAwait(false);
        _pending[key] = id;
        return id;
    }

    public void Commit()
    {
        if (_pending.Count == 0) return;
        if (_committed.Count + _pending.Count > MaxEntries) _committed.Clear();
        foreach (var (key, id) in _pending) _committed[key] = id;
        _pending.Clear();
    }

    public void Rollback() => _pending.Clear();

    /// <summary>Forgets every id, after series rows were deleted: the next write looks them up (or inserts them) again.</summary>
    public void Clear()
    {
        _committed.Clear();
        _pending.Clear();
    }
}
