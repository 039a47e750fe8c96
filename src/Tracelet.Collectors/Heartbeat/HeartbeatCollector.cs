using System.Diagnostics;
using Tracelet.Abstractions;

namespace Tracelet.Collectors.Heartbeat;

/// <summary>
/// A small built-in collector that proves the node is alive and shows what it costs: a sequence
/// number, the node process's uptime, resident memory and managed heap. Cheap enough to run every second.
/// </summary>
public sealed class HeartbeatCollector : CollectorPlugin
{
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private long _sequence;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("heartbeat", "1.0.0", PluginType.Collector)
    {
        Description = "Node liveness: sequence number, uptime, RSS and managed heap of the node process",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "seconds, or a duration like \"1s\"" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    protected override TimeSpan DefaultInterval => TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        _sequence++;
        writer.Write(HeartbeatMetrics.Sequence, _sequence);
        writer.Write(HeartbeatMetrics.UptimeSeconds, _uptime.Elapsed.TotalSeconds);
        writer.Write(HeartbeatMetrics.ResidentBytes, Environment.WorkingSet);
        writer.Write(HeartbeatMetrics.ManagedHeapBytes, GC.GetTotalMemory(forceFullCollection: false));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus() =>
        new Dictionary<string, object?> { ["sequence"] = _sequence };
}
