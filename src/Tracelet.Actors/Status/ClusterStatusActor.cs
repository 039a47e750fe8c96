using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;
using static Akka.Cluster.ClusterEvent;

namespace Tracelet.Actors.Status;

/// <summary>
/// The node's replicated view of every node's plugins (GET /status/cluster). It reads its own
/// PluginManager and pipeline every <c>publish-interval</c> and publishes a
/// <see cref="NodeStatusUpdate"/> on <see cref="StatusSettings.Topic"/> when a state changed, and
/// everything every <c>refresh-interval</c>; it keeps the latest update of every node, and follows
/// cluster membership so that unreachable and removed nodes are flagged as soon as the failure
/// detector says so. <see cref="GetClusterStatus"/> is answered from memory, never by asking anyone.
/// It also runs start/stop/restart/upgrade for other nodes (<see cref="ControlPlugin"/>) on its own PluginManager.
/// </summary>
public sealed class ClusterStatusActor : ReceiveActor, IWithTimers
{
    /// <summary>The actor's name under /user on every node: remote control is addressed to it.</summary>
    public const string Name = "cluster-status";

    private const string PollTimer = "poll";
    private const string ForgetTimer = "forget";

    private readonly string _nodeId;
    private readonly string? _http;
    private readonly StatusSettings _settings;
    private readonly IActorRef _manager;
    private readonly IActorRef _pipeline;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, NodeEntry> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<Address, MemberInfo> _members = [];
    private readonly long _incarnation = DateTime.UtcNow.Ticks;
    private Akka.Cluster.Cluster? _cluster;
    private IActorRef? _mediator;
    private Address _selfAddress = Address.AllSystems;
    private ImmutableArray<string> _roles = [];
    private ImmutableArray<PluginSummary> _plugins = [];
    private ImmutableArray<LinkSummary> _links = [];
    private NodeStatusUpdate? _lastPublished;
    private DateTimeOffset _lastFullPublish = DateTimeOffset.MinValue;
    private long _sequence;
    private bool _polling;
    private long _ignoredNodes;

