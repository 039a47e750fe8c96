namespace Tracelet.Collectors.Host;

/// <summary>What one read of /proc/stat holds; reused between samples.</summary>
internal sealed class ProcStatReading
{
    public CpuTimes Total;
    public bool HasTotal;
    public CpuTimes[] Cores = new CpuTimes[Environment.ProcessorCount];
    public int[] CoreIds = new int[Environment.ProcessorCount];
    public int CoreCount;
    public ulong ContextSwitches;
    public bool HasContextSwitches;
    public ulong Running;
    public bool HasRunning;
    public ulong Blocked;
    public bool HasBlocked;
    public int Malformed;

    public void Reset()
    {
        HasTotal = HasContextSwitches = HasRunning = HasBlocked = false;
        CoreCount = Malformed = 0;
    }

    public void AddCore(int id, in CpuTimes times)
    {
        if (CoreCount == Cores.Length)
        {
            Array.Resize(ref Cores, CoreCount * 2);
            Array.Resize(ref CoreIds, CoreCount * 2);
        }
        Cores[CoreCount] = times;
        CoreIds[CoreCount++] = id;
    }
}

/// <summary>Parses /proc/stat (proc(5)): the cpu and cpuN lines, ctxt, procs_running and procs_blocked.</summary>
internal static class ProcStatParser
{
    /// <summary>Fills <paramref name="reading"/>; a line that cannot be parsed is counted in <see cref="ProcStatReading.Malformed"/> and left out.</summary>
    public static void Parse(ReadOnlySpan<byte> text, ProcStatReading reading)
    {
        reading.Reset();
        while (SpanText.NextLine(ref text, out var line))
        {
            if (!SpanText.NextField(ref line, out var key)) continue;
            if (key.StartsWith("cpu"u8))
            {
                if (!TryParseTimes(ref line, out var times))
                {
                    reading.Malformed++;
                }
                else if (key.Length == 3)
                {
                    reading.Total = times;
                    reading.HasTotal = true;
                }
                else if (System.Buffers.Text.Utf8Parser.TryParse(key[3..], out int id, out var used) && used == key.Length - 3 && id >= 0)
                {
                    reading.AddCore(id, times);
                }
                else
                {
                    reading.Malformed++;
                }
            }
            else if (key.SequenceEqual("ctxt"u8))
            {
                if (SpanText.NextUInt64(ref line, out reading.ContextSwitches)) reading.HasContextSwitches = true;
                else reading.Malformed++;
            }
            else if (key.SequenceEqual("procs_running"u8))
            {
                if (SpanText.NextUInt64(ref line, out reading.Running)) reading.HasRunning = true;
                else reading.Malformed++;
            }
            else if (key.SequenceEqual("procs_blocked"u8))
            {
                if (SpanText.NextUInt64(ref line, out reading.Blocked)) reading.HasBlocked = true;
                else reading.Malformed++;
            }
        }
    }

    // user nice system idle are in every kernel; iowait, irq, softirq and steal came later and count as 0 when absent.
    private static bool TryParseTimes(ref ReadOnlySpan<byte> line, out CpuTimes times)
    {
        times = default;
        for (var i = 0; i < CpuTimes.Count; i++)
        {
            var before = line;
            if (SpanText.NextUInt64(ref line, out var value))
            {
                times[i] = value;
                continue;
            }
            if (i < 4) return false;
            // A field present but not a number is malformed; a line that simply ends is an older kernel.
            return !SpanText.NextField(ref before, out _);
        }
        return true;
    }
}
