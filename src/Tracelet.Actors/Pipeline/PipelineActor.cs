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
/// never by bulk pub-sub publishing: pub-sub carries only the small announcements.
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
        Receive<GetPipelineStatus>(_ => CollectStatus(Sender));
        Receive<FlushPipeline>(Handle);
        Receive<TelemetryTick>(_ => CollectStatus(Self));
        Receive<CurrentPipelineStatus>(PublishTelemetry);
    }

    public ITimerScheduler Timers { get; set; } = null!;

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
    }

    protected override void PostStop()
    {
        _store?.Dispose();
        _store = null;
    }

    private void Handle(PublishBatch publish)
    {
        var batch = publish.Batch;
        foreach (var link in _links.Values)
        {
            if ((link.Announcement ?? link.Recovered) is not { } a) continue; // a stopped, non-durable backend
            var routed = Route(batch, a);
            if (routed is null) continue;
            // Large collections travel in several deliveries: remoting refuses frames over 128 kB.
            var max = _settings.MaxBatchSamples;
            if (routed.Samples.Length <= max) link.Outbox.Tell(new RoutedBatch(routed));
            else
            {
                for (var i = 0; i < routed.Samples.Length; i += max)
                    link.Outbox.Tell(new RoutedBatch(routed with { Samples = routed.Samples.Slice(i, Math.Min(max, routed.Samples.Length - i)) }));
            }
        }
    }

    /// <summary>The samples of <paramref name="batch"/> this backend wants, split to the delivery size; null when none.</summary>
    private MetricBatch? Route(MetricBatch batch, BackendAnnouncement backend)
    {
        const int allTypes = (1 << 15) - 1;
        var everything = backend.Routes.IsDefaultOrEmpty && (backend.HandledTypes & allTypes) == allTypes;
        var samples = everything
            ? batch.Samples
            : [.. batch.Samples.Where(s => (backend.HandledTypes & 1 << (int)s.Type) != 0 && RouteRule.AnyMatches(backend.Routes, s))];
        if (samples.IsEmpty) return null;
        return samples.Length == batch.Samples.Length ? batch : batch with { Samples = samples };
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
            link = new Link(StartOutbox(announcement.Backend, announcement.Node, announcement.Link));
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
        return settings =>
        {
            if (settings.Overflow != OverflowPolicy.Durable) return new LinkQueue(settings);
            var store = Store();
            // Without a store a durable link can only buffer in memory; say so loudly rather than lose silently.
            return store is null ? new LinkQueue(settings with { Overflow = OverflowPolicy.DropOldest }) : new DurableLinkQueue(settings, store, key);
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
        foreach (var key in store.Links())
        {
            var at = key.LastIndexOf('@');
            if (at <= 0 || _links.ContainsKey(key)) continue;
            var (backend, node) = (key[..at], key[(at + 1)..]);
            var config = _settings.For(backend);
            var settings = config.Link with { Overflow = OverflowPolicy.Durable };
            // Until the backend announces itself, route to it by this node's view of its section
            // (nodes normally share their configuration) so nothing produced meanwhile is missed.
            var recovered = new BackendAnnouncement(backend, node, ActorRefs.Nobody, 0, settings, config.Routes, (1 << 15) - 1);
            _links[key] = new Link(StartOutbox(backend, node, settings)) { Reachable = false, Recovered = recovered };
        }
    }

    private void Handle(LinkPressure pressure)
    {
        var wasBlocked = _blocked.Count > 0;
        if (pressure.Full) _blocked.Add(pressure.Link);
        else _blocked.Remove(pressure.Link);
        if (wasBlocked != _blocked.Count > 0)
            Context.System.EventStream.Publish(new PipelinePressure(_blocked.Count > 0, [.. _blocked.Order(StringComparer.Ordinal)]));
    }

    private void CollectStatus(IActorRef replyTo)
    {
        var outboxes = _links.Values.Select(l => l.Outbox).ToList();
        var node = _nodeId;
        Task.WhenAll(outboxes.Select(o => o.Ask<LinkStatus>(GetLinkStatus.Instance, TimeSpan.FromSeconds(3))))
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? new CurrentPipelineStatus(node, [.. t.Result.OrderBy(l => l.Backend, StringComparer.Ordinal).ThenBy(l => l.BackendNode, StringComparer.Ordinal)])
                : new CurrentPipelineStatus(node, []), TaskScheduler.Default)
            .PipeTo(replyTo);
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
        Self.Tell(new PublishBatch(new MetricBatch(_nodeId, PipelineMetrics.Source, samples.ToImmutable())));
    }

    private void Handle(FlushPipeline flush)
    {
        var replyTo = Sender;
        var outboxes = _links.Values.Select(l => l.Outbox).ToList();
        var wait = flush.Deadline + TimeSpan.FromSeconds(2);
        Task.WhenAll(outboxes.Select(o => o.Ask<LinkFlushed>(new FlushLink(flush.Deadline), wait)))
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? new PipelineFlushed(t.Result.Sum(f => f.Kept), t.Result.Sum(f => f.Dropped))
                : new PipelineFlushed(0, 0), TaskScheduler.Default)
            .PipeTo(replyTo);
    }

    private sealed record LocalBackend(BackendAnnouncement Announcement);

    private sealed class Link(IActorRef outbox)
    {
        public IActorRef Outbox { get; } = outbox;
        public BackendAnnouncement? Announcement { get; set; }

        /// <summary>For a durable link found in the store at start: how to route to it before its backend announces.</summary>
        public BackendAnnouncement? Recovered { get; init; }
        public DateTime LastHeard { get; set; } = DateTime.UtcNow;
        public bool Reachable { get; set; } = true;
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
