using System.Collections.Immutable;
using System.Text.Json;
using Tracelet.Abstractions;

namespace Tracelet.Collectors.Host;

/// <summary>The system collector's configuration (its JSON Schema is in <see cref="SystemCollector"/>).</summary>
/// <param name="Groups">Which groups to collect: cpu, memory, load, filesystem, disk, network.</param>
/// <param name="PerCore">Also report CPU utilization per logical CPU (8 samples per core).</param>
/// <param name="Disks">Block devices to sample, by name.</param>
/// <param name="Partitions">Also sample partitions (vda1, nvme0n1p2), not only whole devices.</param>
/// <param name="Mountpoints">Mount points to sample.</param>
/// <param name="FilesystemTypesExclude">Filesystem types never sampled (pseudo and memory filesystems).</param>
/// <param name="NetworkFilesystems">Also sample network filesystems (<see cref="NetworkFilesystemTypes"/>).</param>
/// <param name="StatvfsTimeout">How long a collection waits for statvfs before the mount counts as stuck.</param>
/// <param name="Interfaces">Network interfaces to sample.</param>
/// <param name="ProcRoot">Where procfs is mounted (tests point it at a fixture tree).</param>
/// <param name="SysRoot">Where sysfs is mounted.</param>
public sealed record SystemCollectorSettings(
    ImmutableArray<string> Groups,
    bool PerCore,
    NameFilter Disks,
    bool Partitions,
    NameFilter Mountpoints,
    ImmutableHashSet<string> FilesystemTypesExclude,
    bool NetworkFilesystems,
    TimeSpan StatvfsTimeout,
    NameFilter Interfaces,
    string ProcRoot,
    string SysRoot)
{
    /// <summary>Every group, in collection order.</summary>
    public static readonly ImmutableArray<string> AllGroups = ["cpu", "memory", "load", "filesystem", "disk", "network"];

    /// <summary>Loop, RAM and floppy devices carry no real I/O; optical drives rarely matter on a cluster node.</summary>
    public static readonly ImmutableArray<string> DefaultDisksExclude = ["loop*", "ram*", "zram*", "fd*", "sr*"];

    /// <summary>
    /// Filesystems that hold no storage of their own (kernel views, cgroups), live in memory
    /// (tmpfs: /run, /dev/shm — remove it from the list to watch /dev/shm), or would mount on
    /// access (autofs). overlay is kept: in a container it is "/" and fills the host's disk.
    /// </summary>
    public static readonly ImmutableArray<string> DefaultFilesystemTypesExclude =
    [
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
        "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs", "rpc_pipefs",
        "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
    ];

    /// <summary>
    /// Filesystems served over the network (globs): a hung server makes statvfs block, and their
    /// space is the server's, so they are left out unless <c>network-filesystems</c> is on.
    /// </summary>
    public static readonly ImmutableArray<string> NetworkFilesystemTypes =
    [
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "fuse", "fuse.*", "lustre", "ceph",
        "glusterfs", "gpfs", "beegfs", "orangefs", "pvfs2", "davfs", "sshfs", "ocfs2", "gfs2",
    ];

    private static readonly NameFilter NetworkTypeFilter = new([.. NetworkFilesystemTypes], []);

    /// <summary>True for a network filesystem type (<see cref="NetworkFilesystemTypes"/>).</summary>
    public static bool IsNetworkFilesystem(string type) => NetworkTypeFilter.Accepts(type);

    /// <summary>True when mounts of <paramref name="type"/> are never sampled.</summary>
    public bool ExcludesFilesystemType(string type) =>
        FilesystemTypesExclude.Contains(type) || (!NetworkFilesystems && IsNetworkFilesystem(type));

    /// <summary>The loopback interface's traffic never leaves the machine.</summary>
    public static readonly ImmutableArray<string> DefaultInterfacesExclude = ["lo"];

    /// <summary>Reads the settings from the plugin's validated config.</summary>
    public static SystemCollectorSettings Create(PluginConfig config) => new(
        Strings(config, "groups") ?? AllGroups,
        config.GetBoolean("per-core", true),
        new NameFilter(Strings(config, "disks") ?? [], Strings(config, "disks-exclude") ?? DefaultDisksExclude),
        config.GetBoolean("partitions", false),
        new NameFilter(Strings(config, "mountpoints") ?? [], Strings(config, "mountpoints-exclude") ?? []),
        (Strings(config, "filesystem-types-exclude") ?? DefaultFilesystemTypesExclude).ToImmutableHashSet(StringComparer.Ordinal),
        config.GetBoolean("network-filesystems", false),
        config.GetDuration("statvfs-timeout", TimeSpan.FromSeconds(1)),
        new NameFilter(Strings(config, "interfaces") ?? [], Strings(config, "interfaces-exclude") ?? DefaultInterfacesExclude),
        config.GetString("proc-root", "/proc"),
        config.GetString("sys-root", "/sys"));

    private static ImmutableArray<string>? Strings(PluginConfig config, string key)
    {
        if (!config.Root.TryGetProperty(key, out var value) || value.ValueKind != JsonValueKind.Array) return null;
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var item in value.EnumerateArray())
            if (item.ValueKind == JsonValueKind.String) builder.Add(item.GetString()!);
        return builder.ToImmutable();
    }
}
