using System.Collections.Concurrent;
using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Tests.Gpu;

/// <summary>
/// Keeps every sample it is given, per source node, where a test can read them: the far end of
/// tests that check values and labels, not just counts. Several test nodes share the process, so
/// each reads only its own node's samples.
/// </summary>
public sealed class CapturingBackend : BackendPlugin
{
    public const string PluginName = "test-capture";

    /// <summary>The most samples kept per node; older ones are dropped (tests look at recent ones).</summary>
    public const int Capacity = 100_000;

    private static readonly ConcurrentDictionary<string, ConcurrentQueue<MetricSample>> ByNode = new(StringComparer.Ordinal);

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Backend)
    {
        Description = "keeps every sample for tests to read",
    };

    /// <summary>What arrived so far from <paramref name="nodeId"/>.</summary>
    public static ImmutableArray<MetricSample> SamplesFrom(string nodeId) =>
        ByNode.TryGetValue(nodeId, out var queue) ? [.. queue] : [];

    /// <summary>Forgets a node's samples.</summary>
    public static void Clear(string nodeId) => ByNode.TryRemove(nodeId, out _);

    public override ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var queue = ByNode.GetOrAdd(batch.SourceNode, _ => new ConcurrentQueue<MetricSample>());
        foreach (var sample in batch.Samples)
        {
            queue.Enqueue(sample);
            if (queue.Count > Capacity) queue.TryDequeue(out _);
        }
        return ValueTask.CompletedTask;
    }
}
