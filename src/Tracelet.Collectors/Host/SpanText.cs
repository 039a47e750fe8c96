using System.Buffers.Text;

namespace Tracelet.Collectors.Host;

/// <summary>Allocation-free tokenizing of the ASCII text files under /proc.</summary>
internal static class SpanText
{
    /// <summary>Splits the next line (without its newline) off <paramref name="text"/>; false at the end.</summary>
    public static bool NextLine(ref ReadOnlySpan<byte> text, out ReadOnlySpan<byte> line)
    {
        if (text.IsEmpty)
        {
            line = default;
            return false;
        }
        var end = text.IndexOf((byte)'\n');
        if (end < 0)
        {
            line = text;
            text = default;
        }
        else
        {
            line = text[..end];
            text = text[(end + 1)..];
        }
        return true;
    }

    /// <summary>Splits the next field separated by spaces or tabs off <paramref name="line"/>; false when none is left.</summary>
    public static bool NextField(ref ReadOnlySpan<byte> line, out ReadOnlySpan<byte> field)
    {
        var start = 0;
        while (start < line.Length && line[start] is (byte)' ' or (byte)'\t') start++;
        if (start == line.Length)
        {
            field = default;
            line = default;
            return false;
        }
        var rest = line[start..];
        var end = rest.IndexOfAny((byte)' ', (byte)'\t');
        if (end < 0)
        {
            field = rest;
            line = default;
        }
        else
        {
            field = rest[..end];
            line = rest[end..];
        }
        return true;
    }

    /// <summary>Parses the next field as an unsigned integer; false when it is missing or not a whole number.</summary>
    public static bool NextUInt64(ref ReadOnlySpan<byte> line, out ulong value)
    {
        value = 0;
        return NextField(ref line, out var field) && Utf8Parser.TryParse(field, out value, out var used) && used == field.Length;
    }

    /// <summary>Parses the next field as a decimal number; false when it is missing or not a number.</summary>
    public static bool NextDouble(ref ReadOnlySpan<byte> line, out double value)
    {
        value = 0;
        return NextField(ref line, out var field) && Utf8Parser.TryParse(field, out value, out var used) && used == field.Length;
    }

    /// <summary>True when the line holds nothing but spaces and tabs.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0;
}
