using System.Diagnostics;
using Akka.Actor;
using Tracelet.Actors.Pipeline;

namespace Tracelet.Bench.Pipeline;

/// <summary>
/// A backend's inbox as <c>BackendInboxActor</c> keeps it (<see cref="InboxState"/>: deliveries taken
/// in sequence order per link, duplicates dropped, each acknowledged with a
/// <see cref="DeliveryAck"/> once written), with a write that only counts the samples and sums
/// their values. With a rate, it writes at most that many samples per second (a token bucket
/// refilled every scheduler tick): a slow backend, whose acknowledgements lag behind.
/// </summary>
internal sealed class BenchInbox : ReceiveActor, IWithTimers
{
    private readonly InboxState _inbox = new();
    private readonly SampleCounter _counter;
    private readonly double _samplesPerSecond;
    private readonly double _maxBudget;
    private double _budget;
    private long _lastRefill = Stopwatch.GetTimestamp();
    private (Delivery Delivery, IActorRef ReplyTo)? _held;

    public BenchInbox(SampleCounter counter, double samplesPerSecond)
    {
        _counter = counter;
        _samplesPerSecond = samplesPerSecond;
        // At most 20 ms of writes at once after a pause, but always room for one large batch.
        _maxBudget = Math.Max(samplesPerSecond * 0.02, 1000);
        Receive<Delivery>(delivery =>
        {
            _inbox.Accept(delivery, Sender);
            Drain();
        });
        Receive<Refill>(_ => Drain());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="samplesPerSecond">0: write as fast as deliveries come.</param>
    public static Props Props(SampleCounter counter, double samplesPerSecond) =>
        Akka.Actor.Props.Create(() => new BenchInbox(counter, samplesPerSecond));

    protected override void PreStart()
    {
        if (_samplesPerSecond > 0) Timers.StartPeriodicTimer("refill", Refill.Instance, TimeSpan.FromMilliseconds(5));
    }

    private void Drain()
    {
        if (_samplesPerSecond <= 0)
        {
            while (_inbox.TryTake(out var delivery, out var replyTo)) Write(delivery, replyTo);
            return;
        }
        var now = Stopwatch.GetTimestamp();
        _budget = Math.Min(_maxBudget, _budget + _samplesPerSecond * Stopwatch.GetElapsedTime(_lastRefill, now).TotalSeconds);
        _lastRefill = now;
        while (true)
        {
            if (_held is null)
            {
                if (!_inbox.TryTake(out var delivery, out var replyTo)) return;
                _held = (delivery, replyTo);
            }
            var (next, to) = _held.Value;
            if (_budget < next.Batch.Samples.Length) return;
            _budget -= next.Batch.Samples.Length;
            _held = null;
            Write(next, to);
        }
    }

    private void Write(Delivery delivery, IActorRef replyTo)
    {
        _counter.Add(delivery.Batch);
        _inbox.Written(delivery, replyTo, 0, 0);
    }

    private sealed class Refill
    {
        public static readonly Refill Instance = new();

        private Refill() { }
    }
}
