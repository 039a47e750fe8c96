using System.Buffers;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// The node's end of the metric pipeline. It announces this node's backends to every node on the
/// control topic (distributed pub-sub; locally only when the actor system is not a cluster),
/// learns every node's backends from their announcements, keeps one <see cref="OutboxActor"/>
/// per backend it has heard of, and routes each collector batch to the outboxes whose routes and
/// handled types match. Samples travel by direct, credit-limited Tells to the backend's inbox,
/// never by bulk pub-sub publishing: pub-sub carries only the small announcements. It counts, per
/// source, what was published and what reached no link, and tells each collector which full
/// block-policy links its samples go to (learned from the batches it routed), so only those skip.
/// </summary>
internal sealed class PipelineActor : ReceiveActor, IWithTimers
{
    private const string AnnounceTimer = "announce";
    private const string ExpiryTimer = "expiry";
    private const string TelemetryTimer = "self-telemetry";


    private readonly string _nodeId;
    private readonly PipelineSettings _settings;
    private readonly Func<DurableOutboxStore>? _openStore;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, LocalBackend> _local = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Link> _links = new(StringComparer.Ordinal);
    private readonly HashSet<string> _blocked = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourceState> _sources = new(StringComparer.Ordinal);
    private IActorRef? _mediator;
    private DurableOutboxStore? _store;

