using System.Collections.Immutable;
using Tracelet.Actors.Plugins;
using Xunit;

namespace Tracelet.Actors.Tests.Plugins;

[Trait("Category", "Dependencies")]
public sealed class DependencyResolverSpec
{
    /// <summary>A graph from "name: dep dep" lines.</summary>
    private static ImmutableDictionary<string, ImmutableArray<string>> Graph(params string[] lines) =>
        lines.Select(l => l.Split(':'))
            .ToImmutableDictionary(p => p[0].Trim(), p => p.Length > 1 ? p[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToImmutableArray() : [], StringComparer.Ordinal);

    [Fact]
    public void A_chain_starts_with_its_deepest_dependency()
    {
        var result = DependencyResolver.Resolve(Graph("a: b", "b: c", "c"), ["a"]);

        Assert.Equal<string>(["c", "b", "a"], result.Order);
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void Ties_are_broken_by_name_whatever_the_request_order()
    {
        var graph = Graph("app: zeta alpha", "zeta", "alpha", "mid: alpha", "solo");

        var forward = DependencyResolver.Resolve(graph, ["solo", "app", "mid"]);
        var backward = DependencyResolver.Resolve(graph, ["mid", "app", "solo"]);

        Assert.Equal<string>(["alpha", "mid", "solo", "zeta", "app"], forward.Order);
        Assert.Equal<string>(forward.Order, backward.Order);
    }

    [Fact]
    public void A_missing_dependency_is_named_and_blocks_its_dependents()
    {
        var result = DependencyResolver.Resolve(Graph("a: b", "b: ghost phantom", "c"), ["a", "c"]);

        Assert.Equal<string>(["c"], result.Order);
        Assert.Equal("missing dependency: 'ghost', 'phantom' (no such plugin is registered)", result.Problems["b"]);
        Assert.Equal("depends on 'b', which cannot start: missing dependency: 'ghost', 'phantom' (no such plugin is registered)", result.Problems["a"]);
    }

    [Fact]
    public void A_cycle_puts_every_member_in_error_with_the_whole_cycle_spelled_out()
    {
        var result = DependencyResolver.Resolve(Graph("b: c", "c: a", "a: b", "d: b", "e"), ["d", "e"]);

        Assert.Equal<string>(["e"], result.Order);
        Assert.All(["a", "b", "c"], n => Assert.Equal("dependency cycle: a -> b -> c -> a", result.Problems[n]));
        Assert.Equal("depends on 'b', which cannot start: dependency cycle: a -> b -> c -> a", result.Problems["d"]);
    }

    [Fact]
    public void A_plugin_that_depends_on_itself_is_a_cycle_of_one()
    {
        var result = DependencyResolver.Resolve(Graph("self: self"), ["self"]);

        Assert.Empty(result.Order);
        Assert.Equal("dependency cycle: self -> self", result.Problems["self"]);
    }

    [Fact]
    public void Two_separate_cycles_are_each_reported()
    {
        var result = DependencyResolver.Resolve(Graph("a: b", "b: a", "x: y", "y: x"), ["a", "x"]);

        Assert.Equal("dependency cycle: a -> b -> a", result.Problems["a"]);
        Assert.Equal("dependency cycle: a -> b -> a", result.Problems["b"]);
        Assert.Equal("dependency cycle: x -> y -> x", result.Problems["x"]);
        Assert.Equal("dependency cycle: x -> y -> x", result.Problems["y"]);
    }

    [Fact]
    public void An_unregistered_request_is_a_problem_not_an_exception()
    {
        var result = DependencyResolver.Resolve(Graph("a"), ["a", "nobody"]);

        Assert.Equal<string>(["a"], result.Order);
        Assert.Equal("plugin 'nobody' is not registered", result.Problems["nobody"]);
    }

    [Fact]
    public void A_diamond_starts_the_shared_dependency_once()
    {
        var result = DependencyResolver.Resolve(Graph("top: left right", "left: base", "right: base", "base"), ["top"]);

        Assert.Equal<string>(["base", "left", "right", "top"], result.Order);
    }
}
