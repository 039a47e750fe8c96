using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;
using Xunit;

namespace Tracelet.Actors.Tests.Pipeline;

/// <summary>
/// Which samples a backend wants. The Python seed's RoutingRule matched only the prefix before
/// the first <c>*</c> and let a sample without a source match every pattern; here the source and
/// name are real globs, an empty source matches only patterns that match "", types are a
/// bitmask (0: all) and labels are equalities.
/// </summary>
public sealed class RouteRuleSpec
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static MetricSample Sample(
        string source = "gpu0", MetricType type = MetricType.System, string name = "gpu.utilization", MetricLabel[]? labels = null) =>
        new(name, type, 0.5, T0, source, null, labels is null ? default : [.. labels]);

    private static RouteRule Rule(string source = "*", int types = 0, string name = "*", (string Key, string Value)[]? labels = null) =>
        new(source, types, name, [.. (labels ?? []).Select(l => new KeyValuePair<string, string>(l.Key, l.Value))]);

    // ------------------------------------------------------------ globs

    [Theory]
    [InlineData("gpu*", "gpu0", true)]
    [InlineData("gpu*", "gpu", true)]
    [InlineData("gpu*", "gpu-collector", true)]
    [InlineData("gpu*", "cpu0", false)]
    [InlineData("gpu*", "xgpu", false)]
    [InlineData("gpu*", "", false)]
    [InlineData("*-node", "gpu-node", true)]
    [InlineData("*-node", "-node", true)]
    [InlineData("*-node", "gpu-nodes", false)]
    [InlineData("*-node", "node", false)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "axc", true)]
    [InlineData("a?c", "ac", false)]
    [InlineData("a?c", "abbc", false)]
    [InlineData("a?c", "abcd", false)]
    [InlineData("?", "", false)]
    [InlineData("?", "x", true)]
    [InlineData("*", "", true)]
    [InlineData("*", "anything at all", true)]
    [InlineData("**", "", true)]
    [InlineData("**", "abc", true)]
    [InlineData("train_*x", "train_abc", false)] // the seed matched this: only "train_" counted
    [InlineData("train_*x", "train_abcx", true)]
    [InlineData("train_*x", "train_x", true)]
    [InlineData("train_*x", "train_xy", false)]
    [InlineData("*_suffix", "anything", false)] // the seed matched everything with a leading star
    [InlineData("*_suffix", "a_suffix", true)]
    [InlineData("a*b*c", "abc", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("a*b*c", "acb", false)]
    [InlineData("*ab", "aab", true)]
    [InlineData("a*ab", "aab", true)]
    [InlineData("a*ab", "ab", false)]
    [InlineData("*a*", "bab", true)]
    [InlineData("*a*", "bbb", false)]
    [InlineData("exact", "exact", true)]
    [InlineData("exact", "exactly", false)]
    [InlineData("exact", "exac", false)]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("GPU*", "gpu0", false)]
    [InlineData("gpu.*", "gpu.memory.used", true)]
    [InlineData("gpu.*", "gpuXmemory", false)]
    public void Glob_matches_shell_style_wildcards(string pattern, string text, bool expected)
    {
        Assert.Equal(expected, Glob.Matches(pattern, text));
    }

    // ------------------------------------------------------------ source

    [Theory]
    [InlineData("gpu*", "gpu0", true)]
    [InlineData("gpu*", "system", false)]
    [InlineData("train_*x", "train_abc", false)]
    [InlineData("*", "system", true)]
    public void The_source_pattern_is_a_glob(string pattern, string source, bool expected)
    {
        Assert.Equal(expected, Rule(source: pattern).Matches(Sample(source: source)));
    }

    [Fact]
    public void A_sample_without_a_source_matches_only_patterns_that_match_the_empty_string()
    {
        var empty = Sample(source: "");
        var missing = Sample(source: null!);

        Assert.False(Rule(source: "gpu*").Matches(empty));
        Assert.False(Rule(source: "gpu*").Matches(missing));
        Assert.False(Rule(source: "?").Matches(empty));
        Assert.True(Rule(source: "*").Matches(empty));
        Assert.True(Rule(source: "*").Matches(missing));
        Assert.True(Rule(source: "").Matches(empty));
        Assert.True(Rule(source: "").Matches(missing));
    }

    // ------------------------------------------------------------ types

    [Fact]
    public void A_types_mask_admits_only_its_types()
    {
        var mask = RouteRule.TypeMask([MetricType.System, MetricType.Scalar]);
        Assert.Equal(1 << (int)MetricType.System | 1 << (int)MetricType.Scalar, mask);
        var rule = Rule(types: mask);

        foreach (var type in Enum.GetValues<MetricType>())
        {
            Assert.Equal(type is MetricType.System or MetricType.Scalar, rule.Matches(Sample(type: type)));
        }
    }

    [Fact]
    public void A_zero_types_mask_admits_every_type()
    {
        Assert.Equal(0, RouteRule.TypeMask([]));
        var rule = Rule(types: 0);

        Assert.All(Enum.GetValues<MetricType>(), type => Assert.True(rule.Matches(Sample(type: type))));
    }

    [Fact]
    public void A_single_type_mask_admits_that_type_only()
    {
        var rule = Rule(types: RouteRule.TypeMask([MetricType.Histogram]));

        Assert.True(rule.Matches(Sample(type: MetricType.Histogram)));
        Assert.False(rule.Matches(Sample(type: MetricType.Scalar)));
        Assert.False(rule.Matches(Sample(type: MetricType.Custom)));
    }

    // ------------------------------------------------------------ name and labels

    [Theory]
    [InlineData("gpu.*", "gpu.utilization", true)]
    [InlineData("gpu.*", "system.cpu.utilization", false)]
    [InlineData("*.utilization", "system.cpu.utilization", true)]
    [InlineData("*.utilization", "system.cpu.utilization.max", false)]
    [InlineData("loss", "loss", true)]
    [InlineData("loss", "val_loss", false)]
    [InlineData("*", "anything", true)]
    public void The_name_pattern_is_a_glob(string pattern, string name, bool expected)
    {
        Assert.Equal(expected, Rule(name: pattern).Matches(Sample(name: name)));
    }

    [Fact]
    public void Label_equalities_must_all_hold()
    {
        var rank0 = Rule(labels: [("rank", "0")]);
        var rank0OnA = Rule(labels: [("rank", "0"), ("node", "a")]);

        var sample = Sample(labels: [new MetricLabel("node", "a"), new MetricLabel("rank", "0"), new MetricLabel("gpu", "3")]);
        Assert.True(rank0.Matches(sample));
        Assert.True(rank0OnA.Matches(sample));

        Assert.False(rank0.Matches(Sample(labels: [new MetricLabel("rank", "1")])));
        Assert.False(rank0OnA.Matches(Sample(labels: [new MetricLabel("rank", "0")])));
        Assert.False(rank0.Matches(Sample(labels: [new MetricLabel("Rank", "0")]))); // keys are case-sensitive
        Assert.False(rank0.Matches(Sample(labels: [new MetricLabel("rank", "00")]))); // values are compared, not parsed
        Assert.False(rank0.Matches(Sample(labels: [new MetricLabel("rank", "0*")]))); // and are no globs
        Assert.False(Rule(labels: [("rank", "*")]).Matches(Sample(labels: [new MetricLabel("rank", "0")])));
    }

    [Fact]
    public void A_sample_without_labels_matches_only_rules_without_labels()
    {
        var bare = Sample(); // default (not empty) labels
        Assert.True(bare.Labels.IsDefault);

        Assert.True(Rule().Matches(bare));
        Assert.False(Rule(labels: [("rank", "0")]).Matches(bare));
        Assert.False(Rule(labels: [("rank", "0")]).Matches(bare with { Labels = [] }));
    }

    [Fact]
    public void A_rule_with_default_labels_matches_like_a_rule_without_labels()
    {
        // The pipeline serializer keeps a default label array default (it travels as such in announcements).
        var rule = new RouteRule("gpu*", 0, "*", default);

        Assert.True(rule.Matches(Sample(source: "gpu0")));
        Assert.False(rule.Matches(Sample(source: "cpu0")));
    }

    [Fact]
    public void Every_part_of_a_rule_must_hold()
    {
        var rule = Rule(source: "gpu*", types: RouteRule.TypeMask([MetricType.System]), name: "gpu.*", labels: [("rank", "0")]);
        var good = Sample(source: "gpu0", type: MetricType.System, name: "gpu.memory", labels: [new MetricLabel("rank", "0")]);

        Assert.True(rule.Matches(good));
        Assert.False(rule.Matches(good with { Source = "cpu" }));
        Assert.False(rule.Matches(good with { Type = MetricType.Scalar }));
        Assert.False(rule.Matches(good with { Name = "system.memory" }));
        Assert.False(rule.Matches(good with { Labels = [new MetricLabel("rank", "1")] }));
    }

    // ------------------------------------------------------------ all and any

    [Fact]
    public void The_all_rule_matches_everything()
    {
        Assert.True(RouteRule.All.Matches(Sample()));
        Assert.True(RouteRule.All.Matches(Sample(source: "", type: MetricType.Artifact, name: "", labels: [new MetricLabel("k", "v")])));
        Assert.True(RouteRule.All.Matches(Sample(source: null!)));
    }

    [Fact]
    public void Any_matches_with_no_rules_admits_everything()
    {
        Assert.True(RouteRule.AnyMatches([], Sample()));
        Assert.True(RouteRule.AnyMatches(default, Sample()));
        Assert.True(RouteRule.AnyMatches([], Sample(source: "", type: MetricType.Tensor)));
    }

    [Fact]
    public void Any_matches_when_one_rule_does()
    {
        ImmutableArray<RouteRule> rules =
        [
            Rule(source: "gpu*", types: RouteRule.TypeMask([MetricType.System])),
            Rule(source: "trainer", name: "loss"),
        ];

        Assert.True(RouteRule.AnyMatches(rules, Sample(source: "gpu1", type: MetricType.System)));
        Assert.True(RouteRule.AnyMatches(rules, Sample(source: "trainer", type: MetricType.Scalar, name: "loss")));
        Assert.False(RouteRule.AnyMatches(rules, Sample(source: "gpu1", type: MetricType.Scalar)));
        Assert.False(RouteRule.AnyMatches(rules, Sample(source: "trainer", type: MetricType.Scalar, name: "accuracy")));
        Assert.False(RouteRule.AnyMatches(rules, Sample(source: "", type: MetricType.System)));
    }

    // ------------------------------------------------------------ value tests

    private static MetricSample Valued(double value) => Sample() with { Value = value };

    [Theory]
    [InlineData("> 5", 5.0001, true)]
    [InlineData("> 5", 5, false)]
    [InlineData("value > 5", 6, true)]
    [InlineData("value>5", 4, false)]
    [InlineData(">= 5", 5, true)]
    [InlineData(">= 5", 4.999, false)]
    [InlineData("< -1.5", -2, true)]
    [InlineData("< -1.5", -1.5, false)]
    [InlineData("<= 0", 0, true)]
    [InlineData("<= 0", 1e-300, false)]
    [InlineData("== 1", 1, true)]
    [InlineData("== 1", 1.0000001, false)]
    [InlineData("!= 0", 3, true)]
    [InlineData("!= 0", 0, false)]
    [InlineData("in [0, 100]", 0, true)]
    [InlineData("in [0, 100]", 100, true)]
    [InlineData("in [0, 100]", 100.01, false)]
    [InlineData("in [0, 100]", -0.01, false)]
    [InlineData("value in [-inf, 0.5]", -1e308, true)]
    [InlineData("in [1e3, 2E3]", 1500, true)]
    [InlineData("finite", 1e308, true)]
    [InlineData("finite", double.PositiveInfinity, false)]
    [InlineData("finite", double.NegativeInfinity, false)]
    [InlineData("finite", double.NaN, false)]
    [InlineData("> 5", double.NaN, false)]
    [InlineData("<= 5", double.NaN, false)]
    [InlineData("in [0, 1]", double.NaN, false)]
    [InlineData("!= 5", double.NaN, true)]
    [InlineData("> 5", double.PositiveInfinity, true)]
    [InlineData("< inf", double.PositiveInfinity, false)]
    public void A_value_test_keeps_only_the_samples_whose_value_passes(string text, double value, bool expected)
    {
        Assert.True(ValueFilter.TryParse(text, out var filter, out var error), error);
        var rule = Rule() with { Value = filter };

        Assert.Equal(expected, rule.Matches(Valued(value)));
    }

    [Fact]
    public void Without_a_value_test_every_value_matches_even_NaN()
    {
        Assert.Equal(ValueFilter.Any, RouteRule.All.Value);
        Assert.True(RouteRule.All.Matches(Valued(double.NaN)));
        Assert.True(RouteRule.All.Matches(Valued(double.NegativeInfinity)));
    }

    [Fact]
    public void The_value_test_is_one_more_condition_next_to_source_type_and_name()
    {
        // The seed's RoutingRule("gpu*", sink, {SYSTEM}, filter_func=lambda m: m.value > 5).
        Assert.True(ValueFilter.TryParse("> 5", out var filter, out _));
        var rule = Rule(source: "gpu*", types: RouteRule.TypeMask([MetricType.System])) with { Value = filter };

        Assert.True(rule.Matches(Sample(source: "gpu0") with { Value = 7 }));
        Assert.False(rule.Matches(Sample(source: "gpu0") with { Value = 3 }));
        Assert.False(rule.Matches(Sample(source: "cpu0") with { Value = 7 }));
        Assert.False(rule.Matches(Sample(source: "gpu0", type: MetricType.Scalar) with { Value = 7 }));
    }

    [Theory]
    [InlineData("", "is not a value test")]
    [InlineData("5", "is not a value test")]
    [InlineData("> five", "'five' is not a number")]
    [InlineData(">", "'' is not a number")]
    [InlineData("> NaN", "'NaN' is not a number")]
    [InlineData("=> 5", "is not a value test")]
    [InlineData("= 5", "is not a value test")]
    [InlineData("in [1 2]", "a range is written in [a, b]")]
    [InlineData("in (0, 1)", "a range is written in [a, b]")]
    [InlineData("in [a, 1]", "must be numbers")]
    [InlineData("in [2, 1]", "empty range")]
    [InlineData("infinite", "is not a value test")]
    [InlineData("values > 5", "is not a value test")]
    [InlineData("> 5,5", "'5,5' is not a number")]
    public void A_text_that_is_not_a_value_test_is_refused_with_the_reason(string text, string reason)
    {
        Assert.False(ValueFilter.TryParse(text, out _, out var error));
        Assert.Contains(reason, error);
        Assert.Contains($"'{text}'", error);
    }

    [Theory]
    [InlineData("> 5")]
    [InlineData(">= -0.25")]
    [InlineData("< 1E+300")]
    [InlineData("<= 0")]
    [InlineData("== 3")]
    [InlineData("!= 3")]
    [InlineData("in [-1, 1]")]
    [InlineData("in [-inf, 1]")]
    [InlineData("finite")]
    public void A_value_test_reads_back_from_its_own_text(string text)
    {
        Assert.True(ValueFilter.TryParse(text, out var filter, out var first), first);
        Assert.True(ValueFilter.TryParse(filter.ToString(), out var again, out var error), error);
        Assert.Equal(filter, again);
    }
}
