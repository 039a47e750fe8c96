using System.Text;

namespace Tracelet.Cli.Output;

/// <summary>
/// A plain left-aligned text table. Cells may carry ANSI colour: widths are measured on the text
/// without its escape sequences so that coloured and plain output line up the same.
/// </summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    public void WriteTo(TextWriter output, string indent = "  ")
    {
        var widths = headers.Select(VisibleLength).ToArray();
        foreach (var row in _rows)
            for (var i = 0; i < widths.Length && i < row.Length; i++) widths[i] = Math.Max(widths[i], VisibleLength(row[i]));
        WriteRow(output, indent, headers, widths);
        foreach (var row in _rows) WriteRow(output, indent, row, widths);
    }

    private static void WriteRow(TextWriter output, string indent, string[] cells, int[] widths)
    {
        var line = new StringBuilder(indent);
        for (var i = 0; i < widths.Length; i++)
        {
            var cell = i < cells.Length ? cells[i] : "";
            line.Append(cell);
            if (i < widths.Length - 1) line.Append(' ', widths[i] - VisibleLength(cell) + 2);
        }
        output.WriteLine(line.ToString().TrimEnd());
    }

    private static int VisibleLength(string text)
    {
        var length = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\u001b')
            {
                while (i < text.Length && text[i] != 'm') i++;
                continue;
            }
            length++;
        }
        return length;
    }
}
