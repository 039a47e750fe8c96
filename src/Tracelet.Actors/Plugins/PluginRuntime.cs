using System.Collections.Immutable;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// What a plugin's actor counts about its own work, shown under <c>runtime</c> in status. Typed so
/// that a new counter is one property here; the serializer and the JSON edge read the records.
/// </summary>
public abstract record PluginRuntime
{
    /// <summary>
    /// The plugin call that has run longer than <c>tracelet.plugin-manager.call-timeout</c>, while it
    /// still runs; null otherwise. It is only shown, never cancelled: a call stuck in native code
    /// cannot be killed, and the plugin may yet return.
    /// </summary>
    public StuckCall? Stuck { get; init; }

    /// <summary>Calls of this instance that ran past the call timeout so far, each counted once.</summary>
    public long StuckCalls { get; init; }
}

/// <summary>A plugin call running past the call timeout.</summary>
/// <param name="Call">initialize, start, collect, write, stop or status.</param>
/// <param name="Since">When the call started.</param>
public sealed record StuckCall(string Call, DateTimeOffset Since);

/// <summary>A collector's counters.</summary>
/// <param name="IntervalSeconds">Its collection interval.</param>
/// <param name="Collections">Collections that completed.</param>
/// <param name="SamplesProduced">Samples it handed to the pipeline.</param>
/// <param name="SkippedTicks">Ticks skipped for any reason (previous collection still running, or blocked).</param>
/// <param name="BlockedTicks">Ticks skipped because a block-policy backend its samples route to was full.</param>
/// <param name="BlockedBy">Of <paramref name="BlockedTicks"/>, per blocking backend.</param>
public sealed record CollectorRuntime(
    double IntervalSeconds,
    long Collections,
    long SamplesProduced,
    long SkippedTicks,
    long BlockedTicks,
    ImmutableSortedDictionary<string, long> BlockedBy) : PluginRuntime;

/// <summary>A backend's counters.</summary>
/// <param name="BatchesWritten">Batches whose write completed.</param>
/// <param name="SamplesWritten">Samples in them.</param>
/// <param name="SamplesRejected">Samples its CanHandle refused.</param>
/// <param name="QueueBatches">Batches accepted and waiting for their write.</param>
/// <param name="Sources">Per source node.</param>
public sealed record BackendRuntime(
    long BatchesWritten,
    long SamplesWritten,
    long SamplesRejected,
    int QueueBatches,
    ImmutableSortedDictionary<string, BackendSourceRuntime> Sources) : PluginRuntime;

/// <summary>A backend's counters for one source node's link.</summary>
public sealed record BackendSourceRuntime(
    long Received,
    long Written,
    long Rejected,
    long Failed,
    long Duplicates,
    long OutOfOrder,
    long LastSequence);