    public ClusterStatusActor(string nodeId, string? http, StatusSettings settings, IActorRef manager, IActorRef pipeline)
    {
        _nodeId = nodeId;
        _http = http;
        _settings = settings;
        _manager = manager;
        _pipeline = pipeline;

        Receive<PollTick>(_ => Poll());
        Receive<Polled>(Handle);
        Receive<NodeStatusUpdate>(Handle);
        Receive<GetClusterStatus>(_ => Sender.Tell(BuildView()));
        Receive<ControlPlugin>(Handle);
        Receive<ControlPluginInCluster>(Handle);
        Receive<ForgetTick>(_ => Forget());
        Receive<IMemberEvent>(Handle);
        Receive<UnreachableMember>(e => SetReachable(e.Member, false));
        Receive<ReachableMember>(e => SetReachable(e.Member, true));
        Receive<SubscribeAck>(_ => { });
        Receive<Akka.Actor.Status.Failure>(_ => _polling = false); // a poll that faulted after all: poll again next tick
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="nodeId">This node's id.</param>
    /// <param name="http">This node's status API URL, when it has one.</param>
    /// <param name="settings">tracelet.status.</param>
    /// <param name="manager">This node's PluginManager (or the supervisor that forwards to it).</param>
    /// <param name="pipeline">This node's pipeline.</param>
    public static Props Props(string nodeId, string? http, StatusSettings settings, IActorRef manager, IActorRef pipeline) =>
        Akka.Actor.Props.Create(() => new ClusterStatusActor(nodeId, http, settings, manager, pipeline));

    protected override void PreStart()
    {
        if (Context.System is ExtendedActorSystem system && system.Provider.GetType().Name.Contains("Cluster", StringComparison.Ordinal))
        {
            _cluster = Akka.Cluster.Cluster.Get(Context.System);
            _selfAddress = _cluster.SelfAddress;
            _roles = [.. _cluster.SelfRoles.Order(StringComparer.Ordinal)];
            _cluster.Subscribe(Self, InitialStateAsEvents, typeof(IMemberEvent), typeof(IReachabilityEvent));
            _mediator = DistributedPubSub.Get(Context.System).Mediator;
            _mediator.Tell(new Subscribe(StatusSettings.Topic, Self));
        }
        else if (Context.System is ExtendedActorSystem local)
        {
            _selfAddress = local.Provider.DefaultAddress;
        }
        Timers.StartPeriodicTimer(PollTimer, PollTick.Instance, TimeSpan.Zero, _settings.PublishInterval);
        var forgetEvery = _settings.ForgetAfter < TimeSpan.FromMinutes(1) ? _settings.ForgetAfter : TimeSpan.FromMinutes(1);
        Timers.StartPeriodicTimer(ForgetTimer, ForgetTick.Instance, forgetEvery > TimeSpan.Zero ? forgetEvery : TimeSpan.FromSeconds(1));
    }

    protected override void PostStop() => _cluster?.Unsubscribe(Self);

    // ---------------------------------------------------------------- own status, published

    private void Poll()
    {
        if (_polling) return; // a slow manager or pipeline: never pile up asks
        _polling = true;
        var timeout = _settings.PublishInterval * 3 > TimeSpan.FromSeconds(3) ? _settings.PublishInterval * 3 : TimeSpan.FromSeconds(3);
        ReadOwn(_manager, _pipeline, timeout).PipeTo(Self);
    }

    private static async Task<Polled> ReadOwn(IActorRef manager, IActorRef pipeline, TimeSpan timeout)
    {
        var plugins = AskOrNull<CurrentPluginStatus>(manager, GetPluginStatus.Instance, timeout);
        var links = AskOrNull<CurrentPipelineStatus>(pipeline, GetPipelineStatus.Instance, timeout);
        return new Polled((await plugins.ConfigureAwait(false))?.Status, await links.ConfigureAwait(false));
    }

    private static async Task<T?> AskOrNull<T>(IActorRef actor, object message, TimeSpan timeout) where T : class
    {
        try
        {
            return await actor.Ask<T>(message, timeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A timeout, or any other fault (a failure reply): the last known value stays in the view,
            // and the poll always completes, so the node never stops publishing.
            return null;
        }
    }

    private void Handle(Polled polled)
    {
        _polling = false;
        // An unanswered ask keeps what we knew: a restarting PluginManager must not blank the node.
        if (polled.Plugins is { } status) _plugins = Summarize(status);
        if (polled.Pipeline is { } pipeline) _links = Summarize(pipeline);
        var now = DateTimeOffset.UtcNow;
        var changed = _lastPublished is null || !SameStates(_lastPublished, _plugins, _links);
        if (!changed && now - _lastFullPublish < _settings.RefreshInterval) return;
        var update = new NodeStatusUpdate(_nodeId, _selfAddress.ToString(), _http, _roles, _incarnation, ++_sequence, _plugins, _links);
        _lastPublished = update;
        _lastFullPublish = now;
        Accept(update, now);
        _mediator?.Tell(new Publish(StatusSettings.Topic, update));
    }

    private ImmutableArray<PluginSummary> Summarize(NodePluginStatus status)
    {
        if (status.Plugins.Count > _settings.MaxPlugins)
            _log.Warning("Cluster status: {0} plugins on this node, only the first {1} (tracelet.status.max-plugins) are published", status.Plugins.Count, _settings.MaxPlugins);
        return [.. status.Plugins.Take(_settings.MaxPlugins).Select(p => new PluginSummary(
            p.Key, p.Value.Type, p.Value.Version, p.Value.State, Cut(p.Value.Error), p.Value.Restarts, p.Value.LastTransition,
            p.Value.Runtime is CollectorRuntime c ? c.SamplesProduced : 0,
            p.Value.Retry is { } retry ? retry with { LastError = Cut(retry.LastError)! } : null,
            p.Value.UpdateAvailable,
            p.Value.Runtime?.Stuck))];
    }

    /// <summary>An update must fit a remote frame (128 kB) with 256 plugins: long error texts are cut.</summary>
    private static string? Cut(string? error) => error is { Length: > MaxErrorLength } ? error[..MaxErrorLength] + "…" : error;

    private const int MaxErrorLength = 512;

    private ImmutableArray<LinkSummary> Summarize(CurrentPipelineStatus pipeline) =>
        [.. pipeline.Links.Take(_settings.MaxLinks).Select(l => new LinkSummary(
            l.Backend, l.BackendNode, l.Delivered, l.InFlight, l.Waiting, l.BufferSamples, l.Dropped))];

    /// <summary>States, errors, restarts and the set of links: what is worth a message at once; counters wait for the refresh.</summary>
    private static bool SameStates(NodeStatusUpdate last, ImmutableArray<PluginSummary> plugins, ImmutableArray<LinkSummary> links) =>
        last.Plugins.Select(p => p with { Produced = 0 }).SequenceEqual(plugins.Select(p => p with { Produced = 0 }))
        && last.Links.Select(l => (l.Backend, l.BackendNode)).SequenceEqual(links.Select(l => (l.Backend, l.BackendNode)));

    // ---------------------------------------------------------------- others' status, received

    private void Handle(NodeStatusUpdate update)
    {
        if (update.NodeId == _nodeId && update.Incarnation == _incarnation) return; // our own, applied when published
        Accept(update, DateTimeOffset.UtcNow);
    }

    private void Accept(NodeStatusUpdate update, DateTimeOffset now)
    {
        if (_nodes.TryGetValue(update.NodeId, out var known))
        {
            var newer = update.Incarnation > known.Update.Incarnation
                || (update.Incarnation == known.Update.Incarnation && update.Sequence > known.Update.Sequence);
            if (!newer) return;
        }
        else if (_nodes.Count >= _settings.MaxNodes)
        {
            if (_ignoredNodes++ % 1000 == 0)
                _log.Warning("Cluster status: view is full ({0} nodes, tracelet.status.max-nodes); update from {1} ignored", _nodes.Count, update.NodeId);
            return;
        }
        Address? address = null;
        try
        {
            address = Address.Parse(update.Address);
        }
        catch (UriFormatException)
        {
            // Shown without membership; the node id still identifies it.
        }
        _nodes[update.NodeId] = new NodeEntry(update, address, now);
    }

    // ---------------------------------------------------------------- membership

    private void Handle(IMemberEvent e)
    {
        var uid = e.Member.UniqueAddress.Uid;
        var known = _members.GetValueOrDefault(e.Member.Address);
        // A restarted node comes back on the same address with a new uid: its old incarnation's
        // unreachable flag and removal are not its own. A late event about the old one is ignored.
        if (known is not null && known.Uid != uid)
        {
            if (e is MemberRemoved or MemberExited && known.Status != MemberStatus.Removed) return;
            known = null;
        }
        var reachable = known is null || known.Reachable;
        DateTimeOffset? goneAt = e is MemberRemoved or MemberExited ? DateTimeOffset.UtcNow : known?.GoneAt;
        _members[e.Member.Address] = new MemberInfo(e.Member.Status, reachable && e is not MemberRemoved, goneAt, [.. e.Member.Roles.Order(StringComparer.Ordinal)], uid);
    }

    private void SetReachable(Member member, bool reachable)
    {
        var uid = member.UniqueAddress.Uid;
        if (_members.TryGetValue(member.Address, out var known) && known.Uid != uid && known.Status != MemberStatus.Removed)
            return; // about an incarnation that another one at this address has replaced
        _members[member.Address] = known is not null && known.Uid == uid
            ? known with { Reachable = reachable }
            : new MemberInfo(member.Status, reachable, null, [.. member.Roles.Order(StringComparer.Ordinal)], uid);
    }

    private void Forget()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var (id, entry) in _nodes.ToList())
        {
            if (id != _nodeId && !IsReachable(entry.Address) && now - entry.ReceivedAt > _settings.ForgetAfter)
                _nodes.Remove(id);
        }
        foreach (var (address, member) in _members.ToList())
        {
            if (member.GoneAt is { } gone && now - gone > _settings.ForgetAfter) _members.Remove(address);
        }
    }

