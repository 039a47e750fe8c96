using System.Collections.Immutable;
using System.Text;
using Tracelet.Actors.Configuration;

namespace Tracelet.Node.Configuration;

/// <summary>
/// A strict syntax check of HOCON text, run before Akka's parser. Akka's built-in parser accepts
/// malformed input silently (an unclosed array or <c>a = = 3</c> parse "fine") and can loop forever
/// on some inputs, and it reports no line numbers; no standalone HOCON library is available to us.
/// This checker rejects what HOCON does not allow, names the line and column, and records on which
/// line every key path is set so that unknown settings can be reported by line too.
/// </summary>
internal sealed class HoconSyntaxChecker
{
    /// <summary>
    /// Objects and arrays nested deeper than this are refused: both this checker and Akka's parser
    /// recurse per level, and 20,000 levels overflowed the stack (a crash, not an error message).
    /// </summary>
    public const int MaxDepth = 64;

    private readonly string _text;
    private readonly char[] _normalized;
    private readonly string _source;
    private readonly Dictionary<string, int> _keyLines = new(StringComparer.Ordinal);
    private int _pos;
    private int _line = 1;
    private int _col = 1;
    private int _depth;

    private HoconSyntaxChecker(string text, string source)
    {
        _text = text;
        _source = source;
        _normalized = text.ToCharArray();
    }

    /// <summary>Checks the text; throws <see cref="TraceletConfigException"/> naming source, line and column.</summary>
    /// <returns>Every key path set in the text with the line of its last assignment.</returns>
    public static ImmutableDictionary<string, int> Check(string text, string source) => CheckAndNormalize(text, source).Keys;

    /// <summary>
    /// Checks the text and returns it in the form Akka's parser reads: a ',' that ends a field of an
    /// object becomes a new line (HOCON gives both the same meaning, but Akka refuses a ',' after a
    /// nested object, as in <c>a { b { c = 1 }, d = 2 }</c>). Offsets are unchanged, so a position in
    /// an error of Akka's still points into the original text.
    /// </summary>
    public static (ImmutableDictionary<string, int> Keys, string Text) CheckAndNormalize(string text, string source)
    {
        var checker = new HoconSyntaxChecker(text, source);
        checker.ParseRoot();
        return (checker._keyLines.ToImmutableDictionary(), new string(checker._normalized));
    }

    /// <summary>The 1-based line and column of an offset into <paramref name="text"/>.</summary>
    public static (int Line, int Column) LineAndColumn(string text, int offset)
    {
        var line = 1;
        var col = 1;
        for (var i = 0; i < Math.Min(offset, text.Length); i++)
        {
            if (text[i] == '\n')
            {
                line++;
                col = 1;
            }
            else col++;
        }
        return (line, col);
    }

    private void Enter(string what)
    {
        if (++_depth > MaxDepth) Fail($"{what} nested more than {MaxDepth} levels deep");
    }

    private void ParseRoot()
    {
        SkipSeparators(inObject: true);
        if (Peek() == '{')
        {
            Advance();
            ParseObjectBody("", closing: true);
            SkipSeparators(inObject: true);
            if (!AtEnd) Fail($"unexpected '{Peek()}' after the closing '}}' of the root object");
            return;
        }
        ParseObjectBody("", closing: false);
    }

    private void ParseObjectBody(string prefix, bool closing)
    {
        var openLine = _line;
        if (closing) Enter("objects");
        while (true)
        {
            SkipSeparators(inObject: true);
            if (AtEnd)
            {
                if (closing) Fail($"'{{' opened on line {openLine} is never closed", atEnd: true);
                return;
            }
            var c = Peek();
            if (c == '}')
            {
                if (!closing) Fail("'}' without a matching '{'");
                Advance();
                _depth--;
                return;
            }
            ParseField(prefix);
            // A field ends at a newline, a comma, or the object's closing brace.
            SkipSpaces();
            if (AtEnd) continue;
            c = Peek();
            if (c is ',' or '\n' or '}' or '#' || StartsComment()) continue;
            Fail($"expected a new line, ',' or '}}' after the value, found '{c}'");
        }
    }

    private void ParseField(string prefix)
    {
        if (StartsWithWord("include"))
        {
            _pos += "include".Length;
            _col += "include".Length;
            SkipSpaces();
            if (Peek() != '"') Fail("'include' must be followed by a quoted file name");
            ReadQuoted();
            return;
        }
        var keyLine = _line;
        var key = ReadKey();
        var path = prefix.Length == 0 ? key : prefix + "." + key;
        SkipSpaces();
        if (AtEnd) Fail($"key '{path}' has no value", atEnd: true);
        var c = Peek();
        if (c == '{')
        {
            _keyLines[path] = keyLine;
            Advance();
            ParseObjectBody(path, closing: true);
            return;
        }
        if (c is '=' or ':')
            Advance();
        else if (c == '+' && PeekAt(1) == '=')
        {
            Advance();
            Advance();
        }
        else
            Fail($"expected '=', ':' or '{{' after key '{path}', found {Describe(c)}");
        _keyLines[path] = keyLine;
        SkipSpaces();
        if (AtEnd || Peek() is '\n' or ',' or '}' or '#' || StartsComment())
            Fail($"key '{path}' has no value");
        ParseValue(path);
    }

