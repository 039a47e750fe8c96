using System.Collections.Immutable;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;
using Tracelet.Node.Configuration;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>
/// Every configuration a person may write, as a table: what the file (or variable) says and the
/// exact line the node prints. "{file}" stands for the file's path.
/// </summary>
[Trait("Category", "Configuration")]
public sealed class ConfigErrorSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracelet-config-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string, string, string> Refused => new()
    {
        {
            "deep-objects", string.Concat(Enumerable.Repeat("a {", 20_000)), "",
            "{file}:1:196: objects nested more than 64 levels deep"
        },
        {
            "deep-arrays", "a = " + new string('[', 20_000), "",
            "{file}:1:70: arrays nested more than 64 levels deep"
        },
        {
            "zero-backoff", "tracelet.plugin-manager.supervision.min-backoff = 0s\n", "",
            "{file}:1: tracelet.plugin-manager.supervision.min-backoff: '0s' must be longer than zero (write it like 500ms, 2s, 1m)"
        },
        {
            "backoff-upside-down", "tracelet.plugin-manager.supervision {\n  min-backoff = 10s, max-backoff = 1s\n}\n", "",
            "{file}:2: tracelet.plugin-manager.supervision.max-backoff: '1s' is shorter than min-backoff (10s)"
        },
        {
            "fractional-port", "tracelet.http.port = 19501.5\n", "",
            "{file}:1: tracelet.http.port: '19501.5' is not a whole number between 0 and 65535"
        },
        {
            "port-too-big", "tracelet.cluster {\n  port = 70000\n}\n", "",
            "{file}:2: tracelet.cluster.port: '70000' is not a whole number between 0 and 65535"
        },
        {
            "variable-not-role-file", "tracelet.http {\n  hostname = \"127.0.0.1\"\n}\n", "TRACELET_HTTP_PORT=80a",
            "environment variable TRACELET_HTTP_PORT: tracelet.http.port: '80a' is not a whole number between 0 and 65535"
        },
        {
            "variable-bad-node-id", "tracelet.node-id = n1\n", "TRACELET_NODE_ID=n 1",
            "environment variable TRACELET_NODE_ID: tracelet.node-id: 'n 1' may only hold letters, digits, '-', '_' and '.'"
        },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void A_configuration_is_refused_with_exactly_this_message(string name, string text, string variable, string message)
    {
        var file = Write(name, text);

        var error = Assert.Throws<TraceletConfigException>(() => LoadAll(file, variable));

        Assert.Equal(message.Replace("{file}", file, StringComparison.Ordinal), error.Message);
    }

    [Theory]
    [InlineData("a { b { c = 1 }, d = 2 }", "a.b.c", "1")]
    [InlineData("a { b { c = 1 }, d = 2 }", "a.d", "2")]
    [InlineData("a { b = [1, 2], c { d = x }, e = 3 }\n", "a.e", "3")]
    [InlineData("tracelet.plugins.x { config { a { b = 1 }, c = 2 }, enabled = on }\n", "tracelet.plugins.x.config.c", "2")]
    public void Valid_hocon_is_accepted(string text, string key, string value)
    {
        var file = Write("valid.conf", text);

        var config = NodeConfigLoader.Load([file], ImmutableDictionary<string, string>.Empty).Config;

        Assert.Equal(value, config.GetString(key));
    }

    [Fact]
    public void A_plugin_section_on_one_line_is_accepted()
    {
        var file = Write("jsonl.conf",
            "tracelet.plugins.jsonl { enabled = on, config { max-file-size = 0 }, pipeline { overflow = durable } }\n");

        var settings = TraceletSettings.Create(NodeConfigLoader.Load([file], ImmutableDictionary<string, string>.Empty));

        Assert.True(settings.Plugins["jsonl"].Enabled);
        Assert.Equal("""{"max-file-size":0}""", settings.Plugins["jsonl"].Config.Json);
        Assert.Equal(OverflowPolicy.Durable, settings.Pipeline.For("jsonl").Link.Overflow);
    }

    [Theory]
    [InlineData("gzip = on", """{"gzip":true}""")]
    [InlineData("gzip = off, keep = 3", """{"gzip":false,"keep":3}""")]
    [InlineData("gzip = yes, max-file-age = 1h", """{"gzip":true,"max-file-age":"1h"}""")]
    [InlineData("path = 123", """{"path":"123"}""")]
    public void Hocon_values_are_typed_as_the_plugin_schema_asks_before_it_is_checked(string config, string typed)
    {
        var file = Write("typed", $"tracelet.plugins.jsonl {{ enabled = on, config {{ {config} }} }}\n");
        var section = TraceletSettings.Create(NodeConfigLoader.Load([file], ImmutableDictionary<string, string>.Empty)).Plugins["jsonl"];
        var schemaText = new Tracelet.Backends.Jsonl.JsonlBackend().Metadata.ConfigSchema;
        var schema = PluginConfigValidator.ParseSchema(schemaText!, out _)!;

        var result = PluginConfigValidator.Typed(schemaText, section.Config);

        Assert.Equal(typed, result.Json);
        Assert.Null(PluginConfigValidator.Validate(schema, result.Root));
    }

    private void LoadAll(string file, string variable)
    {
        var environment = ImmutableDictionary<string, string>.Empty;
        if (variable.Length > 0) environment = environment.Add(variable[..variable.IndexOf('=')], variable[(variable.IndexOf('=') + 1)..]);
        var loaded = NodeConfigLoader.Load([file], environment);
        TraceletSettings.Create(loaded);
        NodeSettings.Create(loaded);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name + ".conf");
        File.WriteAllText(path, text);
        return path;
    }
}
