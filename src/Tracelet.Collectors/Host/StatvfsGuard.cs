namespace Tracelet.Collectors.Host;

/// <summary>What one statvfs call came to: the figures, or the system's error text.</summary>
internal readonly record struct StatvfsResult(bool Ok, FilesystemSpace Space, string? Error);

/// <summary>
/// Runs statvfs off the collector's thread and waits for it a bounded time, so a hung network
/// mount cannot stop the collection. One worker thread of its own makes the calls of a collection
/// one after another (a thread per call cost 8× the whole sample). When a call does not return in
/// time, its mount is "stuck": the worker is left to it, the mount is skipped until that call
/// returns (never a second call meanwhile), and a fresh worker takes the next collections — at most
/// <c>maxStuck</c> workers are ever left hanging.
/// </summary>
internal sealed class StatvfsGuard(Func<byte[], StatvfsResult> statvfs, TimeSpan timeout, int maxStuck) : IDisposable
{
    private readonly Dictionary<string, Worker> _stuck = new(StringComparer.Ordinal);
    private readonly List<string> _returned = [];
    private Worker? _worker;

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
        foreach (var (mountpoint, worker) in _stuck)
            if (!worker.IsCalling) _returned.Add(mountpoint);
        foreach (var mountpoint in _returned) _stuck.Remove(mountpoint);
    }

    /// <summary>
    /// Calls statvfs for the mounts, in order, on the worker thread, and waits at most the timeout:
    /// <paramref name="done"/> gets each call that returned in time (and, as failed, the mounts left
    /// uncalled behind a hung one); the hung mount goes to <paramref name="stuck"/>.
    /// </summary>
    public async ValueTask RunAsync(IReadOnlyList<Mount> mounts, Action<Mount, StatvfsResult> done, Action<Mount> stuck)
    {
        if (mounts.Count == 0) return;
        if (_worker is null)
        {
            if (IsFull) return;
            _worker = new Worker(statvfs);
        }
        var worker = _worker;
        var job = worker.Start(mounts);
        var finished = await job.Done.Task.WaitAsync(timeout).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default).ConfigureAwait(false);
        // The last call may return between the timeout and this read: then nothing hangs.
        var completed = finished ? mounts.Count : job.Completed;
        for (var i = 0; i < completed; i++) done(mounts[i], job.Results[i]);
        if (completed == mounts.Count)
        {
            if (!finished) await job.Done.Task.ConfigureAwait(false); // it is setting it now: the worker is free again after
            return;
        }

        // The call at `completed` hangs: leave this worker to it and start afresh next time.
        worker.Retire();
        _worker = null;
        _stuck[mounts[completed].Mountpoint] = worker;
        stuck(mounts[completed]);
        for (var i = completed + 1; i < mounts.Count; i++)
            done(mounts[i], new StatvfsResult(false, default, $"not called: statvfs of {mounts[completed].Mountpoint} hung before it"));
    }

    /// <summary>Lets the worker threads end (a hung one ends when its call returns).</summary>
    public void Dispose()
    {
        _worker?.Retire();
        _worker = null;
    }

    private sealed class Job(int count)
    {
        public readonly StatvfsResult[] Results = new StatvfsResult[count];
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _completed;

        public int Completed => Volatile.Read(ref _completed);

        public void Finished(int index, StatvfsResult result)
        {
            Results[index] = result;
            Volatile.Write(ref _completed, index + 1);
        }
    }

    /// <summary>A background thread that makes the statvfs calls of one job at a time.</summary>
    private sealed class Worker
    {
        private readonly Func<byte[], StatvfsResult> _statvfs;
        private readonly SemaphoreSlim _go = new(0);
        private IReadOnlyList<Mount> _mounts = [];
        private Job? _job;
        private volatile bool _retired;
        private volatile bool _calling;

        public Worker(Func<byte[], StatvfsResult> statvfs)
        {
            _statvfs = statvfs;
            new Thread(Run) { IsBackground = true, Name = "tracelet-statvfs" }.Start();
        }

        /// <summary>True while a job's calls are running (a retired worker: while its hung call has not returned).</summary>
        public bool IsCalling => _calling;

        public Job Start(IReadOnlyList<Mount> mounts)
        {
            var job = new Job(mounts.Count);
            // A copy: the caller reuses its list, and a hung worker may still be reading this one.
            (_mounts, _job) = ([.. mounts], job);
            _calling = true;
            _go.Release();
            return job;
        }

        public void Retire()
        {
            _retired = true;
            _go.Release();
        }

        private void Run()
        {
            while (true)
            {
                _go.Wait(); // this worker's own thread, never an actor's: it idles here between collections
                if (_job is { } job && _calling)
                {
                    for (var i = 0; i < _mounts.Count && !_retired; i++)
                    {
                        StatvfsResult result;
                        try
                        {
                            result = _statvfs(_mounts[i].PathZ);
                        }
                        catch (Exception e)
                        {
                            result = new StatvfsResult(false, default, e.Message);
                        }
                        job.Finished(i, result);
                    }
                    _calling = false;
                    job.Done.TrySetResult();
                }
                if (_retired) return;
            }
        }
    }
}