    private void ParseValue(string path)
    {
        // A value is one or more elements concatenated on the same line.
        var first = true;
        while (true)
        {
            SkipSpaces();
            if (AtEnd) return;
            var c = Peek();
            if (c is '\n' or ',' or '}' or ']' or '#' || StartsComment()) return;
            if (!first && c is '=' or ':') Fail($"unexpected '{c}' in the value of '{path}' (a missing new line or ',' before the next key?)");
            switch (c)
            {
                case '{':
                    Advance();
                    ParseObjectBody(path, closing: true);
                    break;
                case '[':
                    ParseArray(path);
                    break;
                case '"':
                    ReadQuoted();
                    break;
                case '$':
                    ReadSubstitution();
                    break;
                default:
                    if (IsForbiddenUnquoted(c)) Fail($"unexpected {Describe(c)} in the value of '{path}'");
                    ReadUnquoted();
                    break;
            }
            first = false;
        }
    }

    private void ParseArray(string path)
    {
        var openLine = _line;
        Advance();
        Enter("arrays");
        while (true)
        {
            SkipSeparators(inObject: false);
            if (AtEnd) Fail($"'[' opened on line {openLine} for '{path}' is never closed", atEnd: true);
            if (Peek() == ']')
            {
                Advance();
                _depth--;
                return;
            }
            ParseValue(path);
            SkipSpaces();
            if (AtEnd) continue;
            var c = Peek();
            if (c is ',' or '\n' or ']' or '#' || StartsComment()) continue;
            Fail($"expected ',' or ']' in the array of '{path}', found {Describe(c)}");
        }
    }

    private string ReadKey()
    {
        var key = new StringBuilder();
        while (!AtEnd)
        {
            var c = Peek();
            if (c == '"')
            {
                key.Append(ReadQuoted());
                continue;
            }
            if (c == '.' || (!IsForbiddenUnquoted(c) && !char.IsWhiteSpace(c) && !StartsComment()))
            {
                key.Append(c);
                Advance();
                continue;
            }
            break;
        }
        if (key.Length == 0) Fail($"expected a key, found {Describe(Peek())}");
        return key.ToString();
    }

    private string ReadQuoted()
    {
        var startLine = _line;
        if (PeekAt(1) == '"' && PeekAt(2) == '"')
        {
            for (var i = 0; i < 3; i++) Advance();
            var sb = new StringBuilder();
            while (!AtEnd)
            {
                if (Peek() == '"' && PeekAt(1) == '"' && PeekAt(2) == '"')
                {
                    for (var i = 0; i < 3; i++) Advance();
                    return sb.ToString();
                }
                sb.Append(Peek());
                Advance();
            }
            Fail($"a \"\"\" string opened on line {startLine} is never closed", atEnd: true);
        }
        Advance();
        var value = new StringBuilder();
        while (!AtEnd)
        {
            var c = Peek();
            if (c == '\n') Fail("a quoted string is not closed before the end of the line");
            if (c == '\\')
            {
                Advance();
                if (AtEnd) break;
                value.Append(Peek());
                Advance();
                continue;
            }
            Advance();
            if (c == '"') return value.ToString();
            value.Append(c);
        }
        Fail($"a quoted string opened on line {startLine} is never closed", atEnd: true);
        return "";
    }

    private void ReadSubstitution()
    {
        Advance();
        if (Peek() != '{') Fail("'$' must start a substitution like ${path}");
        while (!AtEnd && Peek() != '}')
        {
            if (Peek() == '\n') Fail("a substitution ${...} is not closed before the end of the line");
            Advance();
        }
        if (AtEnd) Fail("a substitution ${...} is never closed", atEnd: true);
        Advance();
    }

    private void ReadUnquoted()
    {
        while (!AtEnd)
        {
            var c = Peek();
            if (c is ' ' or '\t' or '\n' or '\r' || IsForbiddenUnquoted(c) || StartsComment()) return;
            Advance();
        }
    }

    private static bool IsForbiddenUnquoted(char c) =>
        c is '$' or '"' or '{' or '}' or '[' or ']' or ':' or '=' or ',' or '+' or '#' or '`' or '^' or '?' or '!' or '@' or '*' or '&' or '\\';

    private void SkipSpaces()
    {
        while (!AtEnd)
        {
            var c = Peek();
            if (c is ' ' or '\t' or '\r' or '\uFEFF') Advance();
            else if (c == '#' || StartsComment())
            {
                while (!AtEnd && Peek() != '\n') Advance();
            }
            else return;
        }
    }

    private void SkipSeparators(bool inObject)
    {
        while (true)
        {
            SkipSpaces();
            if (AtEnd || Peek() is not ('\n' or ',')) return;
            if (inObject && Peek() == ',') _normalized[_pos] = '\n';
            Advance();
        }
    }

    private bool StartsComment() => Peek() == '/' && PeekAt(1) == '/';

    private bool StartsWithWord(string word) =>
        string.CompareOrdinal(_text, _pos, word, 0, word.Length) == 0 &&
        (_pos + word.Length >= _text.Length || _text[_pos + word.Length] is ' ' or '\t');

    private bool AtEnd => _pos >= _text.Length;

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private char PeekAt(int offset) => _pos + offset < _text.Length ? _text[_pos + offset] : '\0';

    private void Advance()
    {
        if (_text[_pos] == '\n')
        {
            _line++;
            _col = 1;
        }
        else _col++;
        _pos++;
    }

    private static string Describe(char c) => c switch
    {
        '\0' => "the end of the file",
        '\n' => "a new line",
        _ => $"'{c}'",
    };

    private void Fail(string message, bool atEnd = false) =>
        throw new TraceletConfigException(_source, _line, atEnd ? null : _col, null, message);
}
