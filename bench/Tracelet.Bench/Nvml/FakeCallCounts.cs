using System.Text.RegularExpressions;
using Tracelet.Testing;

namespace Tracelet.Bench.Nvml;

/// <summary>
/// Reads the fake NVML's call counters for every function it counts. The function names come
/// from the fake's own table (the <c>FAKE_FUNCS</c> macro in fake_nvml.c), so a function added
/// there is counted here too.
/// </summary>
internal sealed partial class FakeCallCounts
{
    private readonly FakeNvmlControl _control;
    private readonly string[] _functions;

    public FakeCallCounts(FakeNvmlControl control)
    {
        _control = control;
        var source = File.ReadAllText(FakeNvml.SourceFile);
        var table = source.IndexOf("#define FAKE_FUNCS(X)", StringComparison.Ordinal);
        var end = table < 0 ? -1 : source.IndexOf("#define FAKE_FN_ENUM", table, StringComparison.Ordinal);
        if (table < 0 || end < 0) throw new InvalidOperationException($"{FakeNvml.SourceFile}: no FAKE_FUNCS table to read the function names from");
        _functions = [.. FunctionName().Matches(source[table..end]).Select(m => m.Groups[1].Value).Distinct()];
        if (_functions.Length == 0) throw new InvalidOperationException($"{FakeNvml.SourceFile}: the FAKE_FUNCS table lists no function");
    }

    /// <summary>Calls so far per function, on all devices (and calls without a device).</summary>
    public Dictionary<string, ulong> Snapshot() => _functions.ToDictionary(f => f, f => _control.CallCount(f, -1), StringComparer.Ordinal);

    /// <summary>Calls per function between two snapshots, leaving out functions not called.</summary>
    public static Dictionary<string, ulong> Difference(Dictionary<string, ulong> before, Dictionary<string, ulong> after) =>
        after.Where(a => a.Value != before.GetValueOrDefault(a.Key)).ToDictionary(a => a.Key, a => a.Value - before.GetValueOrDefault(a.Key), StringComparer.Ordinal);

    [GeneratedRegex(@"\bX\((nvml\w+)\)")]
    private static partial Regex FunctionName();
}
