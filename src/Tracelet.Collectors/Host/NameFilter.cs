using System.Collections.Immutable;
using System.IO.Enumeration;

namespace Tracelet.Collectors.Host;

/// <summary>
/// Include and exclude lists of glob patterns (<c>*</c> and <c>?</c>, case-sensitive) for device,
/// interface and mount point names. An empty include list includes everything; exclude wins.
/// </summary>
public sealed record NameFilter(ImmutableArray<string> Include, ImmutableArray<string> Exclude)
{
    /// <summary>True when <paramref name="name"/> should be collected. Called once per new series, not per sample.</summary>
    public bool Accepts(string name)
    {
        foreach (var pattern in Exclude)
            if (Matches(pattern, name)) return false;
        if (Include.IsDefaultOrEmpty) return true;
        foreach (var pattern in Include)
            if (Matches(pattern, name)) return true;
        return false;
    }

    private static bool Matches(string pattern, string name) =>
        FileSystemName.MatchesSimpleExpression(pattern, name, ignoreCase: false);
}
