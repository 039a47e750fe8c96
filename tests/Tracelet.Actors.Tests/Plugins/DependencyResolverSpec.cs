using System.Collections.Immutable;
using NuGet.Versioning;
using Tracelet.Abstractions;
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

    /// <summary>Discovered plugins from "name version: spec; spec" lines (specs as plugins write them).</summary>
    private static ImmutableDictionary<string, PluginDescriptor> Plugins(params string[] lines) =>
        lines.Select(l => l.Split(':', 2))
            .Select(p => (Head: p[0].Trim().Split(' '), Specs: p.Length > 1 ? p[1].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : []))
            .ToImmutableDictionary(
                p => p.Head[0],
                p => new PluginDescriptor(new PluginMetadata(p.Head[0], p.Head[1], PluginType.Processor) { Dependencies = [.. p.Specs] }, typeof(object), "tests"),
                StringComparer.Ordinal);

    [Fact]
    public void Dependency_specs_are_read_as_the_seed_writes_them()
    {
        var sdk = PluginDependency.Parse("custom-sdk>=2.0.0");
        var bare = PluginDependency.Parse("store");
        var both = PluginDependency.Parse("store>=1.0,<2.0");

        Assert.Equal(("custom-sdk", VersionRange.Parse("[2.0.0, )"), null), (sdk.Name, sdk.Range, sdk.Problem));
        Assert.Equal(("store", null, null), (bare.Name, bare.Range, bare.Problem));
        Assert.Equal(VersionRange.Parse("[1.0, 2.0)"), both.Range);
        Assert.Equal<string>(["custom-sdk"], Plugins("app 1.0.0: custom-sdk>=2.0.0")["app"].Dependencies.Select(d => d.Name));
    }

    [Fact]
    public void A_satisfied_version_constraint_orders_like_a_plain_name()
    {
        var result = DependencyResolver.Resolve(Plugins("app 1.0.0: store>=1.2.0", "store 1.10.0"), ["app"]);

        Assert.Empty(result.Problems);
        Assert.Equal<string>(["store", "app"], result.Order);
    }

    [Fact]
    public void A_version_mismatch_names_the_constraint_and_the_discovered_version_and_blocks_dependents()
    {
        var result = DependencyResolver.Resolve(Plugins("app 1.0.0: a>=2.0.0", "a 1.0.0", "top 1.0.0: app"), ["top"]);

        Assert.Equal<string>(["a"], result.Order);
        Assert.Equal("requires 'a>=2.0.0', but 'a' 1.0.0 is discovered", result.Problems["app"]);
        Assert.Equal("depends on 'app', which cannot start: requires 'a>=2.0.0', but 'a' 1.0.0 is discovered", result.Problems["top"]);
    }

    [Theory]
    [InlineData("a>=1.0,<2.0", "1.5.0", true)]
    [InlineData("a>=1.0,<2.0", "2.0.0", false)]
    [InlineData("a [1.0,2.0)", "1.9.9", true)]
    [InlineData("a [1.0,2.0)", "2.0.0", false)]
    [InlineData("a==1.4.2", "1.4.2", true)]
    [InlineData("a==1.4.2", "1.4.3", false)]
    [InlineData("a~=1.2", "1.9.0", true)]
    [InlineData("a~=1.2", "2.0.0", false)]
    [InlineData("a~=1.2.3", "1.2.9", true)]
    [InlineData("a~=1.2.3", "1.3.0", false)]
    [InlineData("a>1.0.0", "1.0.0", false)]
    [InlineData("a<=1.0.0", "1.0.0", true)]
    [InlineData("a>=1.0.0", "1.0.0-beta", false)] // NuGet's semantics: a pre-release sorts before its release
    [InlineData("a>=1.0.0-beta", "1.0.0-rc.1", true)]
    public void Ranges_follow_NuGet_version_semantics(string spec, string version, bool satisfied)
    {
        var result = DependencyResolver.Resolve(Plugins($"app 1.0.0: {spec}", $"a {version}"), ["app"]);

        Assert.Equal(satisfied, result.Order.Contains("app"));
        if (!satisfied) Assert.Equal($"requires '{spec}', but 'a' {version} is discovered", result.Problems["app"]);
    }

    [Theory]
    [InlineData("a>=banana", "dependency 'a>=banana' cannot be read: 'banana' is not a version")]
    [InlineData("a=>1.0", "dependency 'a=>1.0' cannot be read: '=>1.0' is not a constraint (use >=, >, <=, <, == or ~= and a version)")]
    [InlineData("a!=1.0", "dependency 'a!=1.0' cannot be read: '!=' is not supported (a plugin name is satisfied by one version)")]
    [InlineData("a>=2.0,<1.0", "dependency 'a>=2.0,<1.0' cannot be read: no version satisfies '>=2.0,<1.0'")]
    [InlineData(">=1.0", "dependency '>=1.0' cannot be read: it does not start with a plugin name")]
    [InlineData("a [1.0", "dependency 'a [1.0' cannot be read: '[1.0' is not a version range")]
    public void An_unreadable_spec_is_a_problem_of_the_plugin_that_wrote_it(string spec, string problem)
    {
        var result = DependencyResolver.Resolve(Plugins($"app 1.0.0: {spec}", "a 1.0.0"), ["app"]);

        Assert.DoesNotContain("app", result.Order);
        Assert.Equal(problem, result.Problems["app"]);
    }

    [Fact]
    public void A_discovered_version_that_is_not_a_version_fails_a_constrained_dependency_only()
    {
        var result = DependencyResolver.Resolve(Plugins("app 1.0.0: a>=1.0", "a nightly", "loose 1.0.0: a"), ["app", "loose"]);

        Assert.Equal("requires 'a>=1.0', but 'a' reports version 'nightly', which is not a version", result.Problems["app"]);
        Assert.Equal<string>(["a", "loose"], result.Order);
    }

    [Fact]
    public void Dependents_come_in_stop_order_dependents_of_dependents_first()
    {
        var plugins = Plugins("c 1.0.0", "b 1.0.0: c>=1.0", "a 1.0.0: b", "e 1.0.0: a", "d 1.0.0: c", "other 1.0.0");

        Assert.Equal<string>(["d", "e", "a", "b"], DependencyResolver.Dependents(plugins, "c"));
        Assert.Equal<string>(["e"], DependencyResolver.Dependents(plugins, "a"));
        Assert.Empty(DependencyResolver.Dependents(plugins, "other"));
    }

    [Fact]
    public void A_diamond_of_dependents_stops_the_top_before_both_sides()
    {
        var result = DependencyResolver.Dependents(Graph("top: left right", "left: base", "right: base", "base"), "base");

        Assert.Equal<string>(["top", "left", "right"], result);
    }
}