    public PipelineActor(string nodeId, PipelineSettings settings, Func<DurableOutboxStore>? openStore)
    {
        _nodeId = nodeId;
        _settings = settings;
        _openStore = openStore;
        Receive<PublishBatch>(Handle);
        Receive<RegisterBackend>(Handle);
        Receive<UnregisterBackend>(Handle);
        Receive<BackendAnnouncement>(Handle);
        Receive<BackendWithdrawn>(Handle);
        Receive<SubscribeAck>(_ => { });
        Receive<AnnounceTick>(_ => AnnounceAll());
        Receive<ExpiryTick>(_ => ExpireSilentBackends());
        Receive<LinkPressure>(Handle);
        Receive<CollectionBlocked>(Handle);
        Receive<GetPipelineStatus>(_ => CollectStatus(Sender));
        Receive<FlushPipeline>(Handle);
        Receive<TelemetryTick>(_ => CollectStatus(Self));
        Receive<CurrentPipelineStatus>(PublishTelemetry);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The most estimated bytes per delivery: remoting refuses frames over 128 kB (akka-notes §3).</summary>
    private const long MaxDeliveryBytes = 64 * 1024;

    /// <summary>An outbox that throws keeps its buffer and counters (resume): restarting it would lose them uncounted.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        _log.Error(e, "A pipeline link failed; it goes on with its buffer and counters");
        return Directive.Resume;
    });

    /// <param name="openStore">Opens the node's durable store (null: durable links are refused with a clear error).</param>
    public static Props Props(string nodeId, PipelineSettings settings, Func<DurableOutboxStore>? openStore) =>
        Akka.Actor.Props.Create(() => new PipelineActor(nodeId, settings, openStore));

    protected override void PreStart()
    {
        if (Context.System is ExtendedActorSystem system && system.Provider.GetType().Name.Contains("Cluster", StringComparison.Ordinal))
        {
            _mediator = DistributedPubSub.Get(Context.System).Mediator;
            _mediator.Tell(new Subscribe(PipelineSettings.ControlTopic, Self));
        }
        Timers.StartPeriodicTimer(AnnounceTimer, AnnounceTick.Instance, _settings.AnnounceInterval);
        Timers.StartPeriodicTimer(ExpiryTimer, ExpiryTick.Instance, _settings.AnnounceInterval);
        if (_settings.SelfTelemetryInterval > TimeSpan.Zero)
            Timers.StartPeriodicTimer(TelemetryTimer, TelemetryTick.Instance, _settings.SelfTelemetryInterval);
        RecoverDurableLinks();
        // After a restart the registrations of this node's backends are gone: ask them again.
        Context.System.EventStream.Publish(new PipelineStarted(Self));
    }

    protected override void PostStop()
    {
        _store?.Dispose();
        _store = null;
    }

    private void Handle(PublishBatch publish)
    {
        var batch = publish.Batch;
        var source = Source(batch.Source);
        if (IsCollector(Sender) && !Sender.Equals(source.Collector))
        {
            // A new incarnation of the collector: it learns at once whether what it feeds is full.
            source.Collector = Sender;
            source.Told = [];
            TellPressure(source);
        }
        var count = batch.Samples.Length;
        source.Published += count;
        bool[]? taken = null;
        var allTaken = false;
        try
        {
            foreach (var link in _links.Values)
            {
                if ((link.Announcement ?? link.Recovered) is not { } a) continue; // a stopped, non-durable backend
                MetricBatch? routed;
                try
                {
                    routed = Route(batch, a, ref taken, ref allTaken);
                }
                catch (Exception e)
                {
                    // A malformed sample must not take the node's pipeline down with it.
                    _log.Error(e, "Batch from {Source} could not be routed to {Backend}; it is skipped for that backend", batch.Source, a.Key);
                    continue;
                }
                if (routed is null) continue;
                source.Copies += routed.Samples.Length;
                if (source.Reaches.Add(link.Key) && _blocked.Contains(link.Key)) TellPressure(source);
                // The size is estimated once here; the link's byte bound uses it too. The common case: no list, no copy.
                var bytes = SampleSize.Estimate(routed);
                if (routed.Samples.Length <= _settings.MaxBatchSamples && bytes <= MaxDeliveryBytes) link.Outbox.Tell(new RoutedBatch(routed, bytes));
                else foreach (var part in Split(routed)) link.Outbox.Tell(part);
            }
            source.Unrouted += allTaken ? 0 : taken is null ? count : count - CountTaken(taken, count);
        }
        finally
        {
            if (taken is not null) ArrayPool<bool>.Shared.Return(taken);
        }
    }

    private bool IsCollector(IActorRef sender) =>
        !sender.IsNobody() && !sender.Equals(Self) && !sender.Equals(Context.System.DeadLetters);

    private SourceState Source(string name)
    {
        if (!_sources.TryGetValue(name, out var source)) _sources[name] = source = new SourceState();
        return source;
    }

    private static int CountTaken(bool[] taken, int count)
    {
        var n = 0;
        for (var i = 0; i < count; i++)
        {
            if (taken[i]) n++;
        }
        return n;
    }

    /// <summary>Large collections travel in several deliveries, in order: at most max-batch-samples and about 64 kB each.</summary>
    private List<RoutedBatch> Split(MetricBatch batch)
    {
        var max = _settings.MaxBatchSamples;
        var parts = new List<RoutedBatch>();
        var start = 0;
        long bytes = 0;
        for (var i = 0; i < batch.Samples.Length; i++)
        {
            var size = SampleSize.Of(batch.Samples[i]);
            if (i > start && (i - start >= max || bytes + size > MaxDeliveryBytes))
            {
                parts.Add(new RoutedBatch(batch with { Samples = batch.Samples[start..i] }, bytes));
                (start, bytes) = (i, 0);
            }
            bytes += size;
        }
        parts.Add(new RoutedBatch(batch with { Samples = batch.Samples[start..] }, bytes));
        return parts;
    }

    /// <summary>
    /// The samples of <paramref name="batch"/> this backend wants; null when none. Marks, in <paramref name="taken"/>
    /// (rented on first need), the samples some link took, unless one link took them all (<paramref name="allTaken"/>).
    /// </summary>
    private static MetricBatch? Route(MetricBatch batch, BackendAnnouncement backend, ref bool[]? taken, ref bool allTaken)
    {
        const int allTypes = (1 << 15) - 1;
        var samples = batch.Samples;
        if (samples.IsDefaultOrEmpty) return null;
        if (backend.Routes.IsDefaultOrEmpty && (backend.HandledTypes & allTypes) == allTypes)
        {
            allTaken = true;
            return batch;
        }
        ImmutableArray<MetricSample>.Builder? kept = null;
        for (var i = 0; i < samples.Length; i++)
        {
            var sample = samples[i];
            if ((backend.HandledTypes & 1 << (int)sample.Type) == 0 || !RouteRule.AnyMatches(backend.Routes, sample)) continue;
            (kept ??= ImmutableArray.CreateBuilder<MetricSample>(samples.Length - i)).Add(sample);
            if (!allTaken)
            {
                if (taken is null)
                {
                    taken = ArrayPool<bool>.Shared.Rent(samples.Length);
                    Array.Clear(taken, 0, samples.Length);
                }
                taken[i] = true;
            }
        }
        if (kept is null) return null;
        if (kept.Count == samples.Length)
        {
            allTaken = true;
            return batch;
        }
        return batch with { Samples = kept.ToImmutable() };
    }

    private void Handle(RegisterBackend register)
    {
        var config = _settings.For(register.Backend);
        if (config.Link.Overflow == OverflowPolicy.Durable && _openStore is null)
            _log.Warning("Backend {Backend} asks for the durable policy, but this node has no durable store: producers on other nodes still honour it", register.Backend);
        var announcement = new BackendAnnouncement(register.Backend, _nodeId, register.Inbox, register.Incarnation, config.Link, config.Routes, register.HandledTypes);
        _local[register.Backend] = new LocalBackend(announcement);
        Announce(announcement);
    }

    private void Handle(UnregisterBackend unregister)
    {
        if (!_local.TryGetValue(unregister.Backend, out var backend) || !Equals(backend.Announcement.Inbox, unregister.Inbox)) return;
        _local.Remove(unregister.Backend);
        if (!unregister.Withdraw) return;
        var withdrawn = new BackendWithdrawn(unregister.Backend, _nodeId, backend.Announcement.Incarnation);
        if (_mediator is not null) _mediator.Tell(new Publish(PipelineSettings.ControlTopic, withdrawn));
        else Self.Tell(withdrawn);
    }

    private void AnnounceAll()
    {
        foreach (var backend in _local.Values) Announce(backend.Announcement);
    }

    private void Announce(BackendAnnouncement announcement)
    {
        // Pub-sub delivers to this node's own subscription too; without a cluster, only to ourselves.
        if (_mediator is not null) _mediator.Tell(new Publish(PipelineSettings.ControlTopic, announcement));
        else Self.Tell(announcement);
    }

    private void Handle(BackendAnnouncement announcement)
    {
        var key = announcement.Key;
        if (!_links.TryGetValue(key, out var link))
        {
            link = new Link(StartOutbox(announcement.Backend, announcement.Node, announcement.Link), announcement.Backend, announcement.Node);
            _links[key] = link;
        }
        link.Announcement = announcement;
        link.LastHeard = DateTime.UtcNow;
        link.Reachable = true;
        link.Outbox.Tell(announcement);
    }

    private void Handle(BackendWithdrawn withdrawn)
    {
        var key = BackendAnnouncement.BackendKey(withdrawn.Backend, withdrawn.Node);
        if (!_links.TryGetValue(key, out var link) || link.Announcement?.Incarnation > withdrawn.Incarnation) return;
        // A stopped backend gets nothing more until it announces again, except under the durable
        // policy: its samples keep going to the store and are delivered when it is back.
        if (link.Announcement?.Link.Overflow != OverflowPolicy.Durable) link.Announcement = null;
        link.Outbox.Tell(withdrawn);
    }

    private void ExpireSilentBackends()
    {
        var now = DateTime.UtcNow;
        foreach (var link in _links.Values)
        {
            if (!link.Reachable || now - link.LastHeard <= _settings.BackendTimeout) continue;
            link.Reachable = false;
            link.Outbox.Tell(LinkUnreachable.Instance);
            // A block-policy backend that is gone must not stop its collectors for good: its link drops (counted) instead.
            if (_blocked.Contains(link.Key)) Handle(new LinkPressure(link.Key, false));
        }
    }

    private IActorRef StartOutbox(string backend, string backendNode, LinkSettings settings)
    {
        var name = "link-" + Uri.EscapeDataString($"{backend}@{backendNode}").Replace('%', '_');
        return Context.ActorOf(OutboxActor.Props(_nodeId, backend, backendNode, settings, _settings, CreateQueue(backend, backendNode)), name);
    }

    private Func<LinkSettings, ILinkQueue> CreateQueue(string backend, string backendNode)
    {
        var key = BackendAnnouncement.BackendKey(backend, backendNode);
        var store = _store; // opened in PreStart, on this actor's thread: outboxes only use it
        var log = _log;
        return settings =>
        {
            if (settings.Overflow != OverflowPolicy.Durable) return new LinkQueue(settings);
            if (store is not null) return new DurableLinkQueue(settings, store, key);
            log.Error("Link {Link} wants the durable policy, but this node's durable store is not open: it buffers in memory (drop-oldest)", key);
            return new LinkQueue(settings with { Overflow = OverflowPolicy.DropOldest });
        };
    }

    private DurableOutboxStore? Store()
    {
        if (_store is not null || _openStore is null) return _store;
        try
        {
            _store = _openStore();
        }
        catch (Exception e)
        {
            _log.Error(e, "The durable store cannot be opened: durable links buffer in memory only");
        }
        return _store;
    }

    /// <summary>Links with a backlog in the durable store get their outbox at once: it delivers as soon as the backend announces.</summary>
    private void RecoverDurableLinks()
    {
        if (_openStore is null) return;
        var store = Store();
        if (store is null) return;
        // Every durable link ever used, drained or not: it routes (and stores) from the first batch on.
        foreach (var key in store.KnownLinks())
        {
            var at = key.LastIndexOf('@');
            if (at <= 0 || _links.ContainsKey(key)) continue;
            var (backend, node) = (key[..at], key[(at + 1)..]);
            var config = _settings.For(backend);
            var settings = config.Link with { Overflow = OverflowPolicy.Durable };
            // Until the backend announces itself, route to it by this node's view of its section
            // (nodes normally share their configuration) so nothing produced meanwhile is missed.
            var recovered = new BackendAnnouncement(backend, node, ActorRefs.Nobody, 0, settings, config.Routes, (1 << 15) - 1);
            _links[key] = new Link(StartOutbox(backend, node, settings), backend, node) { Reachable = false, Recovered = recovered };
        }
    }

    /// <summary>A block-policy link filled or drained: the collectors whose samples went to it hear of it (only they).</summary>
    private void Handle(LinkPressure pressure)
    {
        var changed = pressure.Full ? _blocked.Add(pressure.Link) : _blocked.Remove(pressure.Link);
        if (!changed) return;
        foreach (var source in _sources.Values)
        {
            if (source.Reaches.Contains(pressure.Link)) TellPressure(source);
        }
    }

    private void TellPressure(SourceState source)
    {
        if (source.Collector is null) return;
        ImmutableArray<string> blocked = [.. source.Reaches.Where(_blocked.Contains).Order(StringComparer.Ordinal)];
        if (blocked.SequenceEqual(source.Told)) return;
        source.Told = blocked;
        source.Collector.Tell(new CollectorPressure(blocked));
    }

    /// <summary>Counted per link, as its <c>blocked_skips</c>.</summary>
    private void Handle(CollectionBlocked blocked)
    {
        foreach (var key in blocked.Links)
        {
            if (_links.TryGetValue(key, out var link)) link.Outbox.Tell(BlockedSkip.Instance);
        }
    }

    private void CollectStatus(IActorRef replyTo)
    {
        var outboxes = _links.Values.Select(l => l.Outbox).ToList();
        // Read now, before the links are asked: each outbox answers after every batch routed to it so far, so the
        // node's counts and the links' agree at this moment.
        ImmutableArray<SourceStatus> sources = [.. _sources
            .OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => new SourceStatus(s.Key, s.Value.Published, s.Value.Unrouted, s.Value.Copies))];
        GatherStatus(_nodeId, outboxes, sources).PipeTo(replyTo);
    }

    /// <summary>The node's self-telemetry: every link's counters, published like any collector's batch.</summary>
    private void PublishTelemetry(CurrentPipelineStatus status)
    {
        if (status.Links.IsEmpty) return;
        var now = DateTimeOffset.UtcNow;
        var samples = ImmutableArray.CreateBuilder<MetricSample>();
        foreach (var l in status.Links)
        {
            ImmutableArray<MetricLabel> labels = [new("node", _nodeId), new("backend", l.Backend), new("backend_node", l.BackendNode)];
            void Add(string name, double value, ImmutableArray<MetricLabel> sampleLabels) =>
                samples.Add(new MetricSample(name, MetricType.System, value, now, PipelineMetrics.Source, Labels: sampleLabels));
            Add(PipelineMetrics.Produced, l.Produced, labels);
            Add(PipelineMetrics.Delivered, l.Delivered, labels);
            Add(PipelineMetrics.Waiting, l.Waiting, labels);
            Add(PipelineMetrics.WaitingBytes, l.WaitingBytes, labels);
            Add(PipelineMetrics.InFlight, l.InFlight, labels);
            Add(PipelineMetrics.BufferFill, l.BufferSamples == 0 ? 0 : (double)l.Waiting / l.BufferSamples, labels);
            foreach (var (reason, count) in l.Dropped) Add(PipelineMetrics.Dropped, count, labels.Add(new("reason", reason)));
        }
        foreach (var source in status.Sources)
        {
            if (source.Unrouted > 0)
                samples.Add(new MetricSample(PipelineMetrics.Unrouted, MetricType.System, source.Unrouted, now, PipelineMetrics.Source, Labels: [new("node", _nodeId), new("source", source.Source)]));
        }
        Self.Tell(new PublishBatch(new MetricBatch(_nodeId, PipelineMetrics.Source, samples.ToImmutable())));
    }

    private void Handle(FlushPipeline flush)
    {
        var replyTo = Sender;
        var outboxes = _links.Values.Select(l => l.Outbox).ToList();
        var wait = flush.Deadline + TimeSpan.FromSeconds(2);
        GatherFlushed(outboxes, flush.Deadline, wait).PipeTo(replyTo);
    }

    /// <summary>Every link's status; one slow link must not blank the others: each answer stands on its own.</summary>
    private static async Task<CurrentPipelineStatus> GatherStatus(string node, List<IActorRef> outboxes, ImmutableArray<SourceStatus> sources)
    {
        var answers = await Task.WhenAll(outboxes.Select(o => AskOrNull<LinkStatus>(o, GetLinkStatus.Instance, TimeSpan.FromSeconds(3)))).ConfigureAwait(false);
        return new CurrentPipelineStatus(node, [.. answers.OfType<LinkStatus>()
            .OrderBy(l => l.Backend, StringComparer.Ordinal).ThenBy(l => l.BackendNode, StringComparer.Ordinal)], sources);
    }

    private static async Task<PipelineFlushed> GatherFlushed(List<IActorRef> outboxes, TimeSpan deadline, TimeSpan wait)
    {
        var answers = (await Task.WhenAll(outboxes.Select(o => AskOrNull<LinkFlushed>(o, new FlushLink(deadline), wait))).ConfigureAwait(false)).OfType<LinkFlushed>().ToList();
        return new PipelineFlushed(answers.Sum(f => f.Kept), answers.Sum(f => f.Dropped));
    }

    private static async Task<T?> AskOrNull<T>(IActorRef actor, object message, TimeSpan timeout) where T : class
    {
        try
        {
            return await actor.Ask<T>(message, timeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private sealed record LocalBackend(BackendAnnouncement Announcement);

    private sealed class Link(IActorRef outbox, string backend, string backendNode)
    {
        public IActorRef Outbox { get; } = outbox;
        public string Key { get; } = BackendAnnouncement.BackendKey(backend, backendNode);
        public string Backend { get; } = backend;
        public string BackendNode { get; } = backendNode;
        public BackendAnnouncement? Announcement { get; set; }

        /// <summary>For a durable link found in the store at start: how to route to it before its backend announces.</summary>
        public BackendAnnouncement? Recovered { get; init; }
        public DateTime LastHeard { get; set; } = DateTime.UtcNow;
        public bool Reachable { get; set; } = true;
    }

    /// <summary>One source's counters, and for a collector: its actor, the links its samples went to, and what it was last told.</summary>
    private sealed class SourceState
    {
        public long Published;
        public long Unrouted;
        public long Copies;
        public IActorRef? Collector;
        public readonly HashSet<string> Reaches = new(StringComparer.Ordinal);
        public ImmutableArray<string> Told = [];
    }

    private sealed class AnnounceTick
    {
        public static readonly AnnounceTick Instance = new();

        private AnnounceTick() { }
    }

    private sealed class TelemetryTick
    {
        public static readonly TelemetryTick Instance = new();

        private TelemetryTick() { }
    }

    private sealed class ExpiryTick
    {
        public static readonly ExpiryTick Instance = new();

        private ExpiryTick() { }
    }
}
