using System.Collections.Immutable;
using Akka.Actor;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Pipeline;

/// <summary>Every pipeline message that may cross nodes: bound to <c>PipelineSerializer</c>, never JSON.</summary>
public interface IPipelineMessage;

/// <summary>
/// A backend tells every node it exists, where its inbox is and how producers must treat its
/// link. Published on the control topic when the backend starts and then every
/// <c>announce-interval</c>; a producer forgets a backend it has not heard from for <c>backend-timeout</c>.
/// </summary>
/// <param name="Backend">The backend plugin's name.</param>
/// <param name="Node">The node id it runs on.</param>
/// <param name="Inbox">Where deliveries go (the backend plugin's actor); a new incarnation has a new ref.</param>
/// <param name="Incarnation">Grows with every start of the backend: deliveries in flight to an older one are resent.</param>
/// <param name="Link">Overflow policy, buffer and window every producer applies to this backend.</param>
/// <param name="Routes">Which samples it wants; empty: all.</param>
/// <param name="HandledTypes">Bit i set when the backend's CanHandle accepts <see cref="MetricType"/> i.</param>
public sealed record BackendAnnouncement(
    string Backend,
    string Node,
    IActorRef Inbox,
    long Incarnation,
    LinkSettings Link,
    ImmutableArray<RouteRule> Routes,
    int HandledTypes) : IPipelineMessage
{
    /// <summary>The link key: one backend on one node.</summary>
    public string Key => BackendKey(Backend, Node);

    public static string BackendKey(string backend, string node) => $"{backend}@{node}";
}

/// <summary>A backend stopped on purpose (an operator's stop, node shutdown): producers stop sending to it.</summary>
public sealed record BackendWithdrawn(string Backend, string Node, long Incarnation) : IPipelineMessage;

/// <summary>
/// One batch on a link, numbered per (source node, backend) from 1: the inbox writes sequence
/// n only after n − 1 and acknowledges each, so order is kept and a resent batch is written once.
/// </summary>
public sealed record Delivery(string SourceNode, string Backend, long Sequence, MetricBatch Batch) : IPipelineMessage
{
    /// <summary>
    /// The producer's link incarnation: the inbox restarts its sequence check when it changes.
    /// Constant (0) for durable links, whose numbers continue across restarts.
    /// </summary>
    public long Epoch { get; init; }
}

/// <summary>
/// The inbox has finished with every batch up to <paramref name="Sequence"/> of a link; of the
/// last one, <paramref name="Rejected"/> samples were refused by CanHandle and
/// <paramref name="Failed"/> were lost to a write that threw.
/// </summary>
public sealed record DeliveryAck(string SourceNode, string Backend, long Sequence, int Rejected, int Failed) : IPipelineMessage;
