using Tracelet.Abstractions;

namespace Tracelet.DrillPlugins;

/// <summary>
/// Writes <c>drill.seq</c> with values 1, 2, 3… (<c>per-tick</c> of them per collection), labelled with
/// <c>incarnation</c>, a random id per plugin instance: the fault drills check at the backend that every
/// (node, incarnation) arrived without gaps and without duplicates.
/// </summary>
public sealed class DrillSequenceCollector : CollectorPlugin
{
    public const string PluginName = "test-drill-seq";
    public const string SequenceMetric = "drill.seq";
    public const string IncarnationLabel = "incarnation";

    private readonly string _incarnation = Guid.NewGuid().ToString("N")[..12];
    private long _last;

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector)
    {
        Description = "numbered samples for the fault drills",
        Author = "Tracelet tests",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"] },
                "per-tick": { "type": "integer", "minimum": 1 }
              },
              "additionalProperties": false
            }
            """,
    };

    protected override TimeSpan DefaultInterval => TimeSpan.FromMilliseconds(100);

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        var label = new MetricLabel(IncarnationLabel, _incarnation);
        var perTick = Config.GetInt64("per-tick", 10);
        for (var i = 0; i < perTick; i++)
        {
            _last++;
            writer.Write(SequenceMetric, _last, label);
        }
        return ValueTask.CompletedTask;
    }

    public override IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?>
    {
        ["incarnation"] = _incarnation,
        ["last"] = _last,
    };
}
