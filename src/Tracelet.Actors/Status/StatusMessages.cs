using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;

namespace Tracelet.Actors.Status;

// The cluster status view's protocol. Messages marked IStatusMessage cross nodes and are bound to
// StatusSerializer (never JSON); the others are asked locally (HTTP API, tests).

/// <summary>Every status message that may cross nodes: bound to <c>StatusSerializer</c>.</summary>
public interface IStatusMessage;

/// <summary>
/// What one node publishes about itself on <see cref="StatusSettings.Topic"/>: its plugins and its
/// pipeline links. A receiver keeps the newest per node: a higher <paramref name="Incarnation"/>
/// (a restarted node) wins, then a higher <paramref name="Sequence"/>.
/// </summary>
/// <param name="NodeId">The stable node id (tracelet.node-id).</param>
/// <param name="Address">The node's Akka address (akka.tcp://tracelet@host:port).</param>
/// <param name="Http">The node's status API, or null when unknown.</param>
/// <param name="Roles">The node's cluster roles.</param>
/// <param name="Incarnation">Unique per start of the publishing actor (UTC ticks at start).</param>
/// <param name="Sequence">Grows by one with every update of that incarnation.</param>
/// <param name="Plugins">Every plugin of the node, at most <c>max-plugins</c>.</param>
/// <param name="Links">The node's pipeline links (this node → a backend on any node), at most <c>max-links</c>.</param>
public sealed record NodeStatusUpdate(
    string NodeId,
    string Address,
    string? Http,
    ImmutableArray<string> Roles,
    long Incarnation,
    long Sequence,
    ImmutableArray<PluginSummary> Plugins,
    ImmutableArray<LinkSummary> Links) : IStatusMessage;

/// <summary>One plugin in a <see cref="NodeStatusUpdate"/>.</summary>
/// <param name="Type">Its type; null when the plugin is no longer discovered.</param>
/// <param name="Error">The last error (error and retrying), cut to fit a remote frame.</param>
/// <param name="Produced">Samples the plugin produced (collectors; from its runtime counters), else 0.</param>
/// <param name="Retry">When retrying: the next attempt (its last error is <paramref name="Error"/>).</param>
/// <param name="UpdateAvailable">A newer file of a folder plugin, when discovery saw one.</param>
/// <param name="Stuck">A call of the plugin running past the call timeout (from its runtime counters), else null.</param>
public sealed record PluginSummary(
    string Name,
    PluginType? Type,
    string Version,
    PluginStatusState State,
    string? Error,
    int Restarts,
    DateTimeOffset? LastTransition,
    long Produced,
    PluginRetry? Retry = null,
    string? UpdateAvailable = null,
    StuckCall? Stuck = null);

/// <summary>One pipeline link in a <see cref="NodeStatusUpdate"/>: the counters a backend's row aggregates.</summary>
/// <param name="Waiting">Samples buffered behind the window.</param>
/// <param name="BufferSamples">The link's buffer capacity in samples (0: unknown).</param>
public sealed record LinkSummary(
    string Backend,
    string BackendNode,
    long Delivered,
    long InFlight,
    long Waiting,
    int BufferSamples,
    ImmutableSortedDictionary<string, long> Dropped);

/// <summary>What an operator asks a plugin to do.</summary>
public enum PluginAction
{
    /// <summary>StartPlugin.</summary>
    Start = 1,

    /// <summary>StopPlugin.</summary>
    Stop = 2,

    /// <summary>RestartPlugin.</summary>
    Restart = 3,

    /// <summary>UpgradePlugin (hot swap of a folder plugin).</summary>
    Upgrade = 4,

    /// <summary>StopPlugin without cascade: refused while plugins that depend on it run.</summary>
    StopAlone = 5,
}

/// <summary>Sent to a node's <see cref="ClusterStatusActor"/>: run this lifecycle command on its PluginManager. Answered by <see cref="PluginControlResult"/>.</summary>
public sealed record ControlPlugin(string Plugin, PluginAction Action) : IStatusMessage;

