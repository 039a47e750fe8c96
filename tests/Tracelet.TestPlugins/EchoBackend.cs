using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>Remembers what it was given and reports it in its status: the far end of a delivery test.</summary>
public sealed class EchoBackend : BackendPlugin
{
    public const string PluginName = "test-echo";

    private readonly string _instance = Guid.NewGuid().ToString("N");
    private readonly SortedSet<string> _sources = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _metrics = new(StringComparer.Ordinal);
    private long _batches;
    private long _samples;

    public override PluginMetadata Metadata { get; } = new(PluginName, "2.1.0", PluginType.Backend)
    {
        Description = "records every batch it is given",
    };

    public override ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        _batches++;
        _samples += batch.Samples.Length;
        _sources.Add(batch.Source);
        foreach (var sample in batch.Samples) _metrics.Add(sample.Name);
        return ValueTask.CompletedTask;
    }

    public override IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?>
    {
        ["instance"] = _instance,
        ["batches"] = _batches,
        ["samples"] = _samples,
        ["sources"] = string.Join(",", _sources),
        ["metrics"] = string.Join(",", _metrics),
    };
}
