namespace Tracelet.Abstractions;

/// <summary>
/// A plugin that stores or forwards samples. Its actor hands it one batch at a time; the write
/// completing (the returned task) is what lets the next batch through, so a slow backend slows
/// only its own queue.
/// </summary>
public abstract class BackendPlugin : PluginBase
{
    /// <summary>The sink id, <c>backend_&lt;name&gt;</c> as in the Python Tracelet.</summary>
    public string SinkId => $"backend_{Metadata.Name}";

    /// <summary>Whether this backend wants samples of a type. Samples it refuses are counted, not written.</summary>
    public virtual bool CanHandle(MetricType type) => true;

    /// <summary>
    /// Writes a batch (already filtered by <see cref="CanHandle"/>). Complete the task only when the
    /// samples are durable in whatever sense the backend promises; throw to have the runtime retry
    /// according to supervision.
    /// </summary>
    public abstract ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken);
}