/// <summary>The answer to <see cref="ControlPlugin"/>, one per node.</summary>
/// <param name="Ok">The command succeeded.</param>
/// <param name="State">The plugin's state afterwards, when known.</param>
/// <param name="Error">Why it failed, in words an operator can act on.</param>
/// <param name="TimedOut">The node did not answer in time (or is unreachable).</param>
/// <param name="NotFound">The node does not know the plugin.</param>
/// <param name="Detail">What an operator should know besides the state (e.g. "upgraded 1.0.0 -> 1.1.0").</param>
/// <param name="Cascaded">Other plugins the command moved too (dependencies started, dependents stopped), in order.</param>
public sealed record PluginControlResult(
    string Node,
    string Plugin,
    bool Ok,
    PluginStatusState? State,
    string? Error,
    bool TimedOut = false,
    bool NotFound = false,
    string? Detail = null,
    ImmutableArray<string> Cascaded = default) : IStatusMessage;

/// <summary>
/// Local: run a lifecycle command on one node (<paramref name="Node"/>) or on every reachable node
/// that knows the plugin (<paramref name="Node"/> null). Answered by <see cref="PluginControlResults"/>.
/// </summary>
public sealed record ControlPluginInCluster(string Plugin, PluginAction Action, string? Node, TimeSpan? Timeout = null);

/// <summary>The answer to <see cref="ControlPluginInCluster"/>; <paramref name="UnknownTarget"/> says why there is no result at all.</summary>
public sealed record PluginControlResults(ImmutableArray<PluginControlResult> Results, string? UnknownTarget);

/// <summary>Local: asks for the view. Answered at once from memory by <see cref="CurrentClusterStatus"/>.</summary>
public sealed record GetClusterStatus
{
    /// <summary>The single instance.</summary>
    public static GetClusterStatus Instance { get; } = new();

    private GetClusterStatus() { }
}

/// <summary>The view of every node, as the answering node knows it.</summary>
public sealed record CurrentClusterStatus(string Node, DateTimeOffset GeneratedAt, ImmutableArray<NodeView> Nodes);

/// <summary>One node in the view.</summary>
/// <param name="Node">Its node id, or its address when it is a member that has not published yet.</param>
/// <param name="MemberStatus">joining | up | leaving | exiting | down | removed | unknown.</param>
/// <param name="Reachable">False when the failure detector flags it, or it left or was removed.</param>
/// <param name="LastSeen">When its last update arrived; null when none has.</param>
/// <param name="Stale">Reachable by membership, but no update for longer than <c>stale-after</c>.</param>
public sealed record NodeView(
    string Node,
    string? Address,
    string? Http,
    ImmutableArray<string> Roles,
    string MemberStatus,
    bool Reachable,
    DateTimeOffset? LastSeen,
    bool Stale,
    ImmutableArray<PluginView> Plugins);

/// <summary>One plugin of a node, with the pipeline counters aggregated for it.</summary>
/// <param name="BufferFill">Backends: the fullest buffer (0..1) over the links to it this view knows; else null.</param>
/// <param name="InFlight">Backends: samples in flight to it over known links; else 0.</param>
/// <param name="Dropped">Backends: samples dropped on links to it, by reason; else empty.</param>
/// <param name="Delivered">Backends: samples delivered to it; collectors: samples produced.</param>
/// <param name="Retry">When retrying: the next attempt.</param>
/// <param name="UpdateAvailable">A newer file of a folder plugin, when its node's discovery saw one.</param>
/// <param name="Stuck">A call of the plugin running past the call timeout, else null.</param>
public sealed record PluginView(
    string Name,
    PluginType? Type,
    string Version,
    PluginStatusState State,
    string? Error,
    int Restarts,
    DateTimeOffset? LastTransition,
    double? BufferFill,
    long InFlight,
    ImmutableSortedDictionary<string, long> Dropped,
    long Delivered,
    PluginRetry? Retry = null,
    string? UpdateAvailable = null,
    StuckCall? Stuck = null);
