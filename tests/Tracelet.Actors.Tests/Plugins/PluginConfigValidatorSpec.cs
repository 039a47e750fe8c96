using System.Text.Json;
using Tracelet.Actors.Plugins;
using Xunit;

namespace Tracelet.Actors.Tests.Plugins;

[Trait("Category", "Configuration")]
public sealed class PluginConfigValidatorSpec
{
    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "value": { "type": "number" },
            "url": { "type": "string" },
            "a": {
              "type": "object",
              "properties": {
                "b": { "type": "array", "items": { "type": "integer", "minimum": 1 } }
              }
            }
          },
          "required": ["url"]
        }
        """;

    private static string? Validate(string config)
    {
        var schema = PluginConfigValidator.ParseSchema(Schema, out var error);
        Assert.Null(error);
        return PluginConfigValidator.Validate(schema!, JsonDocument.Parse(config).RootElement);
    }

    [Fact]
    public void A_config_that_matches_the_schema_passes()
    {
        Assert.Null(Validate("""{ "url": "http://x", "value": 2.5, "a": { "b": [1, 2] } }"""));
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_the_key()
    {
        var error = Validate("""{ "url": "http://x", "value": "high" }""");

        Assert.NotNull(error);
        Assert.StartsWith("config key 'value': ", error);
        Assert.Contains("number", error);
    }

    [Fact]
    public void A_missing_required_key_names_it()
    {
        var error = Validate("""{ "value": 1 }""");

        Assert.NotNull(error);
        Assert.Contains("url", error);
        Assert.DoesNotContain("'value'", error);
    }

    [Fact]
    public void A_nested_failure_names_the_path_with_array_indices()
    {
        var error = Validate("""{ "url": "http://x", "a": { "b": [0, 2] } }""");

        Assert.NotNull(error);
        Assert.StartsWith("config key 'a.b[0]': ", error);
        Assert.DoesNotContain("a.b[1]", error);
    }

    [Fact]
    public void A_schema_that_is_not_json_schema_is_reported()
    {
        var schema = PluginConfigValidator.ParseSchema("""{ "type": 42 }""", out var error);

        Assert.Null(schema);
        Assert.StartsWith("config schema is not a valid JSON Schema:", error);
    }
}
