using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;
using Xunit;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>JSON plugin config files in the seed's load_config shape: a syntax error names the file and line.</summary>
[Trait("Category", "Configuration")]
public sealed class PluginSectionSpec : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tracelet-tests", "plugin-section-" + Guid.NewGuid().ToString("N"));

    public PluginSectionSpec() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        return path;
    }

    [Fact]
    public void A_json_plugin_config_file_with_a_syntax_error_names_the_file_and_line()
    {
        var file = Write("plugins.json", "{\n  \"test-counter\": {\n    \"config\": { \"value\": 3 \n  }\n  \"test-echo\": {}\n}\n");

        var error = Assert.Throws<TraceletConfigException>(() => PluginSection.ReadJsonFile(file));

        Assert.Equal((file, 5), (error.Source, error.Line));
        Assert.StartsWith($"{file}:5: not valid JSON", error.Message);
    }

    [Fact]
    public void A_json_plugin_config_file_is_read_like_the_seeds_load_config()
    {
        var file = Write("plugins.json", """
            {
              // as in the Python Tracelet: one entry per plugin
              "test-counter": { "enabled": true, "config": { "value": 3, "interval": "1s", }, },
              "test-echo": { "enabled": false },
            }
            """);

        var sections = PluginSection.ReadJsonFile(file);

        Assert.Equal(["test-counter", "test-echo"], sections.Select(s => s.Name));
        Assert.Equal("""{"value":3,"interval":"1s"}""", sections[0].Config.Json);
        Assert.Equal((true, false), (sections[0].Enabled, sections[1].Enabled));
        Assert.All(sections, s => Assert.Equal(file, s.Source));

        var unknown = Write("unknown.json", """{ "test-echo": { "enabeld": true } }""");
        var error = Assert.Throws<TraceletConfigException>(() => PluginSection.ReadJsonFile(unknown));
        Assert.Equal("test-echo.enabeld", error.Key);
    }
}