    private bool IsReachable(Address? address) => address is not null && Membership(address) is { } m && Reachable(m);

    private MemberInfo? Membership(Address? address)
    {
        if (address is null) return null;
        if (_members.TryGetValue(address, out var m)) return m;
        // Without a cluster (embedded use, tests), this node is its own whole membership.
        return _cluster is null && address == _selfAddress ? new MemberInfo(MemberStatus.Up, true, null, []) : null;
    }

    private static bool Reachable(MemberInfo m) =>
        m.Reachable && m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up or MemberStatus.Leaving;

    // ---------------------------------------------------------------- the view

    private CurrentClusterStatus BuildView()
    {
        var now = DateTimeOffset.UtcNow;
        var links = AggregateLinks();
        var nodes = ImmutableArray.CreateBuilder<NodeView>(_nodes.Count);
        var covered = new HashSet<Address>();
        foreach (var entry in _nodes.Values.OrderBy(e => e.Update.NodeId, StringComparer.Ordinal))
        {
            if (entry.Address is not null) covered.Add(entry.Address);
            var member = Membership(entry.Address);
            var reachable = member is not null && Reachable(member);
            var u = entry.Update;
            nodes.Add(new NodeView(
                u.NodeId, u.Address, u.Http, u.Roles, StatusName(member), reachable, entry.ReceivedAt,
                reachable && now - entry.ReceivedAt > _settings.StaleAfter,
                [.. u.Plugins.Select(p => View(p, u.NodeId, links))]));
        }
        // Members that have not published yet (joining, or not running Tracelet's status actor).
        foreach (var (address, member) in _members.Where(m => !covered.Contains(m.Key) && m.Value.Status != MemberStatus.Removed).OrderBy(m => m.Key.ToString(), StringComparer.Ordinal))
            nodes.Add(new NodeView(address.ToString(), address.ToString(), null, member.Roles, StatusName(member), Reachable(member), null, false, []));
        return new CurrentClusterStatus(_nodeId, now, nodes.ToImmutable());
    }

