using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;

namespace Tracelet.Bench.Recovery;

/// <summary>
/// Persists the PluginManager's real event (<see cref="PluginTransitioned"/>, written by our
/// serializer) for a given time, the way the PluginManager does: one command, one Persist, and the
/// next command only after the write (Persist holds back the mailbox). With a batch size above 1
/// each command persists a PersistAll batch instead. Counts what it replays on recovery.
/// </summary>
internal sealed class JournalBenchActor : ReceivePersistentActor
{
    private static readonly string[] PluginNames = ["console", "heartbeat", "jsonl"];
    private static readonly (PluginState From, PluginState To, bool WantActive)[] Cycle =
    [
        (PluginState.Validated, PluginState.Initialized, true),
        (PluginState.Initialized, PluginState.Active, true),
        (PluginState.Active, PluginState.Stopped, false),
        (PluginState.Stopped, PluginState.Validated, false),
    ];

    private readonly string _nodeId;
    private readonly string _configHash = PluginSection.Hash("""{"interval":"2s"}""");
    private readonly Stopwatch _stopwatch = new();
    private IActorRef _replyTo = ActorRefs.Nobody;
    private Run? _run;
    private long _events;
    private long _recovered;
    private int _next;
    private int _pendingInBatch;

    public JournalBenchActor(string persistenceId, string nodeId)
    {
        PersistenceId = persistenceId;
        _nodeId = nodeId;
        Recover<PluginTransitioned>(_ => _recovered++);
        Command<Run>(Handle);
        Command<Continue>(_ => PersistNext());
        Command<GetRecovered>(_ => Sender.Tell(new Recovered(_recovered, LastSequenceNr)));
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    public static Props Props(string persistenceId, string nodeId) =>
        Akka.Actor.Props.Create(() => new JournalBenchActor(persistenceId, nodeId));

    /// <summary>A sample event of the size the benchmark writes.</summary>
    public static PluginTransitioned SampleEvent(string nodeId) =>
        new(DateTimeOffset.UtcNow, nodeId, "heartbeat", PluginState.Initialized, PluginState.Active, true, PluginSection.Hash("""{"interval":"2s"}"""), null, 0);

    private void Handle(Run run)
    {
        _run = run;
        _replyTo = Sender;
        _events = 0;
        _stopwatch.Restart();
        PersistNext();
    }

    private void PersistNext()
    {
        if (_run is not { } run) return;
        if (run.Batch == 1)
        {
            Persist(NextEvent(), _ => Persisted(1));
            return;
        }
        var batch = new PluginTransitioned[run.Batch];
        for (var i = 0; i < batch.Length; i++) batch[i] = NextEvent();
        _pendingInBatch = batch.Length;
        PersistAll(batch, _ =>
        {
            if (--_pendingInBatch == 0) Persisted(batch.Length);
        });
    }

    private void Persisted(int count)
    {
        _events += count;
        if (_stopwatch.Elapsed >= _run!.Duration)
        {
            _replyTo.Tell(new RunCompleted(_events, _stopwatch.Elapsed));
            _run = null;
            return;
        }
        // The next write starts from a new command, as the PluginManager's next transition would.
        Self.Tell(Continue.Instance);
    }

    private PluginTransitioned NextEvent()
    {
        var i = _next++;
        var (from, to, wantActive) = Cycle[i % Cycle.Length];
        return new PluginTransitioned(DateTimeOffset.UtcNow, _nodeId, PluginNames[i / Cycle.Length % PluginNames.Length], from, to, wantActive, _configHash, null, 0);
    }

    /// <summary>Persist for at least one write, until <paramref name="Duration"/> has passed; <paramref name="Batch"/> events per command.</summary>
    public sealed record Run(TimeSpan Duration, int Batch);

    public sealed record RunCompleted(long Events, TimeSpan Elapsed)
    {
        public double PerSecond => Events / Elapsed.TotalSeconds;
    }

    public sealed record GetRecovered
    {
        public static readonly GetRecovered Instance = new();
    }

    public sealed record Recovered(long Events, long LastSequenceNr);

    private sealed record Continue
    {
        public static readonly Continue Instance = new();
    }
}
