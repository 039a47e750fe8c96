using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>A plugin author's mistake: its config schema is JSON, but not a JSON Schema.</summary>
public sealed class BrokenSchemaPlugin : PluginBase
{
    public const string PluginName = "broken-schema";

    public override PluginMetadata Metadata { get; } = new(PluginName, "0.1.0", PluginType.Processor)
    {
        ConfigSchema = """{ "type": 42 }""",
    };
}
