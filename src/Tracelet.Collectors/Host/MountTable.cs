using System.Collections.Immutable;
using System.Text;
using Tracelet.Abstractions;
using Tracelet.Collectors.ProcFiles;

namespace Tracelet.Collectors.Host;

/// <summary>A mounted filesystem the filesystem group samples, with its labels built once.</summary>
internal sealed class Mount
{
    public Mount(string device, string mountpoint, string type)
    {
        (Device, Mountpoint, Type) = (device, mountpoint, type);
        var byteCount = Encoding.UTF8.GetByteCount(mountpoint);
        PathZ = new byte[byteCount + 1];
        Encoding.UTF8.GetBytes(mountpoint, PathZ);
        Used = Labels("used");
        Free = Labels("free");
        Reserved = Labels("reserved");
        Plain = [new(SystemLabels.Device, device), new(SystemLabels.Mountpoint, mountpoint), new(SystemLabels.Type, type)];
    }

    public string Device { get; }
    public string Mountpoint { get; }
    public string Type { get; }

    /// <summary>The mount point as a NUL-terminated UTF-8 path, for statvfs.</summary>
    public byte[] PathZ { get; }

    public ImmutableArray<MetricLabel> Used { get; }
    public ImmutableArray<MetricLabel> Free { get; }
    public ImmutableArray<MetricLabel> Reserved { get; }
    public ImmutableArray<MetricLabel> Plain { get; }

    private ImmutableArray<MetricLabel> Labels(string state) =>
        [new(SystemLabels.Device, Device), new(SystemLabels.Mountpoint, Mountpoint), new(SystemLabels.Type, Type), new(SystemLabels.State, state)];
}

/// <summary>
/// The mounts to sample, from /proc/self/mountinfo (the node's mount namespace; /proc/self/mounts
/// where there is no mountinfo). The file is read every sample but parsed only when its bytes
/// changed, so a quiet machine allocates nothing here. A filesystem mounted at several places
/// (bind mounts: a container's /etc/hosts and /etc/resolv.conf are the host's disk) is kept once,
/// at its shortest mount point, and mount points that are files are left out.
/// </summary>
internal sealed class MountTable(string procRoot, NameFilter mountpoints, Func<string, bool> excludesType, Func<string, bool> isNetworkType)
{
    private readonly ProcFileReader _mountinfo = new(Path.Combine(procRoot, "self", "mountinfo"));
    private readonly ProcFileReader _mounts = new(Path.Combine(procRoot, "self", "mounts"));
    private byte[] _parsed = [];
    private int _parsedLength = -1;
    private bool? _hasMountinfo;

    /// <summary>The mounts kept after filtering, one per mount point (the last mounted wins, as it hides the others) and one per device.</summary>
    public List<Mount> Mounts { get; } = [];

    /// <summary>Lines that could not be parsed when the table was last rebuilt.</summary>
    public int Malformed { get; private set; }

    /// <summary>Reads the mount table; true when it changed since the last call.</summary>
    public bool Refresh()
    {
        _hasMountinfo ??= File.Exists(_mountinfo.Path);
        var text = _hasMountinfo.Value ? _mountinfo.Read() : _mounts.Read();
        if (text.Length == _parsedLength && text.SequenceEqual(_parsed.AsSpan(0, _parsedLength))) return false;
        if (_parsed.Length < text.Length) _parsed = new byte[text.Length];
        text.CopyTo(_parsed);
        _parsedLength = text.Length;
        Rebuild(text, _hasMountinfo.Value);
        return true;
    }

    private void Rebuild(ReadOnlySpan<byte> text, bool mountinfo)
    {
        var byMountpoint = new Dictionary<string, (Mount Mount, string DeviceKey)>(StringComparer.Ordinal);
        var order = new List<string>();
        Malformed = 0;
        while (SpanText.NextLine(ref text, out var line))
        {
            if (SpanText.IsBlank(line)) continue;
            if (!(mountinfo ? TryParseMountinfo(line, out var entry) : TryParseMounts(line, out entry)))
            {
                Malformed++;
                continue;
            }
            if (byMountpoint.Remove(entry.Mountpoint)) order.Remove(entry.Mountpoint);
            if (excludesType(entry.Type) || !mountpoints.Accepts(entry.Mountpoint)) continue;
            // A bind-mounted file (/etc/hosts) is not a filesystem of its own. Network mounts are not
            // stat'ed here: on a hung server that would block; their statvfs runs under a timeout.
            if (!isNetworkType(entry.Type) && File.Exists(entry.Mountpoint)) continue;
            byMountpoint[entry.Mountpoint] = (new Mount(entry.Device, entry.Mountpoint, entry.Type), entry.DeviceKey);
            order.Add(entry.Mountpoint);
        }

        // One mount per device: the shortest mount point, the first mounted on a tie.
        var byDevice = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in order)
        {
            var key = byMountpoint[path].DeviceKey;
            if (!byDevice.TryGetValue(key, out var kept) || path.Length < kept.Length) byDevice[key] = path;
        }
        Mounts.Clear();
        foreach (var path in order)
            if (byDevice[byMountpoint[path].DeviceKey] == path) Mounts.Add(byMountpoint[path].Mount);
    }

    private readonly record struct Entry(string Device, string Mountpoint, string Type, string DeviceKey);

    // mountinfo: "36 35 98:0 /root /mnt/point rw,noatime master:1 - ext4 /dev/sda1 rw" (optional fields end at "-").
    private static bool TryParseMountinfo(ReadOnlySpan<byte> line, out Entry entry)
    {
        entry = default;
        if (!SpanText.NextField(ref line, out _) || !SpanText.NextField(ref line, out _)
            || !SpanText.NextField(ref line, out var majorMinor) || !SpanText.NextField(ref line, out _)
            || !SpanText.NextField(ref line, out var mountpoint)) return false;
        while (true)
        {
            if (!SpanText.NextField(ref line, out var optional)) return false;
            if (optional.SequenceEqual("-"u8)) break;
        }
        if (!SpanText.NextField(ref line, out var type) || !SpanText.NextField(ref line, out var device)) return false;
        entry = new Entry(Unescape(device), Unescape(mountpoint), Encoding.UTF8.GetString(type), Encoding.UTF8.GetString(majorMinor));
        return true;
    }

    // mounts: "/dev/sda1 /mnt/point ext4 rw 0 0"; without device numbers, a device path is the best key there is.
    private static bool TryParseMounts(ReadOnlySpan<byte> line, out Entry entry)
    {
        entry = default;
        if (!SpanText.NextField(ref line, out var device) || !SpanText.NextField(ref line, out var mountpoint) || !SpanText.NextField(ref line, out var type))
            return false;
        var (source, path) = (Unescape(device), Unescape(mountpoint));
        entry = new Entry(source, path, Encoding.UTF8.GetString(type), source.StartsWith('/') ? source : "mountpoint:" + path);
        return true;
    }

    // The kernel writes space, tab, newline and backslash in mount fields as octal escapes (\040, \011, \012, \134).
    private static string Unescape(ReadOnlySpan<byte> field)
    {
        if (field.IndexOf((byte)'\\') < 0) return Encoding.UTF8.GetString(field);
        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                bytes.Add((byte)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(field[i]);
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';
}
