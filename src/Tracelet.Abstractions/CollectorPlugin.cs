namespace Tracelet.Abstractions;

/// <summary>
/// A plugin that produces samples. Its actor calls <see cref="CollectAsync"/> every
/// <see cref="Interval"/> while the plugin is active; a collection still running when the next is
/// due is not overlapped, and the skipped tick is counted in status.
/// </summary>
public abstract class CollectorPlugin : PluginBase
{
    /// <summary>The config key that sets the interval (seconds, or a string like "2s").</summary>
    public const string IntervalKey = "interval";

    /// <summary>The interval when the config does not set one. Override to change it.</summary>
    protected virtual TimeSpan DefaultInterval => TimeSpan.FromSeconds(60);

    /// <summary>How often to collect; read from config key <c>interval</c> at initialization.</summary>
    public TimeSpan Interval { get; private set; }

    /// <inheritdoc />
    public override ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        Interval = context.Config.GetDuration(IntervalKey, DefaultInterval);
        if (Interval <= TimeSpan.Zero)
            throw new ArgumentException($"config key '{IntervalKey}' must be positive, got {Interval}");
        return base.InitializeAsync(context, cancellationToken);
    }

    /// <summary>Takes one sample of whatever this collector measures and writes it to <paramref name="writer"/>.</summary>
    public abstract ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken);
}
