using Tracelet.Abstractions;

namespace Tracelet.Collectors.Host;

/// <summary>
/// The machine the node runs on, read straight from /proc and /sys (Linux): CPU utilization
/// (total and per core), load, context switches, memory and swap, filesystems, disk and network
/// I/O. Counters become rates over the real time between two samples, so the first sample has
/// none. Anything unreadable, malformed, vanished or reset is left out of that sample and counted
/// under <c>skipped</c> in status; a collection never fails because of it.
/// </summary>
/// <remarks>The folder and namespace are <c>Host</c>, not <c>System</c>, so that <c>System.*</c> keeps meaning the BCL inside Tracelet.Collectors.</remarks>
public sealed class SystemCollector : CollectorPlugin
{
    /// <summary>The plugin's name and the source of its samples.</summary>
    public const string SourceName = "system";

    private readonly TimeProvider _clock;
    private readonly Func<byte[], StatvfsResult> _statvfs;
    private readonly SkipCounter _skips = new();
    private SystemCollectorSettings _settings = SystemCollectorSettings.Create(PluginConfig.Empty);
    private MetricGroup[] _groups = [];
    private long _collections;

    /// <summary>Creates the collector with the system clock.</summary>
    public SystemCollector()
        : this(TimeProvider.System)
    {
    }

    /// <summary>Creates the collector with <paramref name="clock"/> measuring the time between samples (tests pass their own).</summary>
    public SystemCollector(TimeProvider clock)
        : this(clock, FilesystemStats.Call)
    {
    }

    /// <summary>Creates the collector with its own statvfs (specs pass one that fails or hangs).</summary>
    internal SystemCollector(TimeProvider clock, Func<byte[], StatvfsResult> statvfs) => (_clock, _statvfs) = (clock, statvfs);

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new(SourceName, "1.0.0", PluginType.Collector)
    {
        Description = "The host from /proc and /sys: CPU, load, memory, swap, filesystems, disk and network I/O",
        Author = "Tracelet",
        Capabilities = ["cpu", "memory", "load", "filesystem", "disk", "network"],
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "seconds, or a duration like \"1s\"" },
                "groups": {
                  "type": "array", "uniqueItems": true,
                  "items": { "enum": ["cpu", "memory", "load", "filesystem", "disk", "network"] },
                  "description": "which groups to collect (default: all)"
                },
                "per-core": { "type": "boolean", "description": "also report CPU utilization per logical CPU" },
                "disks": { "type": "array", "items": { "type": "string" }, "description": "block devices to sample, globs (default: all)" },
                "disks-exclude": { "type": "array", "items": { "type": "string" }, "description": "block devices never sampled, globs" },
                "partitions": { "type": "boolean", "description": "also sample partitions, not only whole devices" },
                "mountpoints": { "type": "array", "items": { "type": "string" }, "description": "mount points to sample, globs (default: all)" },
                "mountpoints-exclude": { "type": "array", "items": { "type": "string" }, "description": "mount points never sampled, globs" },
                "filesystem-types-exclude": { "type": "array", "items": { "type": "string" }, "description": "filesystem types never sampled (replaces the default list)" },
                "network-filesystems": { "type": "boolean", "description": "also sample network filesystems (nfs, cifs, fuse.*, lustre, ceph, ...); off by default" },
                "statvfs-timeout": { "type": ["number", "string"], "description": "how long one collection waits for statvfs before the mount counts as stuck (default 1s)" },
                "interfaces": { "type": "array", "items": { "type": "string" }, "description": "network interfaces to sample, globs (default: all)" },
                "interfaces-exclude": { "type": "array", "items": { "type": "string" }, "description": "network interfaces never sampled, globs" },
                "proc-root": { "type": "string", "minLength": 1, "description": "where procfs is mounted (default /proc; tests use a fixture tree)" },
                "sys-root": { "type": "string", "minLength": 1, "description": "where sysfs is mounted (default /sys)" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    protected override TimeSpan DefaultInterval => TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken).ConfigureAwait(false);
        _settings = SystemCollectorSettings.Create(context.Config);
        _groups = CreateGroups(_settings);
    }

    /// <inheritdoc />
    public override ValueTask StopAsync(CancellationToken cancellationToken)
    {
        // The filesystem group's statvfs worker thread ends with the collector.
        foreach (var group in _groups)
            if (group is IDisposable disposable) disposable.Dispose();
        return base.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override async ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        var sample = ++_collections;
        foreach (var group in _groups)
        {
            try
            {
                await group.CollectAsync(writer, sample).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _skips.Count(group.UnreadableReason, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug of ours must not silence the other groups; status shows it.
                _skips.Count(group.FailedReason, $"{group.Name}: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["collections"] = _collections,
            ["groups"] = _settings.Groups.ToArray(),
        };
        _skips.AddTo(status);
        foreach (var group in _groups)
        {
            switch (group)
            {
                case CpuGroup cpu: status["cores"] = cpu.CoreCount; break;
                case DiskGroup disk: status["disks"] = disk.DeviceCount; break;
                case NetworkGroup network: status["interfaces"] = network.InterfaceCount; break;
                case FilesystemGroup filesystem:
                    status["mounts"] = filesystem.MountCount;
                    status["mounts_stuck"] = filesystem.StuckCount;
                    break;
            }
        }
        return status;
    }

    private MetricGroup[] CreateGroups(SystemCollectorSettings settings)
    {
        var groups = new List<MetricGroup>();
        foreach (var name in SystemCollectorSettings.AllGroups)
        {
            if (!settings.Groups.Contains(name)) continue;
            groups.Add(name switch
            {
                "cpu" => new CpuGroup(settings.ProcRoot, settings.PerCore, _skips, _clock),
                "memory" => new MemoryGroup(settings.ProcRoot, _skips, _clock),
                "load" => new LoadGroup(settings.ProcRoot, _skips, _clock),
                "filesystem" => new FilesystemGroup(settings.ProcRoot, settings.Mountpoints, settings.ExcludesFilesystemType, SystemCollectorSettings.IsNetworkFilesystem, _statvfs, settings.StatvfsTimeout, _skips, _clock),
                "disk" => new DiskGroup(settings.ProcRoot, settings.SysRoot, settings.Disks, settings.Partitions, _skips, _clock),
                _ => new NetworkGroup(settings.ProcRoot, settings.Interfaces, _skips, _clock),
            });
        }
        return [.. groups];
    }
}
