using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// Which samples a backend wants, as the Python Tracelet's RoutingRule, with its defects fixed:
/// the source pattern is a real glob (<c>*</c>, <c>?</c> anywhere, not only a prefix); a sample
/// without a source matches only a pattern that matches the empty string; the types are a set
/// (empty: all); the filter is declarative (a metric-name glob, label equalities and a test on the
/// value), so it cannot throw and travels to producers on other nodes.
/// </summary>
public sealed record RouteRule(string Source, int Types, string Name, ImmutableArray<KeyValuePair<string, string>> Labels)
{
    /// <summary>Everything.</summary>
    public static RouteRule All { get; } = new("*", 0, "*", []);

    /// <summary>The test on the sample's value; <see cref="ValueFilter.Any"/> by default.</summary>
    public ValueFilter Value { get; init; }

    /// <summary>The bitmask of a set of metric types (bit i = <see cref="MetricType"/> i).</summary>
    public static int TypeMask(IEnumerable<MetricType> types) => types.Aggregate(0, (mask, t) => mask | 1 << (int)t);

    public bool Matches(in MetricSample sample)
    {
        if (Types != 0 && (Types & 1 << (int)sample.Type) == 0) return false;
        if (!Value.Matches(sample.Value)) return false;
        if (!Glob.Matches(Source, sample.Source ?? "")) return false;
        if (!Glob.Matches(Name, sample.Name ?? "")) return false;
        foreach (var (key, value) in Labels.IsDefault ? [] : Labels)
        {
            var found = false;
            foreach (var label in sample.Labels.IsDefault ? [] : sample.Labels)
            {
                if (label.Key == key && label.Value == value) // ordinal
                {
                    found = true;
                    break;
                }
            }
            if (!found) return false;
        }
        return true;
    }

    /// <summary>True when any rule matches (no rules: everything matches).</summary>
    public static bool AnyMatches(ImmutableArray<RouteRule> rules, in MetricSample sample)
    {
        if (rules.IsDefaultOrEmpty) return true;
        foreach (var rule in rules)
        {
            if (rule.Matches(sample)) return true;
        }
        return false;
    }
}

/// <summary>What a route rule's <c>value</c> test does.</summary>
public enum ValueTest
{
    /// <summary>Every value (no test).</summary>
    Any = 0,
    /// <summary><c>&gt; a</c></summary>
    GreaterThan = 1,
    /// <summary><c>&gt;= a</c></summary>
    AtLeast = 2,
    /// <summary><c>&lt; a</c></summary>
    LessThan = 3,
    /// <summary><c>&lt;= a</c></summary>
    AtMost = 4,
    /// <summary><c>== a</c></summary>
    EqualTo = 5,
    /// <summary><c>!= a</c></summary>
    NotEqualTo = 6,
    /// <summary><c>in [a, b]</c>: a closed range.</summary>
    InRange = 7,
    /// <summary><c>finite</c>: not NaN, not ±infinity.</summary>
    Finite = 8,
}

