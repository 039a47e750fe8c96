using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>
/// Writes the configured <c>value</c> and a running count at every collection. Its status echoes the
/// config value and a per-instance id, so a test can see which config and which instance run.
/// </summary>
public sealed class CountingCollector : CollectorPlugin
{
    public const string PluginName = "test-counter";
    public const string ValueMetric = "test.counter.value";

    public const string Schema = """
        {
          "type": "object",
          "properties": {
            "interval": { "type": ["number", "string"] },
            "value": { "type": "number" },
            "label": { "type": "string" }
          },
          "additionalProperties": false
        }
        """;

    private readonly string _instance = Guid.NewGuid().ToString("N");
    private long _collections;

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector)
    {
        Description = "counts collections and writes its configured value",
        Author = "Tracelet tests",
        ConfigSchema = Schema,
        Capabilities = ["test"],
    };

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        _collections++;
        writer.Write(ValueMetric, Config.GetDouble("value", 0));
        writer.Write("test.counter.collections", _collections);
        return ValueTask.CompletedTask;
    }

    public override IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?>
    {
        ["instance"] = _instance,
        ["value"] = Config.GetDouble("value", 0),
        ["label"] = Config.GetString("label", ""),
        ["collections"] = _collections,
    };
}
