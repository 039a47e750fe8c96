namespace Tracelet.Actors.Pipeline;

/// <summary>The pipeline's self-telemetry (source <c>tracelet.pipeline</c>; labels node, backend, backend_node). Counts are samples.</summary>
public static class PipelineMetrics
{
    /// <summary>The source name of the pipeline's own samples.</summary>
    public const string Source = "tracelet.pipeline";

    public const string Produced = "tracelet.pipeline.produced";
    public const string Delivered = "tracelet.pipeline.delivered";
    public const string Dropped = "tracelet.pipeline.dropped";
    public const string Waiting = "tracelet.pipeline.waiting";
    public const string WaitingBytes = "tracelet.pipeline.waiting.bytes";
    public const string InFlight = "tracelet.pipeline.in_flight";
    public const string BufferFill = "tracelet.pipeline.buffer.utilization";

    /// <summary>Samples of one source (label <c>source</c>) that reached no link; labels node and source only.</summary>
    public const string Unrouted = "tracelet.pipeline.unrouted";
}