/// <summary>
/// A test on a sample's value, parsed once at config load from text such as <c>&gt; 5</c>,
/// <c>in [0, 100]</c> or <c>finite</c>, and applied per sample without allocating. Comparisons are
/// IEEE-754: NaN passes only <c>!=</c>; infinities compare as the largest and smallest values.
/// </summary>
public readonly record struct ValueFilter(ValueTest Test, double A, double B)
{
    /// <summary>Every value.</summary>
    public static ValueFilter Any => default;

    private const string Forms = "use > x, >= x, < x, <= x, == x, != x, in [a, b] or finite";

    public bool Matches(double value) => Test switch
    {
        ValueTest.Any => true,
        ValueTest.GreaterThan => value > A,
        ValueTest.AtLeast => value >= A,
        ValueTest.LessThan => value < A,
        ValueTest.AtMost => value <= A,
        ValueTest.EqualTo => value == A,
        ValueTest.NotEqualTo => value != A,
        ValueTest.InRange => value >= A && value <= B,
        ValueTest.Finite => double.IsFinite(value),
        _ => false,
    };

    /// <summary>
    /// Reads a test (an optional leading <c>value</c> is allowed: <c>value &gt; 5</c> and <c>&gt; 5</c> are
    /// the same); false with the reason when the text is not one.
    /// </summary>
    public static bool TryParse(string? text, out ValueFilter filter, out string error)
    {
        filter = default;
        error = "";
        var t = (text ?? "").Trim();
        if (t.StartsWith("value", StringComparison.Ordinal) && (t.Length == 5 || !char.IsLetterOrDigit(t[5]))) t = t[5..].TrimStart();
        if (t == "finite")
        {
            filter = new ValueFilter(ValueTest.Finite, 0, 0);
            return true;
        }
        if (t.StartsWith("in", StringComparison.Ordinal) && t.Length > 2 && !char.IsLetterOrDigit(t[2]))
        {
            var range = t[2..].Trim();
            var comma = range.IndexOf(',');
            if (range.Length < 2 || range[0] != '[' || range[^1] != ']' || comma < 0)
            {
                error = $"'{text}' is not a value test: a range is written in [a, b] ({Forms})";
                return false;
            }
            if (!TryNumber(range[1..comma], out var a) || !TryNumber(range[(comma + 1)..^1], out var b))
            {
                error = $"'{text}' is not a value test: the bounds of in [a, b] must be numbers ({Forms})";
                return false;
            }
            if (a > b)
            {
                error = $"'{text}' is an empty range: its lower bound is above its upper bound";
                return false;
            }
            filter = new ValueFilter(ValueTest.InRange, a, b);
            return true;
        }
        (ValueTest Test, int Length)? op = t switch
        {
            _ when t.StartsWith(">=", StringComparison.Ordinal) => (ValueTest.AtLeast, 2),
            _ when t.StartsWith("<=", StringComparison.Ordinal) => (ValueTest.AtMost, 2),
            _ when t.StartsWith("==", StringComparison.Ordinal) => (ValueTest.EqualTo, 2),
            _ when t.StartsWith("!=", StringComparison.Ordinal) => (ValueTest.NotEqualTo, 2),
            _ when t.StartsWith('>') => (ValueTest.GreaterThan, 1),
            _ when t.StartsWith('<') => (ValueTest.LessThan, 1),
            _ => null,
        };
        if (op is not { } o)
        {
            error = $"'{text}' is not a value test ({Forms})";
            return false;
        }
        if (!TryNumber(t[o.Length..], out var x))
        {
            error = $"'{text}' is not a value test: '{t[o.Length..].Trim()}' is not a number ({Forms})";
            return false;
        }
        filter = new ValueFilter(o.Test, x, 0);
        return true;
    }

    /// <summary>A finite or infinite number in invariant culture; NaN is refused (no comparison with it is ever true).</summary>
    private static bool TryNumber(string text, out double value)
    {
        var t = text.Trim();
        value = t switch
        {
            "inf" or "+inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            _ => double.NaN,
        };
        if (!double.IsNaN(value)) return true;
        return t.Length > 0
            && double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value)
            && !double.IsNaN(value);
    }

    /// <summary>The test as it is written in HOCON (<c>&gt; 5</c>); empty for <see cref="ValueTest.Any"/>.</summary>
    public override string ToString()
    {
        static string N(double x) => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return Test switch
        {
            ValueTest.Any => "",
            ValueTest.GreaterThan => $"> {N(A)}",
            ValueTest.AtLeast => $">= {N(A)}",
            ValueTest.LessThan => $"< {N(A)}",
            ValueTest.AtMost => $"<= {N(A)}",
            ValueTest.EqualTo => $"== {N(A)}",
            ValueTest.NotEqualTo => $"!= {N(A)}",
            ValueTest.InRange => $"in [{N(A)}, {N(B)}]",
            ValueTest.Finite => "finite",
            _ => Test.ToString(),
        };
    }
}

/// <summary>Shell-style wildcards: <c>*</c> any run of characters (also none), <c>?</c> one character.</summary>
public static class Glob
{
    public static bool Matches(string pattern, string text)
    {
        if (pattern == "*") return true;
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
