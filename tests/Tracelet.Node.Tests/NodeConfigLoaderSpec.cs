using System.Collections.Immutable;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Pipeline;
using Tracelet.Node.Configuration;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>What an operator sees when a configuration file is wrong: the file, the line and the key.</summary>
[Trait("Category", "Configuration")]
public sealed class NodeConfigLoaderSpec : IDisposable
{
    private const string PipelineOf = "tracelet.plugins.sql.pipeline";

    private static readonly ImmutableDictionary<string, string> NoEnvironment = ImmutableDictionary<string, string>.Empty;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tracelet-tests", "config-" + Guid.NewGuid().ToString("N"));

    public NodeConfigLoaderSpec() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        return path;
    }

    private static TraceletConfigException LoadFails(string file) =>
        Assert.Throws<TraceletConfigException>(() => NodeConfigLoader.Load([file], NoEnvironment));

    [Theory]
    [InlineData("unclosed-brace.conf", "tracelet {\n  node-id = n1\n  http {\n    port = 9000\n  }\n", 6, "'{' opened on line 1 is never closed")]
    [InlineData("unclosed-array.conf", "tracelet {\n  discovery {\n    paths = [\"/opt/a\",\n      \"/opt/b\"\n  }\n}\n", 5, "found '}'")]
    [InlineData("double-equals.conf", "tracelet {\n  node-id = n1\n  plugin-manager.snapshot-every = = 3\n}\n", 3, "unexpected '='")]
    [InlineData("missing-value.conf", "tracelet {\n  node-id = n1\n  data-dir =\n}\n", 3, "key 'tracelet.data-dir' has no value")]
    public void A_malformed_file_is_refused_naming_the_file_and_line(string name, string text, int line, string reason)
    {
        var file = Write(name, text);

        var error = LoadFails(file);

        Assert.Equal((file, line), (error.Source, error.Line));
        Assert.Contains(reason, error.Reason);
        Assert.StartsWith($"{file}:{line}", error.Message);
    }

    [Fact]
    public void An_unclosed_array_names_the_line_that_opened_it()
    {
        var file = Write("array-at-end.conf", "tracelet.discovery.paths = [\n  \"/opt/a\"\n");

        var error = LoadFails(file);

        Assert.Equal(file, error.Source);
        Assert.Contains("'[' opened on line 1 for 'tracelet.discovery.paths' is never closed", error.Reason);
    }

    [Fact]
    public void An_unknown_setting_is_refused_naming_file_line_and_key()
    {
        var file = Write("typo.conf", "tracelet {\n  node-id = n1\n  http {\n    prot = 1\n  }\n}\n");

        var error = LoadFails(file);

        Assert.Equal((file, 4, "tracelet.http.prot"), (error.Source, error.Line, error.Key));
        Assert.Equal($"{file}:4: tracelet.http.prot: unknown setting (not in reference.conf; check the spelling)", error.Message);
    }

    [Fact]
    public void An_unknown_plugin_setting_is_refused_naming_it()
    {
        var file = Write("plugin-typo.conf", "tracelet.plugins.x {\n  enabled = on\n  enabeld = off\n}\n");

        var error = LoadFails(file);

        Assert.Equal((file, 3, "tracelet.plugins.x.enabeld"), (error.Source, error.Line, error.Key));
        Assert.Contains("unknown plugin setting 'enabeld'", error.Reason);
    }

    [Fact]
    public void A_bad_value_is_refused_naming_the_key_and_the_file()
    {
        var file = Write("bad-value.conf", "tracelet {\n  node-id = n1\n\n  plugin-manager {\n    operation-timeout = soon\n  }\n}\n");
        var loaded = NodeConfigLoader.Load([file], NoEnvironment);

        var error = Assert.Throws<TraceletConfigException>(() => TraceletSettings.Create(loaded));

        Assert.Equal((file, 5, "tracelet.plugin-manager.operation-timeout"), (error.Source, error.Line, error.Key));
        Assert.Equal($"{file}:5: tracelet.plugin-manager.operation-timeout: 'soon' is not a duration (write it like 500ms, 2s, 1m)", error.Message);
    }

    [Fact]
    public void A_later_file_wins_and_environment_overrides_win_over_files()
    {
        var dataDir = Path.Combine(_dir, "data");
        var first = Write("first.conf", $"tracelet {{\n  node-id = from-file\n  data-dir = {TraceletConfigLoader.Quote(dataDir)}\n  plugin-manager.snapshot-every = 10\n}}\n");
        var second = Write("second.conf", "tracelet.plugin-manager.snapshot-every = 20\n");
        var environment = NoEnvironment.Add("TRACELET_NODE_ID", "from-env").Add("UNRELATED", "x");

        var settings = TraceletSettings.Create(NodeConfigLoader.Load([first, second], environment));

        Assert.Equal("from-env", settings.NodeId);
        Assert.Equal("plugin-manager-from-env", settings.PluginManagerPersistenceId);
        Assert.Equal(20, settings.PluginManager.SnapshotEvery);
        Assert.Equal(dataDir, settings.DataDirectory);
        // Defaults come from reference.conf.
        Assert.Equal(TimeSpan.FromSeconds(30), settings.PluginManager.OperationTimeout);
    }

    [Fact]
    public void Cluster_address_and_seed_list_come_from_the_environment_for_containers()
    {
        var file = Write("node.conf", "tracelet.cluster { hostname = \"from-file\", port = 1, seed-nodes = [\"akka.tcp://tracelet@file:1\"] }\n");
        var environment = NoEnvironment
            .Add("TRACELET_CLUSTER_HOSTNAME", "tracelet-1.tracelet-seeds")
            .Add("TRACELET_CLUSTER_PORT", "4053")
            .Add("TRACELET_CLUSTER_SEED_NODES", "akka.tcp://tracelet@tracelet-0.tracelet-seeds:4053, akka.tcp://tracelet@tracelet-1.tracelet-seeds:4053,");

        var config = NodeConfigLoader.Load([file], environment).Config;

        Assert.Equal("tracelet-1.tracelet-seeds", config.GetString("tracelet.cluster.hostname"));
        Assert.Equal(4053, config.GetInt("tracelet.cluster.port"));
        Assert.Equal(
            ["akka.tcp://tracelet@tracelet-0.tracelet-seeds:4053", "akka.tcp://tracelet@tracelet-1.tracelet-seeds:4053"],
            config.GetStringList("tracelet.cluster.seed-nodes"));
    }

    [Fact]
    public void Plugin_sections_carry_enabled_and_config_as_json()
    {
        var file = Write("plugins.conf", """
            tracelet.plugins {
              test-counter {
                enabled = on
                config { interval = 2s, value = 3.5, tags = [a, b], nested { depth = 2 } }
              }
              test-echo.enabled = off
            }
            """);

        var settings = TraceletSettings.Create(NodeConfigLoader.Load([file], NoEnvironment));

        var counter = settings.Plugins["test-counter"];
        Assert.True(counter.Enabled);
        Assert.Equal("""{"interval":"2s","nested":{"depth":2},"tags":["a","b"],"value":3.5}""", counter.Config.Json);
        Assert.False(settings.Plugins["test-echo"].Enabled);
        Assert.Equal("{}", settings.Plugins["test-echo"].Config.Json);
    }

    [Fact]
    public void A_bad_value_in_a_file_is_refused_naming_the_file_line_and_key()
    {
        var file = Write("backend.conf", "tracelet.plugins.sql {\n  enabled = on\n  pipeline {\n    overflow = fast\n  }\n}\n");
        var loaded = NodeConfigLoader.Load([file], NoEnvironment);

        var error = Assert.Throws<TraceletConfigException>(() => TraceletSettings.Create(loaded));

        Assert.Equal((file, 4, $"{PipelineOf}.overflow"), (error.Source, error.Line, error.Key));
        Assert.StartsWith($"{file}:4: {PipelineOf}.overflow: 'fast' is not an overflow policy", error.Message);
    }

    [Fact]
    public void Node_settings_carry_the_pipeline_settings()
    {
        var file = Write("node.conf", "tracelet.plugins.sql {\n  enabled = on\n  pipeline.overflow = durable\n}\n");

        var settings = TraceletSettings.Create(NodeConfigLoader.Load([file], NoEnvironment));

        Assert.Equal(OverflowPolicy.Durable, settings.Pipeline.For("sql").Link.Overflow);
        Assert.True(settings.Plugins["sql"].Enabled);
    }
}
