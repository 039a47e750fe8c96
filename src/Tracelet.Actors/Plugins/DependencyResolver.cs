using System.Collections.Immutable;

namespace Tracelet.Actors.Plugins;

/// <summary>The outcome of ordering plugins by their dependencies.</summary>
/// <param name="Order">Plugins that can start, dependencies first, ties broken by name.</param>
/// <param name="Problems">Plugins that cannot start, with the reason (missing dependency, cycle).</param>
public sealed record DependencyOrder(ImmutableArray<string> Order, ImmutableSortedDictionary<string, string> Problems);

/// <summary>
/// Orders plugins so that dependencies start first (Kahn's algorithm, ties by name, so the order is
/// the same on every run). A missing dependency, a version that does not satisfy a constraint, an
/// unreadable dependency entry or a cycle is reported for every plugin it affects, with the full
/// cycle spelled out (<c>a -&gt; b -&gt; c -&gt; a</c>).
/// </summary>
public static class DependencyResolver
{
    /// <summary>Orders discovered plugins, checking each dependency's version constraint against the discovered version.</summary>
    /// <param name="plugins">Every known plugin by name.</param>
    /// <param name="requested">The plugins to order; their dependencies are included.</param>
    public static DependencyOrder Resolve(IReadOnlyDictionary<string, PluginDescriptor> plugins, IEnumerable<string> requested)
    {
        var parsed = plugins.ToDictionary(kv => kv.Key, kv => kv.Value.Dependencies, StringComparer.Ordinal);
        var graph = parsed.ToDictionary(kv => kv.Key, kv => Names(kv.Value), StringComparer.Ordinal);
        return Resolve(graph, requested, name =>
        {
            var reasons = new List<string>();
            foreach (var dependency in parsed[name])
            {
                if (dependency.Problem is not null)
                    reasons.Add($"dependency '{dependency.Spec}' cannot be read: {dependency.Problem}");
                else if (plugins.TryGetValue(dependency.Name, out var provider) && dependency.Mismatch(provider.Metadata.Version) is { } mismatch)
                    reasons.Add(mismatch);
            }
            return reasons.Count == 0 ? null : string.Join("; ", reasons);
        });
    }

    /// <param name="dependencies">Every known plugin and the names it depends on.</param>
    /// <param name="requested">The plugins to order; their dependencies are included.</param>
    public static DependencyOrder Resolve(IReadOnlyDictionary<string, ImmutableArray<string>> dependencies, IEnumerable<string> requested) =>
        Resolve(dependencies, requested, _ => null);

    /// <summary>
    /// Every plugin that depends on <paramref name="name"/>, directly or through others, in the
    /// order to stop them: a plugin comes before everything it depends on (ties by name). Members of
    /// a cycle come last, by name.
    /// </summary>
    public static ImmutableArray<string> Dependents(IReadOnlyDictionary<string, PluginDescriptor> plugins, string name) =>
        Dependents(plugins.ToDictionary(kv => kv.Key, kv => Names(kv.Value.Dependencies), StringComparer.Ordinal), name);

    /// <inheritdoc cref="Dependents(IReadOnlyDictionary{string, PluginDescriptor}, string)"/>
    public static ImmutableArray<string> Dependents(IReadOnlyDictionary<string, ImmutableArray<string>> dependencies, string name)
    {
        var dependentsOf = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (plugin, deps) in dependencies)
        {
            foreach (var d in deps.Distinct(StringComparer.Ordinal))
            {
                if (!dependentsOf.TryGetValue(d, out var list)) dependentsOf[d] = list = [];
                list.Add(plugin);
            }
        }
        var affected = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([name]);
        while (pending.Count > 0)
        {
            foreach (var dependent in dependentsOf.GetValueOrDefault(pending.Pop()) ?? [])
            {
                if (dependent != name && affected.Add(dependent)) pending.Push(dependent);
            }
        }

        // Kahn on the reversed edges: a plugin is ready to stop once nothing affected depends on it.
        var waiting = affected.ToDictionary(n => n, n => (dependentsOf.GetValueOrDefault(n) ?? []).Count(affected.Contains), StringComparer.Ordinal);
        var ready = new SortedSet<string>(waiting.Where(kv => kv.Value == 0).Select(kv => kv.Key), StringComparer.Ordinal);
        var order = new List<string>();
        while (ready.Count > 0)
        {
            var next = ready.Min!;
            ready.Remove(next);
            order.Add(next);
            foreach (var d in dependencies[next].Distinct(StringComparer.Ordinal).Where(affected.Contains))
            {
                if (--waiting[d] == 0) ready.Add(d);
            }
        }
        order.AddRange(affected.Except(order).Order(StringComparer.Ordinal));
        return [.. order];
    }

    private static ImmutableArray<string> Names(ImmutableArray<PluginDependency> dependencies) =>
        [.. dependencies.Where(d => d.Problem is null).Select(d => d.Name).Distinct(StringComparer.Ordinal)];

    private static DependencyOrder Resolve(IReadOnlyDictionary<string, ImmutableArray<string>> dependencies, IEnumerable<string> requested, Func<string, string?> ownProblem)
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
            var reasons = new List<string>();
            if (missing.Count > 0)
                reasons.Add($"missing dependency: {string.Join(", ", missing.Select(m => $"'{m}'"))} (no such plugin is registered)");
            if (ownProblem(name) is { } own) reasons.Add(own);
            if (reasons.Count > 0) problems[name] = string.Join("; ", reasons);
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
