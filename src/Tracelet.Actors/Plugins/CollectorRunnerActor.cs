using System.Collections.Immutable;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// Runs a collector: collects at its interval, one collection at a time, and hands each batch to
/// the node's pipeline. A tick that comes while a collection still runs is skipped (calls never
/// overlap); while the pipeline says a block-policy backend this collector's samples route to is
/// full, ticks are skipped and counted per blocking backend. Any other plugin that is not a
/// backend is run here too: it is only initialized, started and stopped.
/// </summary>
internal sealed class CollectorRunnerActor : PluginInstanceActor
{
    private const string CollectTimer = "collect";

    private readonly IActorRef _pipeline;
    private readonly Dictionary<string, long> _blockedByCounts = new(StringComparer.Ordinal);
    private ImmutableArray<string> _blockedBy = [];
    private long _collections;
    private long _samplesProduced;
    private long _skippedTicks;
    private long _blockedTicks;

    public CollectorRunnerActor(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings, IActorRef pipeline)
        : base(descriptor, context, incarnation, settings)
    {
        _pipeline = pipeline;
    }

    public static Props Props(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings, IActorRef pipeline) =>
        Akka.Actor.Props.Create(() => new CollectorRunnerActor(descriptor, context, incarnation, settings, pipeline));

    protected override void OnStarted()
    {
        if (Plugin is CollectorPlugin collector)
        {
            Context.System.EventStream.Subscribe(Self, typeof(PipelineStarted));
            Timers.StartPeriodicTimer(CollectTimer, CollectTick.Instance, TimeSpan.Zero, collector.Interval);
        }
        Become(Ready);
    }

    protected override PluginRuntime Runtime() => new CollectorRuntime(
        (Plugin as CollectorPlugin)?.Interval.TotalSeconds ?? 0,
        _collections,
        _samplesProduced,
        _skippedTicks,
        _blockedTicks,
        _blockedByCounts.ToImmutableSortedDictionary(StringComparer.Ordinal));

    /// <summary>Started and idle: the next tick collects.</summary>
    private void Ready()
    {
        Pressure();
        Receive<CollectTick>(_ => Collect());
        Receive<StatusTick>(_ =>
        {
            Become(() => ReadingStatus(collectDue: false));
            ReadStatus();
        });
        Receive<StopInstance>(_ => StopPlugin());
    }

    /// <summary>A collection runs.</summary>
    private void Collecting()
    {
        Pressure();
        Receive<CallResult<MetricBatch?>>(Collected);
        Receive<CollectTick>(_ => _skippedTicks++);
        Receive<StatusTick>(_ => { }); // the collection brings a fresh status with it
        Receive<StopInstance>(_ => Stash.Stash());
    }

    /// <summary>A status read runs; it is quick, so a tick meanwhile collects right after it instead of being skipped.</summary>
    private void ReadingStatus(bool collectDue)
    {
        Pressure();
        Receive<CallResult<Akka.NotUsed>>(result =>
        {
            Report(result);
            Become(Ready);
            Stash.UnstashAll();
            if (collectDue) Collect();
        });
        Receive<CollectTick>(_ => Become(() => ReadingStatus(collectDue: true)));
        Receive<StatusTick>(_ => { });
        Receive<StopInstance>(_ => Stash.Stash());
    }

    /// <summary>What the pipeline says about the backends this collector's samples route to, in every started behaviour.</summary>
    private void Pressure()
    {
        Receive<CollectorPressure>(p => _blockedBy = p.BlockedBy.IsDefault ? [] : p.BlockedBy);
        // A fresh pipeline blocks nobody: it tells again, at the next batch, what is still full.
        Receive<PipelineStarted>(p =>
        {
            if (p.Pipeline.Equals(_pipeline)) _blockedBy = [];
        });
    }

    private void Collect()
    {
        if (Plugin is not CollectorPlugin collector) return;
        if (!_blockedBy.IsEmpty)
        {
            // A block-policy backend these samples go to is full: skip this collection rather than lose samples later.
            _skippedTicks++;
            _blockedTicks++;
            foreach (var link in _blockedBy) _blockedByCounts[link] = _blockedByCounts.GetValueOrDefault(link) + 1;
            _pipeline.Tell(new CollectionBlocked(Name, _blockedBy));
            return;
        }
        Become(Collecting);
        var node = PluginContext.NodeId;
        var source = Name;
        Call<MetricBatch?>(PluginCall.Collect, async ct =>
        {
            var buffer = new SampleBuffer(source, DateTimeOffset.UtcNow);
            await collector.CollectAsync(buffer, ct).ConfigureAwait(false);
            return buffer.Count == 0 ? null : new MetricBatch(node, source, buffer.Drain());
        });
    }

    private void Collected(CallResult<MetricBatch?> result)
    {
        if (result.Error is not null)
        {
            Report(result);
            Fail(PluginCall.Collect, result.Error, release: true);
            return;
        }
        _collections++;
        if (result.Value is { } batch)
        {
            _samplesProduced += batch.Samples.Length;
            _pipeline.Tell(new PublishBatch(batch));
        }
        Report(result);
        Become(Ready);
        Stash.UnstashAll();
    }

    private sealed class CollectTick
    {
        public static readonly CollectTick Instance = new();

        private CollectTick() { }
    }
}
