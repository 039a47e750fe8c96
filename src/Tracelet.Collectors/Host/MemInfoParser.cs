namespace Tracelet.Collectors.Host;

/// <summary>The /proc/meminfo fields the memory group uses, in bytes; a field the file lacks stays null.</summary>
internal struct MemInfo
{
    public ulong? Total, Free, Available, Buffers, Cached, SwapTotal, SwapFree;
    public int Malformed;
}

/// <summary>Parses /proc/meminfo ("Key:   123 kB" lines).</summary>
internal static class MemInfoParser
{
    public static MemInfo Parse(ReadOnlySpan<byte> text)
    {
        var info = new MemInfo();
        while (SpanText.NextLine(ref text, out var line))
        {
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) continue;
            var key = line[..colon];
            ref var field = ref Field(ref info, key);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref field)) continue;
            var rest = line[(colon + 1)..];
            if (!SpanText.NextUInt64(ref rest, out var value))
            {
                info.Malformed++;
                continue;
            }
            // The kernel writes "kB" (meaning KiB) on every size; a bare number would be a count, not one of ours.
            var isKiB = SpanText.NextField(ref rest, out var unit) && unit.SequenceEqual("kB"u8);
            field = isKiB ? value * 1024 : value;
        }
        return info;
    }

    private static ref ulong? Field(ref MemInfo info, ReadOnlySpan<byte> key)
    {
        if (key.SequenceEqual("MemTotal"u8)) return ref info.Total;
        if (key.SequenceEqual("MemFree"u8)) return ref info.Free;
        if (key.SequenceEqual("MemAvailable"u8)) return ref info.Available;
        if (key.SequenceEqual("Buffers"u8)) return ref info.Buffers;
        if (key.SequenceEqual("Cached"u8)) return ref info.Cached;
        if (key.SequenceEqual("SwapTotal"u8)) return ref info.SwapTotal;
        if (key.SequenceEqual("SwapFree"u8)) return ref info.SwapFree;
        return ref System.Runtime.CompilerServices.Unsafe.NullRef<ulong?>();
    }
}
