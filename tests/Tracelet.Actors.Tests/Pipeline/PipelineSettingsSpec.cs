using System.Collections.Immutable;
using Akka.Configuration;
using Tracelet.Abstractions;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Pipeline;
using Xunit;

namespace Tracelet.Actors.Tests.Pipeline;

/// <summary>
/// <c>tracelet.pipeline</c> and each backend's <c>tracelet.plugins.&lt;name&gt;.pipeline</c>
/// section: defaults from reference.conf, per-backend overrides and routes, and bad values
/// refused with a <see cref="TraceletConfigException"/> naming the key.
/// </summary>
[Trait("Category", "Configuration")]
public sealed class PipelineSettingsSpec
{
    private const string Sql = "tracelet.plugins.sql.pipeline";

    private static PipelineSettings Parse(string hocon) =>
        PipelineSettings.Create(new LoadedConfig(
            ConfigurationFactory.ParseString(hocon).WithFallback(TraceletConfigLoader.ReferenceConfig()),
            ImmutableDictionary<string, SettingOrigin>.Empty));

    private static TraceletConfigException Fails(string hocon) =>
        Assert.Throws<TraceletConfigException>(() => Parse(hocon));

    private static KeyValuePair<string, string> Label(string key, string value) => new(key, value);

    // ------------------------------------------------------------ defaults

