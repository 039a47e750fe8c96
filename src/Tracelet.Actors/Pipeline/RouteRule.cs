using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// Which samples a backend wants, as the Python Tracelet's RoutingRule, with its defects fixed:
/// the source pattern is a real glob (<c>*</c>, <c>?</c> anywhere, not only a prefix); a sample
/// without a source matches only a pattern that matches the empty string; the types are a set
/// (empty: all); the filter is declarative (a metric-name glob and label equalities), so it
/// cannot throw and travels to producers on other nodes.
/// </summary>
public sealed record RouteRule(string Source, int Types, string Name, ImmutableArray<KeyValuePair<string, string>> Labels)
{
    /// <summary>Everything.</summary>
    public static RouteRule All { get; } = new("*", 0, "*", []);

    /// <summary>The bitmask of a set of metric types (bit i = <see cref="MetricType"/> i).</summary>
    public static int TypeMask(IEnumerable<MetricType> types) => types.Aggregate(0, (mask, t) => mask | 1 << (int)t);

    public bool Matches(in MetricSample sample)
    {
        if (Types != 0 && (Types & 1 << (int)sample.Type) == 0) return false;
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
