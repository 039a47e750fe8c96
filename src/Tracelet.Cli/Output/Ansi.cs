namespace Tracelet.Cli.Output;

/// <summary>ANSI colours, applied only when the environment allows them (a terminal without NO_COLOR).</summary>
internal sealed class Ansi(bool enabled)
{
    public bool Enabled => enabled;

    public string Red(string text) => Wrap("31", text);
    public string Green(string text) => Wrap("32", text);
    public string Yellow(string text) => Wrap("33", text);
    public string Bold(string text) => Wrap("1", text);
    public string Dim(string text) => Wrap("2", text);

    /// <summary>Moves the cursor home and clears the screen, for watch's redraw.</summary>
    public string ClearScreen => enabled ? "\u001b[H\u001b[2J" : "";

    private string Wrap(string code, string text) => enabled && text.Length > 0 ? $"\u001b[{code}m{text}\u001b[0m" : text;
}