    [Fact]
    public void Defaults_come_from_reference_conf()
    {
        var settings = Parse("");

        Assert.Equal(TimeSpan.FromSeconds(1), settings.AnnounceInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.BackendTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), settings.AckTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.FlushTimeout);
        Assert.Equal(1000, settings.MaxBatchSamples);
        Assert.Equal(1L << 30, settings.DurableMaxBytes);
        Assert.Equal(new LinkSettings(OverflowPolicy.DropOldest, 100_000, 64L << 20, 20_000), settings.Defaults);
        Assert.Equal(LinkSettings.Default, settings.Defaults);
        Assert.Empty(settings.Backends);
    }

    [Fact]
    public void A_backend_without_a_section_gets_the_defaults_and_every_sample()
    {
        var settings = Parse("tracelet.plugins.sql { enabled = on, config { } }");

        Assert.Empty(settings.Backends); // a plugin section without pipeline { } is not a backend section
        var sql = settings.For("sql");
        Assert.Equal(settings.Defaults, sql.Link);
        Assert.True(sql.Routes.IsEmpty);
        Assert.False(sql.Routes.IsDefault);
    }

    [Fact]
    public void The_top_level_settings_and_defaults_can_be_overridden()
    {
        var settings = Parse("""
            tracelet.pipeline {
              announce-interval = 250ms
              backend-timeout = 2s
              ack-timeout = 1500ms
              flush-timeout = 10s
              max-batch-samples = 50
              durable-max-bytes = 2MiB
              defaults {
                overflow = block
                buffer-samples = 500
                buffer-bytes = 1MiB
                window-samples = 100
              }
            }
            """);

        Assert.Equal(TimeSpan.FromMilliseconds(250), settings.AnnounceInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.BackendTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), settings.AckTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.FlushTimeout);
        Assert.Equal(50, settings.MaxBatchSamples);
        Assert.Equal(2L << 20, settings.DurableMaxBytes);
        Assert.Equal(new LinkSettings(OverflowPolicy.Block, 500, 1L << 20, 100), settings.Defaults);
    }

    // ------------------------------------------------------------ backend sections

    [Fact]
    public void A_backend_section_overrides_the_link_and_gives_routes()
    {
        var settings = Parse("""
            tracelet.plugins.sql {
              enabled = on
              pipeline {
                overflow = drop-newest
                buffer-samples = 10
                buffer-bytes = 64KiB
                window-samples = 4
                routes = [
                  { source = "gpu*", types = [system, scalar], name = "gpu.*", labels { rank = "0", node = "a" } }
                  { source = trainer }
                  { }
                ]
              }
            }
            """);

        Assert.True(settings.Backends.ContainsKey("sql"));
        var sql = settings.Backends["sql"];
        Assert.Equal(new LinkSettings(OverflowPolicy.DropNewest, 10, 64 * 1024, 4), sql.Link);
        Assert.Equal(sql, settings.For("sql"));
        Assert.Equal(3, sql.Routes.Length);

        var gpu = sql.Routes[0];
        Assert.Equal("gpu*", gpu.Source);
        Assert.Equal(RouteRule.TypeMask([MetricType.System, MetricType.Scalar]), gpu.Types);
        Assert.Equal("gpu.*", gpu.Name);
        Assert.Equal([Label("node", "a"), Label("rank", "0")], gpu.Labels.OrderBy(l => l.Key, StringComparer.Ordinal));

        var trainer = sql.Routes[1];
        Assert.Equal(("trainer", 0, "*"), (trainer.Source, trainer.Types, trainer.Name));
        Assert.Empty(trainer.Labels);

        var everything = sql.Routes[2];
        Assert.Equal(("*", 0, "*"), (everything.Source, everything.Types, everything.Name));
        Assert.Empty(everything.Labels);

        var sample = new MetricSample("gpu.utilization", MetricType.System, 0.5, DateTimeOffset.UnixEpoch, "gpu0", null, [new("rank", "0"), new("node", "a")]);
        Assert.True(gpu.Matches(sample));
        Assert.False(gpu.Matches(sample with { Type = MetricType.Tensor }));
    }

    [Fact]
    public void A_partial_backend_section_takes_the_rest_from_the_defaults()
    {
        var settings = Parse("""
            tracelet.pipeline.defaults { overflow = block, window-samples = 77 }
            tracelet.plugins.sql { enabled = on, pipeline { buffer-samples = 12 } }
            tracelet.plugins.influx { enabled = on, pipeline { overflow = durable } }
            """);

        Assert.Equal(new LinkSettings(OverflowPolicy.Block, 12, 64L << 20, 77), settings.For("sql").Link);
        Assert.Equal(new LinkSettings(OverflowPolicy.Durable, 100_000, 64L << 20, 77), settings.For("influx").Link);
        Assert.True(settings.For("sql").Routes.IsEmpty);
        Assert.Equal(["influx", "sql"], settings.Backends.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(settings.Defaults, settings.For("console").Link);
    }

    [Theory]
    [InlineData("drop-oldest", OverflowPolicy.DropOldest)]
    [InlineData("drop-newest", OverflowPolicy.DropNewest)]
    [InlineData("block", OverflowPolicy.Block)]
    [InlineData("durable", OverflowPolicy.Durable)]
    public void Every_overflow_policy_has_a_name(string name, OverflowPolicy policy)
    {
        Assert.Equal(policy, Parse($"{Sql}.overflow = {name}").For("sql").Link.Overflow);
        Assert.Equal(policy, Parse($"tracelet.pipeline.defaults.overflow = {name}").Defaults.Overflow);
    }

    [Fact]
    public void Route_type_names_are_case_insensitive_and_cover_every_type()
    {
        var names = string.Join(", ", Enum.GetNames<MetricType>().Select(n => n.ToUpperInvariant()));

        var rule = Parse($"{Sql}.routes = [{{ types = [{names}] }}]").For("sql").Routes.Single();

        Assert.Equal(RouteRule.TypeMask(Enum.GetValues<MetricType>()), rule.Types);
    }

    [Fact]
    public void Empty_routes_mean_every_sample()
    {
        var sql = Parse($"{Sql}.routes = []").For("sql");

        Assert.True(sql.Routes.IsEmpty);
        Assert.True(RouteRule.AnyMatches(sql.Routes, new MetricSample("x", MetricType.Custom, 1, DateTimeOffset.UnixEpoch, "")));
    }

    // ------------------------------------------------------------ bad values

    [Fact]
    public void A_bad_overflow_value_is_refused_naming_the_key()
    {
        var error = Fails($"{Sql}.overflow = fast");

        Assert.Equal($"{Sql}.overflow", error.Key);
        Assert.Contains("'fast' is not an overflow policy", error.Reason);
        Assert.Contains($"{Sql}.overflow", error.Message);
    }

    [Fact]
    public void A_bad_default_overflow_value_is_refused_naming_the_key()
    {
        var error = Fails("tracelet.pipeline.defaults.overflow = Drop-Oldest");

        Assert.Equal("tracelet.pipeline.defaults.overflow", error.Key);
        Assert.Contains("'Drop-Oldest'", error.Reason);
    }

    [Fact]
    public void An_unknown_key_in_a_backend_pipeline_section_is_refused_naming_it()
    {
        var error = Fails($"{Sql} {{ overflow = block, bufer-samples = 10 }}");

        Assert.Equal($"{Sql}.bufer-samples", error.Key);
        Assert.Contains("unknown pipeline setting", error.Reason);
    }

    [Fact]
    public void A_bad_type_name_in_a_route_is_refused_naming_the_key()
    {
        var error = Fails($"{Sql}.routes = [{{ source = \"gpu*\" }}, {{ types = [system, gpu] }}]");

        Assert.Equal($"{Sql}.routes", error.Key);
        Assert.Contains("routes[1].types", error.Reason);
        Assert.Contains("'gpu' is not a metric type", error.Reason);
        Assert.Contains("system", error.Reason); // the valid names are listed
    }

    [Theory]
    [InlineData("buffer-samples = 0")]
    [InlineData("buffer-samples = many")]
    [InlineData("window-samples = 0")]
    [InlineData("buffer-bytes = 10")]
    [InlineData("buffer-bytes = lots")]
    public void A_bad_number_in_a_backend_section_is_refused_naming_the_key(string setting)
    {
        var key = setting.Split(' ')[0];

        var error = Fails($"{Sql}.{setting}");

        Assert.Equal($"{Sql}.{key}", error.Key);
    }

    [Theory]
    [InlineData("tracelet.pipeline.max-batch-samples = 0", "tracelet.pipeline.max-batch-samples")]
    [InlineData("tracelet.pipeline.ack-timeout = soon", "tracelet.pipeline.ack-timeout")]
    [InlineData("tracelet.pipeline.durable-max-bytes = 1KiB", "tracelet.pipeline.durable-max-bytes")]
    [InlineData("tracelet.pipeline.defaults.window-samples = -5", "tracelet.pipeline.defaults.window-samples")]
    public void A_bad_top_level_value_is_refused_naming_the_key(string hocon, string key)
    {
        Assert.Equal(key, Fails(hocon).Key);
    }

    [Fact]
    public void A_pipeline_section_that_is_not_an_object_is_refused()
    {
        Assert.Equal(Sql, Fails($"{Sql} = durable").Key);
    }

    [Fact]
    public void Routes_that_are_not_a_list_of_objects_are_refused()
    {
        Assert.Equal($"{Sql}.routes", Fails($"{Sql}.routes = \"gpu*\"").Key);
        var error = Fails($"{Sql}.routes = [\"gpu*\"]");
        Assert.Equal($"{Sql}.routes", error.Key);
        Assert.Contains("routes[0] must be an object", error.Reason);
    }

    [Fact]
    public void A_single_type_without_brackets_is_not_read_as_every_type()
    {
        // HOCON's GetStringList gives an empty list for a scalar: the rule must not widen to all types.
        var error = Record.Exception(() => Parse($"{Sql}.routes = [{{ types = system }}]"));

        if (error is null)
            Assert.Equal(RouteRule.TypeMask([MetricType.System]), Parse($"{Sql}.routes = [{{ types = system }}]").For("sql").Routes.Single().Types);
        else
            Assert.StartsWith($"{Sql}.routes", Assert.IsType<TraceletConfigException>(error).Key);
    }

    [Theory]
    [InlineData("99")] // Enum.TryParse takes numbers; 1 << 99 wraps to bit 3 (parameter)
    [InlineData("5")]
    [InlineData("\"tensor, artifact\"")] // and comma lists, OR-ed into another type
    public void A_type_that_is_not_a_type_name_is_refused(string type)
    {
        var error = Fails($"{Sql}.routes = [{{ types = [{type}] }}]");

        Assert.Equal($"{Sql}.routes", error.Key);
        Assert.Contains("is not a metric type", error.Reason);
    }

    [Fact]
    public void Route_labels_that_are_not_an_object_are_refused_naming_the_key()
    {
        var error = Fails($"{Sql}.routes = [{{ labels = \"rank=0\" }}]");

        Assert.StartsWith($"{Sql}.routes", error.Key);
    }

    [Fact]
    public void An_unknown_key_in_a_route_is_refused_naming_it()
    {
        // A misspelt "source" would otherwise leave a rule that routes every source.
        var error = Fails($"{Sql}.routes = [{{ sorce = \"gpu*\" }}]");

        Assert.StartsWith($"{Sql}.routes", error.Key);
        Assert.Contains("sorce", error.Message);
    }

    // ------------------------------------------------------------ value tests

    [Fact]
    public void A_route_can_test_the_value_as_the_seeds_filter_functions_did()
    {
        // The seed: RoutingRule("gpu*", "sql", {MetricType.SYSTEM}, filter_func=lambda m: m.value > 5).
        var routes = Parse($$"""
            {{Sql}}.routes = [
              { source = "gpu*", types = [system], value = "> 5" }
              { name = "loss", value = "value in [0, 10]" }
              { value = finite }
            ]
            """).For("sql").Routes;

        Assert.Equal(
            new[] { new ValueFilter(ValueTest.GreaterThan, 5, 0), new ValueFilter(ValueTest.InRange, 0, 10), new ValueFilter(ValueTest.Finite, 0, 0) },
            routes.Select(r => r.Value));
        Assert.Equal(("gpu*", RouteRule.TypeMask([MetricType.System])), (routes[0].Source, routes[0].Types));
    }

    [Fact]
    public void A_route_without_a_value_test_takes_every_value()
    {
        var rule = Parse($"{Sql}.routes = [{{ source = \"gpu*\" }}]").For("sql").Routes.Single();
        Assert.Equal(ValueFilter.Any, rule.Value);
    }

    [Theory]
    [InlineData("\"> five\"", "routes[0].value: '> five' is not a value test: 'five' is not a number")]
    [InlineData("\"=> 5\"", "routes[0].value: '=> 5' is not a value test")]
    [InlineData("\"in [9, 1]\"", "routes[0].value: 'in [9, 1]' is an empty range")]
    [InlineData("[1, 2]", "routes[0].value must be a quoted test")]
    [InlineData("{ gt = 5 }", "routes[0].value must be a quoted test")]
    public void A_bad_value_test_stops_the_node_naming_the_key_and_the_text(string value, string reason)
    {
        var error = Fails($"{Sql}.routes = [{{ value = {value} }}]");

        Assert.Equal($"{Sql}.routes", error.Key);
        Assert.Contains(reason, error.Reason);
    }
}
