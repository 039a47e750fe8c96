using System.Text;

namespace Tracelet.Collectors.Host;

/// <summary>What a <see cref="SeriesTable{TEntry}"/> keeps per device, interface or core.</summary>
internal abstract class SeriesEntry
{
    /// <summary>The number of the last sample that saw this series.</summary>
    public long SeenIn { get; set; }
}

/// <summary>
/// Per-series state keyed by the name as it appears in a /proc file. Lookups take the name's
/// bytes, so a known device costs no string; a new one is created once and kept until it vanishes.
/// </summary>
internal sealed class SeriesTable<TEntry>(Func<string, TEntry> create) where TEntry : SeriesEntry
{
    private readonly Dictionary<string, TEntry> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _vanished = [];

    /// <summary>How many series are known.</summary>
    public int Count => _entries.Count;

    /// <summary>The entry for <paramref name="name"/> (created on first sight), marked as seen in <paramref name="sample"/>.</summary>
    public TEntry Get(ReadOnlySpan<byte> name, long sample)
    {
        var lookup = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> chars = stackalloc char[128];
        TEntry? entry;
        if (name.Length <= chars.Length)
        {
            var length = Encoding.UTF8.GetChars(name, chars);
            if (!lookup.TryGetValue(chars[..length], out entry))
                _entries.Add(new string(chars[..length]), entry = create(new string(chars[..length])));
        }
        else
        {
            var key = Encoding.UTF8.GetString(name);
            if (!_entries.TryGetValue(key, out entry)) _entries.Add(key, entry = create(key));
        }
        entry.SeenIn = sample;
        return entry;
    }

    /// <summary>Forgets the series not seen in <paramref name="sample"/> and returns how many vanished.</summary>
    public int RemoveUnseen(long sample)
    {
        foreach (var (key, entry) in _entries)
            if (entry.SeenIn != sample) _vanished.Add(key);
        foreach (var key in _vanished) _entries.Remove(key);
        var count = _vanished.Count;
        _vanished.Clear();
        return count;
    }
}