    private static string StatusName(MemberInfo? m) => m?.Status switch
    {
        null => "unknown",
        MemberStatus.WeaklyUp => "joining",
        { } s => s.ToString().ToLowerInvariant(),
    };

    private Dictionary<(string Backend, string Node), LinkAggregate> AggregateLinks()
    {
        var links = new Dictionary<(string, string), LinkAggregate>();
        foreach (var entry in _nodes.Values)
        {
            foreach (var l in entry.Update.Links)
            {
                if (!links.TryGetValue((l.Backend, l.BackendNode), out var agg)) links[(l.Backend, l.BackendNode)] = agg = new LinkAggregate();
                agg.Add(l);
            }
        }
        return links;
    }

    private static PluginView View(PluginSummary p, string nodeId, Dictionary<(string, string), LinkAggregate> links)
    {
        if (p.Type != PluginType.Backend)
            return new PluginView(p.Name, p.Type, p.Version, p.State, p.Error, p.Restarts, p.LastTransition, null, 0, ImmutableSortedDictionary<string, long>.Empty, p.Produced,
                p.Retry, p.UpdateAvailable, p.Stuck);
        links.TryGetValue((p.Name, nodeId), out var agg);
        return new PluginView(p.Name, p.Type, p.Version, p.State, p.Error, p.Restarts, p.LastTransition,
            agg?.BufferFill, agg?.InFlight ?? 0, agg?.Dropped.ToImmutable() ?? ImmutableSortedDictionary<string, long>.Empty, agg?.Delivered ?? 0,
            p.Retry, p.UpdateAvailable, p.Stuck);
    }

    // ---------------------------------------------------------------- remote control

    private void Handle(ControlPlugin command)
    {
        RunAndRefresh(Self, Run(_manager, _nodeId, command, _settings.ControlTimeout)).PipeTo(Sender);
    }

    private static async Task<PluginControlResult> RunAndRefresh(IActorRef self, Task<PluginControlResult> run)
    {
        var result = await run.ConfigureAwait(false);
        self.Tell(PollTick.Instance); // publish the new state now rather than at the next tick
        return result;
    }

    private static async Task<PluginControlResults> Gather(IActorRef self, List<Task<PluginControlResult>> tasks, bool refresh)
    {
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        if (refresh) self.Tell(PollTick.Instance);
        return new PluginControlResults([.. results], null);
    }

    private void Handle(ControlPluginInCluster command)
    {
        var timeout = command.Timeout ?? _settings.ControlTimeout + TimeSpan.FromSeconds(5);
        List<NodeEntry> targets;
        if (command.Node is { } id)
        {
            if (!_nodes.TryGetValue(id, out var entry))
            {
                Sender.Tell(new PluginControlResults([], $"unknown node '{id}' (known: {string.Join(", ", _nodes.Keys.Order(StringComparer.Ordinal))})"));
                return;
            }
            targets = [entry];
        }
        else
        {
            targets = [.. _nodes.Values
                .Where(e => (e.Update.NodeId == _nodeId || IsReachable(e.Address)) && e.Update.Plugins.Any(p => p.Name == command.Plugin))
                .OrderBy(e => e.Update.NodeId, StringComparer.Ordinal)];
            if (targets.Count == 0)
            {
                Sender.Tell(new PluginControlResults([], $"no reachable node knows plugin '{command.Plugin}'"));
                return;
            }
        }
        var message = new ControlPlugin(command.Plugin, command.Action);
        var tasks = targets.Select(e =>
        {
            var node = e.Update.NodeId;
            if (node == _nodeId) return Run(_manager, _nodeId, message, timeout);
            if (!IsReachable(e.Address))
                return Task.FromResult(new PluginControlResult(node, command.Plugin, false, null,
                    $"node {node} is unreachable (last seen {e.ReceivedAt:O})", TimedOut: true));
            return AskRemote(Context.ActorSelection($"{e.Update.Address}/user/{Name}"), node, message, timeout);
        }).ToList();
        Gather(Self, tasks, refresh: targets.Any(e => e.Update.NodeId == _nodeId)).PipeTo(Sender);
    }

