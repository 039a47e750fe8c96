using System.Collections.Immutable;
using System.Text.RegularExpressions;
using NuGet.Versioning;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// One entry of <see cref="Tracelet.Abstractions.PluginMetadata.Dependencies"/>, read with NuGet's
/// version semantics: <c>name</c>, <c>name&gt;=1.2.0</c>, <c>name&gt;=1.0,&lt;2.0</c>,
/// <c>name==1.4.2</c>, <c>name~=1.2</c> (as the Python Tracelet writes them) or a NuGet interval
/// such as <c>name [1.0,2.0)</c>.
/// </summary>
/// <param name="Name">The plugin depended on.</param>
/// <param name="Range">The versions it accepts; null accepts any version.</param>
/// <param name="Spec">The entry as the plugin wrote it, for messages.</param>
/// <param name="Problem">Why the entry could not be read; null when it could.</param>
public sealed partial record PluginDependency(string Name, VersionRange? Range, string Spec, string? Problem = null)
{
    [GeneratedRegex(@"^\s*(?<name>[A-Za-z0-9][A-Za-z0-9_.-]*)\s*(?<constraint>.*?)\s*$")]
    private static partial Regex NameAndConstraint();

    [GeneratedRegex(@"^(?<op>>=|<=|==|~=|!=|>|<)\s*(?<version>\S+)$")]
    private static partial Regex Clause();

    /// <summary>Reads every entry; an unreadable one comes back with its <see cref="Problem"/> set.</summary>
    public static ImmutableArray<PluginDependency> ParseAll(IEnumerable<string> specs) => [.. specs.Select(Parse)];

    /// <summary>Reads one entry. Never throws: a bad entry carries its <see cref="Problem"/>.</summary>
    public static PluginDependency Parse(string spec)
    {
        var match = NameAndConstraint().Match(spec ?? "");
        if (!match.Success)
            return new PluginDependency(spec ?? "", null, spec ?? "", "it does not start with a plugin name");
        var name = match.Groups["name"].Value;
        var constraint = match.Groups["constraint"].Value;
        if (constraint.Length == 0)
            return new PluginDependency(name, null, spec!);
        if (constraint[0] is '[' or '(')
        {
            return VersionRange.TryParse(constraint, out var interval)
                ? new PluginDependency(name, interval, spec!)
                : new PluginDependency(name, null, spec!, $"'{constraint}' is not a version range");
        }

        NuGetVersion? min = null, max = null;
        bool minInclusive = false, maxInclusive = false;
        foreach (var text in constraint.Split(',', StringSplitOptions.TrimEntries))
        {
            var clause = Clause().Match(text);
            if (!clause.Success)
                return new PluginDependency(name, null, spec!, $"'{text}' is not a constraint (use >=, >, <=, <, == or ~= and a version)");
            var op = clause.Groups["op"].Value;
            var versionText = clause.Groups["version"].Value;
            if (!NuGetVersion.TryParse(versionText, out var version))
                return new PluginDependency(name, null, spec!, $"'{versionText}' is not a version");
            switch (op)
            {
                case ">=" or ">":
                    RaiseMin(version, op == ">=");
                    break;
                case "<=" or "<":
                    LowerMax(version, op == "<=");
                    break;
                case "==":
                    RaiseMin(version, true);
                    LowerMax(version, true);
                    break;
                case "~=":
                    // A compatible release: ~=1.2 is >=1.2,<2.0 and ~=1.2.3 is >=1.2.3,<1.3.0.
                    var parts = versionText.Split('-', '+')[0].Split('.').Length;
                    if (parts < 2)
                        return new PluginDependency(name, null, spec!, $"'~={versionText}' needs at least two version parts");
                    RaiseMin(version, true);
                    LowerMax(parts == 2 ? new NuGetVersion(version.Major + 1, 0, 0) : new NuGetVersion(version.Major, version.Minor + 1, 0), false);
                    break;
                default:
                    return new PluginDependency(name, null, spec!, $"'{op}' is not supported (a plugin name is satisfied by one version)");
            }
        }
        var range = new VersionRange(min, minInclusive, max, maxInclusive);
        if (min is not null && max is not null && (min > max || (min == max && !(minInclusive && maxInclusive))))
            return new PluginDependency(name, null, spec!, $"no version satisfies '{constraint}'");
        return new PluginDependency(name, range, spec!);

        void RaiseMin(NuGetVersion v, bool inclusive)
        {
            if (min is null || v > min || (v == min && !inclusive))
                (min, minInclusive) = (v, inclusive);
        }

        void LowerMax(NuGetVersion v, bool inclusive)
        {
            if (max is null || v < max || (v == max && !inclusive))
                (max, maxInclusive) = (v, inclusive);
        }
    }

    /// <summary>
    /// Why <paramref name="version"/> of the plugin depended on does not satisfy this entry, or null
    /// when it does.
    /// </summary>
    public string? Mismatch(string version)
    {
        if (Range is null) return null;
        if (!NuGetVersion.TryParse(version, out var parsed))
            return $"requires '{Spec}', but '{Name}' reports version '{version}', which is not a version";
        return Range.Satisfies(parsed) ? null : $"requires '{Spec}', but '{Name}' {version} is discovered";
    }
}
