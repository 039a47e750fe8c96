using System.Collections.Concurrent;
using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Cluster.Tests;

/// <summary>
/// Writes <c>count</c> samples per collection whose values count 1, 2, 3… per node, until
/// <c>limit</c> samples in all: a test can wait for every one of them and check order and gaps.
/// </summary>
public sealed class SequenceCollector : CollectorPlugin
{
    public const string PluginName = "seq";
    private long _next = 1;
    private long _limit;
    private int _count;
    private string _metric = "test.seq";

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector);

    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken);
        _limit = context.Config.GetInt64("limit", long.MaxValue);
        _count = (int)context.Config.GetInt64("count", 10);
        _metric = context.Config.GetString("name", _metric);
    }

    protected override TimeSpan DefaultInterval => TimeSpan.FromMilliseconds(20);

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        for (var i = 0; i < _count && _next <= _limit; i++) writer.Write(_metric, _next++, new MetricLabel("kind", _next % 2 == 0 ? "even" : "odd"));
        return ValueTask.CompletedTask;
    }
}

/// <summary>A second collector with another name, for routing by source.</summary>
public sealed class OtherCollector : CollectorPlugin
{
    public const string PluginName = "other";
    private long _next = 1;

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector);

    protected override TimeSpan DefaultInterval => TimeSpan.FromMilliseconds(20);

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        writer.Write(new MetricSample("other.value", MetricType.Scalar, _next++, writer.Now, PluginName, Step: _next));
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Records every sample it writes, per (its node, its name, source node), in arrival order, where
/// tests read it; optional <c>delay-ms</c> per batch (a slow backend), <c>fail</c> (every write throws) and
/// <c>fail-writes</c> (the first N writes of this backend on this node throw, across restarts: a store that comes back).
/// </summary>
public class RecordingBackend : BackendPlugin
{
    public const string PluginName = "rec";
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<(string SourceNode, MetricSample Sample)>> Records = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, int> FailuresLeft = new(StringComparer.Ordinal);
    private int _delay;
    private bool _fail;

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Backend);

    protected virtual string Name => Metadata.Name;

    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken);
        _delay = (int)context.Config.GetInt64("delay-ms", 0);
        _fail = context.Config.GetBoolean("fail", false);
        var failWrites = (int)context.Config.GetInt64("fail-writes", 0);
        if (failWrites > 0) FailuresLeft.TryAdd(Key(context.NodeId, Name), failWrites);
    }

    public override async ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        if (_delay > 0) await Task.Delay(_delay, cancellationToken);
        if (_fail) throw new InvalidOperationException("the store is down");
        var key = Key(Context.NodeId, Name);
        if (FailuresLeft.TryGetValue(key, out var left) && left > 0 && FailuresLeft.TryUpdate(key, left - 1, left))
            throw new InvalidOperationException($"the store is down ({left} failures to go)");
        var queue = Records.GetOrAdd(Key(Context.NodeId, Name), _ => new());
        foreach (var sample in batch.Samples) queue.Enqueue((batch.SourceNode, sample));
    }

    public static string Key(string node, string backend) => $"{backend}@{node}";

    /// <summary>What the backend <paramref name="backend"/> on <paramref name="node"/> wrote, in order.</summary>
    public static ImmutableArray<(string SourceNode, MetricSample Sample)> Written(string node, string backend = PluginName) =>
        Records.TryGetValue(Key(node, backend), out var q) ? [.. q] : [];

    public static void Forget(string node)
    {
        foreach (var key in Records.Keys.Where(k => k.EndsWith("@" + node, StringComparison.Ordinal))) Records.TryRemove(key, out _);
        foreach (var key in FailuresLeft.Keys.Where(k => k.EndsWith("@" + node, StringComparison.Ordinal))) FailuresLeft.TryRemove(key, out _);
    }
}

/// <summary>A second recording backend, to run two on one node.</summary>
public sealed class SecondRecordingBackend : RecordingBackend
{
    public const string SecondName = "rec2";

    public override PluginMetadata Metadata { get; } = new(SecondName, "1.0.0", PluginType.Backend);
}

/// <summary>Takes only scalars (CanHandle), as a tracker that stores training metrics but no system ones.</summary>
public sealed class ScalarsOnlyBackend : RecordingBackend
{
    public const string ScalarsName = "scalars";

    public override PluginMetadata Metadata { get; } = new(ScalarsName, "1.0.0", PluginType.Backend);

    public override bool CanHandle(MetricType type) => type == MetricType.Scalar;
}
