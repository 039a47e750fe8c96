using System.Collections.Immutable;
using Akka.Actor;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

// Messages inside one node, between plugin actors, the node's pipeline and its link outboxes.

/// <summary>A collector's batch, from its plugin actor to the node's pipeline.</summary>
public sealed record PublishBatch(MetricBatch Batch);

/// <summary>A backend's plugin actor offers itself as an inbox; the pipeline announces it to every node.</summary>
/// <param name="HandledTypes">Bit i set when the backend's CanHandle accepts <see cref="MetricType"/> i.</param>
public sealed record RegisterBackend(string Backend, IActorRef Inbox, long Incarnation, int HandledTypes);

/// <summary>
/// A backend's inbox goes away. <paramref name="Withdraw"/>: it was stopped on purpose, and producers drop
/// what waits for it (durable links keep it). Otherwise (it failed and will be restarted) it is only no longer
/// announced: producers keep buffering and send again to its next incarnation.
/// </summary>
public sealed record UnregisterBackend(string Backend, IActorRef Inbox, bool Withdraw);

/// <summary>Published on the event stream when the node's pipeline (re)starts: backends register again, so a restarted pipeline knows them.</summary>
public sealed record PipelineStarted(IActorRef Pipeline);

/// <summary>
/// Pipeline → one collector's actor, when it changes: the block-policy links (<c>backend@node</c>) that are
/// full and that this collector's samples have been routed to. The collector skips its ticks while any is.
/// </summary>
public sealed record CollectorPressure(ImmutableArray<string> BlockedBy);

/// <summary>Collector → pipeline: a tick of <paramref name="Source"/> was skipped because these links were full.</summary>
public sealed record CollectionBlocked(string Source, ImmutableArray<string> Links);

/// <summary>Asks the node's pipeline for every link's counters; answered by <see cref="CurrentPipelineStatus"/>.</summary>
public sealed record GetPipelineStatus
{
    public static GetPipelineStatus Instance { get; } = new();
}

/// <summary>
/// Every link of this node (this node → a backend on any node), and what each source published.
/// Read at one moment, over the node's life: per source, <c>Published = Routed + Unrouted</c>; over the
/// links, <c>sum(Copies) = sum(Produced - Recovered)</c>; per link, the equation of <see cref="LinkStatus"/>.
/// </summary>
public sealed record CurrentPipelineStatus(string Node, ImmutableArray<LinkStatus> Links, ImmutableArray<SourceStatus> Sources)
{
    /// <summary>Samples that reached no link, over all sources.</summary>
    public long Unrouted => Sources.IsDefault ? 0 : Sources.Sum(s => s.Unrouted);
}

/// <summary>What one source (a collector, or the pipeline's own telemetry) handed to this node's pipeline.</summary>
/// <param name="Published">Samples in its batches.</param>
/// <param name="Unrouted">Of those, samples no link took: no backend was known, none wanted them, or it was stopped.</param>
/// <param name="Copies">Samples times the links each went to: what the links count as produced from this source.</param>
public sealed record SourceStatus(string Source, long Published, long Unrouted, long Copies)
{
    /// <summary>Samples that went to at least one link.</summary>
    public long Routed => Published - Unrouted;
}

/// <summary>
/// One link's state, read at one moment: <c>Produced = Delivered + sum(Dropped) + Waiting + InFlight</c>.
/// <paramref name="BlockedSkips"/>: collector ticks skipped because this block-policy link was full.
/// </summary>
public sealed record LinkStatus(
    string Backend,
    string BackendNode,
    string SourceNode,
    OverflowPolicy Overflow,
    string State,
    long Produced,
    long Delivered,
    ImmutableSortedDictionary<string, long> Dropped,
    long Waiting,
    long WaitingBytes,
    long InFlight,
    int WindowSamples,
    int BufferSamples,
    long BufferBytes,
    long Recovered,
    long Resends,
    long BlockedSkips)
{
    public long DroppedTotal => Dropped.Values.Sum();
}

/// <summary>Shutdown: stop taking batches, deliver what is buffered to backends that are up within the deadline, then report.</summary>
public sealed record FlushPipeline(TimeSpan Deadline);

/// <summary>The answer to <see cref="FlushPipeline"/>: what was left, kept (durable) or dropped with reason "shutdown".</summary>
public sealed record PipelineFlushed(long Kept, long Dropped);
