namespace Tracelet.Collectors.Host;

/// <summary>What one statvfs call came to: the figures, or the system's error text.</summary>
internal readonly record struct StatvfsResult(bool Ok, FilesystemSpace Space, string? Error);

/// <summary>
/// Runs statvfs off the collector's thread and waits for it a bounded time, so a hung network
/// mount cannot stop the collection. A mount whose call timed out is "stuck": it is skipped until
/// that call returns, never gets a second call meanwhile, and the stuck calls together are capped.
/// </summary>
internal sealed class StatvfsGuard(Func<byte[], StatvfsResult> statvfs, TimeSpan timeout, int maxStuck)
{
    private readonly Dictionary<string, Task<StatvfsResult>> _stuck = new(StringComparer.Ordinal);
    private readonly List<(Mount Mount, Task<StatvfsResult> Call)> _calls = [];
    private readonly List<string> _returned = [];

    /// <summary>Mounts whose statvfs has not returned within the timeout, and has not returned since.</summary>
    public int StuckCount => _stuck.Count;

    /// <summary>True when a call to this mount is still pending from an earlier collection.</summary>
    public bool IsStuck(Mount mount) => _stuck.ContainsKey(mount.Mountpoint);

    /// <summary>True when no more calls may be left pending: the cap on stuck calls is reached.</summary>
    public bool IsFull => _stuck.Count >= maxStuck;

    /// <summary>Forgets stuck calls that have returned since, so their mounts are asked again.</summary>
    public void ForgetReturned()
    {
        _returned.Clear();
        foreach (var (mountpoint, call) in _stuck)
            if (call.IsCompleted) _returned.Add(mountpoint);
        foreach (var mountpoint in _returned) _stuck.Remove(mountpoint);
    }

    /// <summary>
    /// Calls statvfs for every mount at once, each on a thread of its own, and waits for them together at most
    /// the timeout; <paramref name="done"/> gets each call that returned in time, and the others become stuck.
    /// </summary>
    public async ValueTask RunAsync(IEnumerable<Mount> mounts, Action<Mount, StatvfsResult> done, Action<Mount> stuck)
    {
        _calls.Clear();
        foreach (var mount in mounts)
        {
            var path = mount.PathZ;
            // A thread of its own: a call that hangs forever must not hold one of the thread pool's.
            _calls.Add((mount, Task.Factory.StartNew(() => statvfs(path), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)));
        }
        if (_calls.Count == 0) return;
        var all = Task.WhenAll(_calls.Select(c => c.Call));
        await Task.WhenAny(all, Task.Delay(timeout)).ConfigureAwait(false);
        foreach (var (mount, call) in _calls)
        {
            if (call.IsCompletedSuccessfully)
            {
                done(mount, call.Result);
            }
            else if (call.IsCompleted)
            {
                done(mount, new StatvfsResult(false, default, call.Exception?.GetBaseException().Message ?? "cancelled"));
            }
            else
            {
                _stuck[mount.Mountpoint] = call;
                stuck(mount);
            }
        }
        _calls.Clear();
    }
}
