namespace Tracelet.Collectors.ProcFiles;

/// <summary>
/// The host's logical CPUs as <c>&lt;proc-root&gt;/stat</c> lists them (one <c>cpuN</c> line each):
/// the count host-wide /proc figures are shares of, unlike <see cref="Environment.ProcessorCount"/>,
/// which follows the container's CPU quota and affinity.
/// </summary>
internal static class HostCpus
{
    /// <summary>The number of <c>cpuN</c> lines in <paramref name="procStat"/>; 0 when there is none.</summary>
    public static int FromProcStat(ReadOnlySpan<byte> procStat)
    {
        var count = 0;
        while (!procStat.IsEmpty)
        {
            var end = procStat.IndexOf((byte)'\n');
            var line = end < 0 ? procStat : procStat[..end];
            if (line.Length > 3 && line.StartsWith("cpu"u8) && line[3] is >= (byte)'0' and <= (byte)'9') count++;
            procStat = end < 0 ? default : procStat[(end + 1)..];
        }
        return count;
    }
}