    private static async Task<PluginControlResult> AskRemote(ActorSelection target, string node, ControlPlugin message, TimeSpan timeout)
    {
        try
        {
            return await target.Ask<PluginControlResult>(message, timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new PluginControlResult(node, message.Plugin, false, null, $"node {node} did not answer within {timeout.TotalSeconds:0.#}s", TimedOut: true);
        }
        catch (Exception e)
        {
            // One node's odd answer must not lose the other nodes' results.
            return new PluginControlResult(node, message.Plugin, false, null, $"node {node} answered with a failure: {e.Message}");
        }
    }

    /// <summary>Runs the command on a local PluginManager, which persists the transition as it does for any command.</summary>
    private static async Task<PluginControlResult> Run(IActorRef manager, string node, ControlPlugin command, TimeSpan timeout)
    {
        IPluginManagerCommand message = command.Action switch
        {
            PluginAction.Start => new StartPlugin(command.Plugin),
            PluginAction.Stop => new StopPlugin(command.Plugin),
            PluginAction.StopAlone => new StopPlugin(command.Plugin, Cascade: false),
            PluginAction.Upgrade => new UpgradePlugin(command.Plugin),
            _ => new RestartPlugin(command.Plugin),
        };
        try
        {
            return await manager.Ask<PluginOperationResult>(message, timeout).ConfigureAwait(false) switch
            {
                PluginOperationSucceeded ok => new PluginControlResult(node, command.Plugin, true, ok.State.ToStatusState(), null,
                    Detail: ok.Detail, Cascaded: ok.Cascaded.IsDefault ? [] : ok.Cascaded),
                PluginOperationFailed f => new PluginControlResult(node, command.Plugin, false, f.State?.ToStatusState(), f.Reason, NotFound: f.State is null),
                var other => new PluginControlResult(node, command.Plugin, false, null, $"unexpected answer {other.GetType().Name}"),
            };
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new PluginControlResult(node, command.Plugin, false, null, $"the PluginManager on {node} did not answer within {timeout.TotalSeconds:0.#}s", TimedOut: true);
        }
        catch (Exception e)
        {
            return new PluginControlResult(node, command.Plugin, false, null, $"the PluginManager on {node} failed: {e.Message}");
        }
    }

    // ---------------------------------------------------------------- private types

    private sealed record NodeEntry(NodeStatusUpdate Update, Address? Address, DateTimeOffset ReceivedAt);

    private sealed record MemberInfo(MemberStatus Status, bool Reachable, DateTimeOffset? GoneAt, ImmutableArray<string> Roles, long Uid = 0);

    private sealed class LinkAggregate
    {
        public double? BufferFill { get; private set; }

        public long InFlight { get; private set; }

        public long Delivered { get; private set; }

        public ImmutableSortedDictionary<string, long>.Builder Dropped { get; } = ImmutableSortedDictionary.CreateBuilder<string, long>(StringComparer.Ordinal);

        public void Add(LinkSummary l)
        {
            var fill = l.BufferSamples > 0 ? Math.Min(1.0, (double)l.Waiting / l.BufferSamples) : 0.0;
            BufferFill = Math.Max(BufferFill ?? 0.0, fill);
            InFlight += l.InFlight;
            Delivered += l.Delivered;
            foreach (var (reason, count) in l.Dropped) Dropped[reason] = Dropped.GetValueOrDefault(reason) + count;
        }
    }

    private sealed record PollTick
    {
        public static PollTick Instance { get; } = new();
    }

    private sealed record ForgetTick
    {
        public static ForgetTick Instance { get; } = new();
    }

    private sealed record Polled(NodePluginStatus? Plugins, CurrentPipelineStatus? Pipeline);
}
