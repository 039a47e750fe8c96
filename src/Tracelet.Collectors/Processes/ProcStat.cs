using System.Buffers.Text;

namespace Tracelet.Collectors.Processes;

/// <summary>
/// The fields of one <c>/proc/&lt;pid&gt;/stat</c> line the collectors use. The command name sits
/// between the first '(' and the LAST ')' because it may itself hold spaces and parentheses.
/// </summary>
internal readonly struct ProcStat
{
    /// <summary>The process id (field 1).</summary>
    public int Pid { get; init; }

    /// <summary>Where the command name starts in the parsed line, and its length in bytes.</summary>
    public Range Command { get; init; }

    /// <summary>User plus system CPU time in clock ticks (fields 14 and 15).</summary>
    public ulong CpuTicks { get; init; }

    /// <summary>Threads in the process (field 20).</summary>
    public int Threads { get; init; }

    /// <summary>Start time after boot in clock ticks (field 22): tells a reused pid from the old process.</summary>
    public ulong StartTime { get; init; }

    /// <summary>Resident set size in pages (field 24).</summary>
    public long RssPages { get; init; }

    /// <summary>Parses a stat line; false when it is malformed (too few fields, no parentheses, a non-number).</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out ProcStat stat)
    {
        stat = default;
        var open = line.IndexOf((byte)'(');
        var close = line.LastIndexOf((byte)')');
        if (open <= 0 || close < open || close + 2 > line.Length) return false;
        if (!Utf8Parser.TryParse(line[..(open - 1)], out int pid, out var consumed) || consumed != open - 1) return false;

        // Fields after the command: field 3 (state) is index 0 here.
        var rest = line[(close + 2)..];
        ulong utime = 0, stime = 0, start = 0;
        long threads = 0, rss = 0;
        var index = 0;
        var found = 0;
        while (!rest.IsEmpty && found < 5)
        {
            var space = rest.IndexOf((byte)' ');
            var field = space < 0 ? rest : rest[..space];
            rest = space < 0 ? default : rest[(space + 1)..];
            var number = index + 3;
            var ok = number switch
            {
                14 => TryULong(field, out utime),
                15 => TryULong(field, out stime),
                20 => TryLong(field, out threads),
                22 => TryULong(field, out start),
                24 => TryLong(field, out rss),
                _ => true,
            };
            if (!ok) return false;
            if (number is 14 or 15 or 20 or 22 or 24) found++;
            index++;
        }
        if (found < 5) return false;
        stat = new ProcStat
        {
            Pid = pid,
            Command = (open + 1)..close,
            CpuTicks = utime + stime,
            Threads = (int)threads,
            StartTime = start,
            RssPages = rss,
        };
        return true;
    }

    private static bool TryULong(ReadOnlySpan<byte> field, out ulong value) =>
        Utf8Parser.TryParse(field.TrimEnd((byte)'\n'), out value, out var consumed) && consumed == field.TrimEnd((byte)'\n').Length;

    private static bool TryLong(ReadOnlySpan<byte> field, out long value) =>
        Utf8Parser.TryParse(field.TrimEnd((byte)'\n'), out value, out var consumed) && consumed == field.TrimEnd((byte)'\n').Length;
}
