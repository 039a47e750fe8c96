namespace Tracelet.Collectors.Processes;

/// <summary>The reasons the processes and self collectors count skips under (<c>skipped_by_reason</c> in status).</summary>
internal static class SkipReasons
{
    public const string StatUnreadable = "stat.unreadable";
    public const string StatMalformed = "stat.malformed";
    public const string CpuBackwards = "stat.cpu-backwards";
    public const string StatusUnreadable = "status.unreadable";
    public const string StatusMalformed = "status.malformed";
    public const string CmdlineUnreadable = "cmdline.unreadable";
}
