using System.Diagnostics;
using Tracelet.Abstractions;

namespace Tracelet.Bench.Pipeline;

/// <summary>
/// What a receiving actor (<see cref="BenchInbox"/>, <see cref="RawSubscriber"/>) has counted,
/// shared with the bench thread: samples, the time of the last arrival, a target whose arrival
/// completes <see cref="Reached"/>, and optionally a credit (one per batch) that the producer
/// waits on, so that it never runs more than a set number of batches ahead of the backend.
/// Written by one actor at a time; read by the bench thread.
/// </summary>
internal sealed class SampleCounter
{
    private long _samples;
    private long _batches;
    private long _lastArrival;
    private long _target = long.MaxValue;
    private TaskCompletionSource<long> _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SemaphoreSlim? _credit;

    public long Samples => Volatile.Read(ref _samples);

    public long Batches => Volatile.Read(ref _batches);

    /// <summary>Stopwatch timestamp of the last batch counted.</summary>
    public long LastArrival => Volatile.Read(ref _lastArrival);

    /// <summary>Sum of every value counted: the backend reads what it gets.</summary>
    public double Checksum { get; private set; }

    /// <summary>Completes with the Stopwatch timestamp at which <see cref="Samples"/> reached the armed target.</summary>
    public Task<long> Reached => Volatile.Read(ref _reached).Task;

    /// <summary>Sets the next target (absolute, in samples) and the credit to release per batch counted (null: none).</summary>
    public void Arm(long target, SemaphoreSlim? credit)
    {
        Volatile.Write(ref _credit, credit);
        Volatile.Write(ref _reached, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
        Volatile.Write(ref _target, target);
        if (Samples >= target) _reached.TrySetResult(Stopwatch.GetTimestamp());
    }

    public void Add(MetricBatch batch)
    {
        var sum = 0.0;
        foreach (ref readonly var s in batch.Samples.AsSpan()) sum += s.Value;
        Checksum += sum;
        var now = Stopwatch.GetTimestamp();
        Volatile.Write(ref _lastArrival, now);
        Interlocked.Increment(ref _batches);
        var samples = Interlocked.Add(ref _samples, batch.Samples.Length);
        Volatile.Read(ref _credit)?.Release();
        if (samples >= Volatile.Read(ref _target)) Volatile.Read(ref _reached).TrySetResult(now);
    }
}
