using System.Text;

namespace Tracelet.Backends.Console;

/// <summary>
/// Standard output with a memory of who wrote last, so the table can be redrawn in place on a
/// terminal without wiping anything else: when another line (the node's status, a warning) came
/// after the last table, the next table is drawn below it instead of over it.
/// </summary>
internal sealed class ConsoleScreen : TextWriter
{
    private readonly TextWriter _inner;
    private readonly object _gate = new();
    private bool _othersWrote = true;

    public ConsoleScreen(TextWriter inner) => _inner = inner;

    public override Encoding Encoding => _inner.Encoding;

    /// <summary>The writer this one replaced (to put back when the backend stops).</summary>
    public TextWriter Inner => _inner;

    /// <summary>
    /// Writes a table of <paramref name="text"/>; with <paramref name="previousLines"/> &gt; 0 and
    /// nothing written since the previous table, the cursor first goes back over it and clears it.
    /// </summary>
    public void WriteTable(string text, int previousLines)
    {
        lock (_gate)
        {
            _inner.Write(Redraw(text, previousLines, _othersWrote));
            _inner.Flush();
            _othersWrote = false;
        }
    }

    /// <summary>The text that replaces the previous table (cursor up <paramref name="previousLines"/>, clear to the end), or follows what others wrote.</summary>
    internal static string Redraw(string text, int previousLines, bool othersWrote) =>
        previousLines > 0 && !othersWrote ? $"\u001b[{previousLines}F\u001b[J{text}" : text;

    public override void Write(char value)
    {
        lock (_gate)
        {
            _othersWrote = true;
            _inner.Write(value);
        }
    }

    public override void Write(string? value)
    {
        lock (_gate)
        {
            _othersWrote = true;
            _inner.Write(value);
        }
    }

    public override void Write(char[] buffer, int index, int count)
    {
        lock (_gate)
        {
            _othersWrote = true;
            _inner.Write(buffer, index, count);
        }
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        lock (_gate)
        {
            _othersWrote = true;
            _inner.Write(buffer);
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_gate)
        {
            _othersWrote = true;
            _inner.WriteLine(value);
        }
    }

    public override void Flush()
    {
        lock (_gate) _inner.Flush();
    }
}
