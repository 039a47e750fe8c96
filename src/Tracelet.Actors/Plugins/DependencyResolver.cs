using System.Collections.Immutable;

namespace Tracelet.Actors.Plugins;

/// <summary>The outcome of ordering plugins by their dependencies.</summary>
/// <param name="Order">Plugins that can start, dependencies first, ties broken by name.</param>
/// <param name="Problems">Plugins that cannot start, with the reason (missing dependency, cycle).</param>
public sealed record DependencyOrder(ImmutableArray<string> Order, ImmutableSortedDictionary<string, string> Problems);

/// <summary>
/// Orders plugins so that dependencies start first (Kahn's algorithm, ties by name, so the order is
/// the same on every run). A missing dependency or a cycle is reported for every plugin it affects,
/// with the full cycle spelled out (<c>a -&gt; b -&gt; c -&gt; a</c>).
/// </summary>
public static class DependencyResolver
{
    /// <param name="dependencies">Every known plugin and the names it depends on.</param>
    /// <param name="requested">The plugins to order; their dependencies are included.</param>
    public static DependencyOrder Resolve(IReadOnlyDictionary<string, ImmutableArray<string>> dependencies, IEnumerable<string> requested)
    {
        var problems = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var nodes = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(requested.Distinct().OrderDescending(StringComparer.Ordinal));
        while (pending.Count > 0)
        {
            var name = pending.Pop();
            if (!nodes.Add(name)) continue;
            if (!dependencies.TryGetValue(name, out var deps))
            {
                problems[name] = $"plugin '{name}' is not registered";
                continue;
            }
            var missing = deps.Where(d => !dependencies.ContainsKey(d)).Order(StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
                problems[name] = $"missing dependency: {string.Join(", ", missing.Select(m => $"'{m}'"))} (no such plugin is registered)";
            foreach (var d in deps.Where(dependencies.ContainsKey)) pending.Push(d);
        }

        // Kahn over the nodes whose dependencies are all known.
        var edges = nodes.Where(n => dependencies.ContainsKey(n))
            .ToDictionary(n => n, n => dependencies[n].Where(nodes.Contains).Distinct().ToList(), StringComparer.Ordinal);
        var remaining = edges.ToDictionary(kv => kv.Key, kv => kv.Value.Count, StringComparer.Ordinal);
        var dependents = edges.Keys.ToDictionary(n => n, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var (n, deps) in edges)
        {
            foreach (var d in deps)
            {
                if (dependents.TryGetValue(d, out var list)) list.Add(n);
            }
        }
        var ready = new SortedSet<string>(remaining.Where(kv => kv.Value == 0).Select(kv => kv.Key), StringComparer.Ordinal);
        var order = new List<string>();
        while (ready.Count > 0)
        {
            var next = ready.Min!;
            ready.Remove(next);
            order.Add(next);
            foreach (var dependent in dependents[next])
            {
                if (--remaining[dependent] == 0) ready.Add(dependent);
            }
        }

        // Whatever Kahn could not order is on a cycle or depends on one.
        var blocked = remaining.Where(kv => kv.Value > 0).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var cycle in FindCycles(edges, blocked))
        {
            var text = string.Join(" -> ", cycle.Append(cycle[0]));
            foreach (var member in cycle) problems[member] = $"dependency cycle: {text}";
        }
        foreach (var name in blocked.Where(b => !problems.ContainsKey(b)).Order(StringComparer.Ordinal))
        {
            var culprit = edges[name].Where(blocked.Contains).Order(StringComparer.Ordinal).First();
            problems[name] = $"depends on '{culprit}', which cannot start: {Root(problems, edges, blocked, culprit)}";
        }

        // A plugin that cannot start blocks its dependents even when the graph is fine.
        var finalOrder = new List<string>();
        foreach (var name in order)
        {
            if (problems.ContainsKey(name)) continue;
            var bad = edges[name].FirstOrDefault(problems.ContainsKey);
            if (bad is not null)
            {
                problems[name] = $"depends on '{bad}', which cannot start: {problems[bad]}";
                continue;
            }
            finalOrder.Add(name);
        }
        return new DependencyOrder([.. finalOrder], problems.ToImmutableSortedDictionary(StringComparer.Ordinal));
    }

    private static string Root(SortedDictionary<string, string> problems, Dictionary<string, List<string>> edges, HashSet<string> blocked, string name)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (!problems.ContainsKey(name) && seen.Add(name))
            name = edges[name].Where(blocked.Contains).Order(StringComparer.Ordinal).First();
        return problems.TryGetValue(name, out var p) ? p : "dependency cycle";
    }

    /// <summary>Elementary cycles among the blocked nodes, each reported once, starting at its smallest name.</summary>
    private static List<List<string>> FindCycles(Dictionary<string, List<string>> edges, HashSet<string> blocked)
    {
        var cycles = new List<List<string>>();
        var onCycle = new HashSet<string>(StringComparer.Ordinal);
        foreach (var start in blocked.Order(StringComparer.Ordinal))
        {
            if (onCycle.Contains(start)) continue;
            // Walk from start following the smallest blocked dependency until a node repeats.
            var path = new List<string>();
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            var current = start;
            while (!index.ContainsKey(current))
            {
                index[current] = path.Count;
                path.Add(current);
                current = edges[current].Where(blocked.Contains).Order(StringComparer.Ordinal).First();
            }
            var cycle = path.Skip(index[current]).ToList();
            if (cycle.Any(onCycle.Contains)) continue;
            var min = cycle.IndexOf(cycle.Min(StringComparer.Ordinal)!);
            cycle = [.. cycle.Skip(min), .. cycle.Take(min)];
            foreach (var member in cycle) onCycle.Add(member);
            cycles.Add(cycle);
        }
        return cycles;
    }
}
