namespace Tracelet.Backends.Console;

/// <summary>
/// Where the table goes: a terminal (redrawn in place, sized to the window) or a pipe (plain lines).
/// Tests pass a fake one with a fixed size.
/// </summary>
internal sealed record ConsoleTerminal(bool IsTerminal, int Width, int Height)
{
    /// <summary>What a pipe or a log file gets: lines of a readable width, no cursor movement.</summary>
    public static ConsoleTerminal Piped { get; } = new(false, 120, 0);

    /// <summary>Standard output as it is now.</summary>
    public static ConsoleTerminal Detect()
    {
        if (System.Console.IsOutputRedirected) return Piped;
        try
        {
            return new ConsoleTerminal(true, Math.Max(40, System.Console.WindowWidth), Math.Max(8, System.Console.WindowHeight));
        }
        catch (IOException)
        {
            // No size to read (no controlling terminal after all): treat it as a pipe.
            return Piped;
        }
    }

    /// <summary>
    /// Table lines by default: the window less the node's status line and a prompt's worth, so the
    /// whole view stays on one screen; 20 on a pipe, so a log gets a short block per interval.
    /// </summary>
    public int DefaultMaxLines => IsTerminal ? Math.Max(5, Height - 3) : 20;
}
