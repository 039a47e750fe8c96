using System.Collections.Immutable;
using System.Text;
using Tracelet.Abstractions;

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
/// The mounts to sample, from /proc/self/mounts (the node's mount namespace). The file is read
/// every sample but parsed only when its bytes changed, so a quiet machine allocates nothing here.
/// </summary>
internal sealed class MountTable(string procRoot, NameFilter mountpoints, IReadOnlySet<string> excludedTypes)
{
    private readonly ProcFile _file = new(Path.Combine(procRoot, "self", "mounts"));
    private byte[] _parsed = [];
    private int _parsedLength = -1;

    /// <summary>The mounts kept after filtering, one per mount point (the last mounted wins, as it hides the others).</summary>
    public List<Mount> Mounts { get; } = [];

    /// <summary>Lines that could not be parsed when the table was last rebuilt.</summary>
    public int Malformed { get; private set; }

    /// <summary>Reads the mount table; true when it changed since the last call.</summary>
    public bool Refresh()
    {
        var text = _file.Read();
        if (text.Length == _parsedLength && text.SequenceEqual(_parsed.AsSpan(0, _parsedLength))) return false;
        if (_parsed.Length < text.Length) _parsed = new byte[text.Length];
        text.CopyTo(_parsed);
        _parsedLength = text.Length;
        Rebuild(text);
        return true;
    }

    private void Rebuild(ReadOnlySpan<byte> text)
    {
        var byMountpoint = new Dictionary<string, Mount>(StringComparer.Ordinal);
        var order = new List<string>();
        Malformed = 0;
        while (SpanText.NextLine(ref text, out var line))
        {
            if (SpanText.IsBlank(line)) continue;
            if (!SpanText.NextField(ref line, out var device) || !SpanText.NextField(ref line, out var mountpoint) || !SpanText.NextField(ref line, out var type))
            {
                Malformed++;
                continue;
            }
            var typeName = Encoding.UTF8.GetString(type);
            var path = Unescape(mountpoint);
            if (byMountpoint.Remove(path)) order.Remove(path);
            if (excludedTypes.Contains(typeName) || !mountpoints.Accepts(path)) continue;
            byMountpoint[path] = new Mount(Unescape(device), path, typeName);
            order.Add(path);
        }
        Mounts.Clear();
        foreach (var path in order) Mounts.Add(byMountpoint[path]);
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
