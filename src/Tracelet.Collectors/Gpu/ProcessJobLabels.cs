using System.Collections.Immutable;

namespace Tracelet.Collectors.Gpu;

/// <summary>
/// Labels a GPU process with its training job's identity, read once per pid from
/// <c>/proc/&lt;pid&gt;/environ</c>: LOCAL_RANK, RANK, SLURM_JOB_ID, CUDA_VISIBLE_DEVICES. NVML
/// reports the driver's (host) pids: inside a container the same number can belong to an
/// unrelated local process, so a pid is labelled only when that process holds an open
/// <c>/dev/nvidia*</c> file. A process we cannot inspect (another user, another PID namespace)
/// stays unlabelled. The cache forgets pids not seen in the last sample, so it stays as small as
/// the process list.
/// </summary>
public sealed class ProcessJobLabels(string procRoot = "/proc")
{
    private static readonly (string Variable, string Label)[] Wanted =
    [
        ("LOCAL_RANK", GpuLabels.LocalRank),
        ("RANK", GpuLabels.Rank),
        ("SLURM_JOB_ID", GpuLabels.JobId),
        ("CUDA_VISIBLE_DEVICES", GpuLabels.CudaVisibleDevices),
    ];

    private readonly Dictionary<uint, ImmutableArray<Abstractions.MetricLabel>> _cache = [];
    private readonly HashSet<uint> _seen = [];

    public ImmutableArray<Abstractions.MetricLabel> For(uint pid)
    {
        _seen.Add(pid);
        if (_cache.TryGetValue(pid, out var labels)) return labels;
        labels = Read(pid);
        _cache[pid] = labels;
        return labels;
    }

    /// <summary>Ends a sample: forgets the pids that were not asked for since the last call.</summary>
    public void Sweep()
    {
        if (_cache.Count != _seen.Count) foreach (var pid in _cache.Keys.Where(p => !_seen.Contains(p)).ToList()) _cache.Remove(pid);
        _seen.Clear();
    }

    /// <summary>The most file descriptors looked at when checking that a pid is a GPU process.</summary>
    private const int MaxDescriptors = 4096;

    private ImmutableArray<Abstractions.MetricLabel> Read(uint pid)
    {
        var dir = Path.Combine(procRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!HoldsNvidiaDevice(dir)) return [];
        string environ;
        try
        {
            environ = File.ReadAllText(Path.Combine(dir, "environ"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
        var labels = ImmutableArray.CreateBuilder<Abstractions.MetricLabel>();
        foreach (var entry in environ.Split('\0'))
        {
            var eq = entry.IndexOf('=');
            if (eq <= 0) continue;
            var name = entry.AsSpan(0, eq);
            foreach (var (variable, label) in Wanted)
            {
                if (name.SequenceEqual(variable)) labels.Add(new(label, entry[(eq + 1)..]));
            }
        }
        return labels.ToImmutable();
    }

    private static bool HoldsNvidiaDevice(string processDirectory)
    {
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(processDirectory, "fd")).Take(MaxDescriptors))
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("/dev/nvidia", StringComparison.Ordinal)) return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not ours to inspect: leave it unlabelled.
        }
        return false;
    }
}
