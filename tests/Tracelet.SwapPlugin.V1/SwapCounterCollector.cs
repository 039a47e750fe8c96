using Tracelet.Abstractions;

namespace Tracelet.SwapPlugin;

/// <summary>
/// A folder plugin built in several versions from this one file (projects Tracelet.SwapPlugin.V1,
/// .V2 and .Broken, all with assembly name Tracelet.SwapPlugin), so that hot swap can be tested.
/// Writes one <c>swap.counter</c> sample per collection, labelled with its version. Config:
/// <c>interval_ms</c> (default 50). The broken version fails in <c>StartAsync</c>.
/// </summary>
public sealed class SwapCounterCollector : CollectorPlugin
{
    public const string PluginName = "swap-counter";
    public const string Metric = "swap.counter";
    public const string VersionLabel = "version";

#if SWAP_BROKEN
    public const string PluginVersion = "3.0.0";
#elif SWAP_V2
    public const string PluginVersion = "2.0.0";
#else
    public const string PluginVersion = "1.0.0";
#endif

    private long _collections;
    private double _intervalMs = 50;

    public override PluginMetadata Metadata { get; } = new(PluginName, PluginVersion, PluginType.Collector)
    {
        Description = $"counts collections, version {PluginVersion}",
    };

    protected override TimeSpan DefaultInterval => TimeSpan.FromMilliseconds(_intervalMs);

    public override ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        _intervalMs = context.Config.GetDouble("interval_ms", 50);
        return base.InitializeAsync(context, cancellationToken);
    }

#if SWAP_BROKEN
    public override ValueTask StartAsync(CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"{PluginName} {PluginVersion} is broken on purpose");
#endif

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        _collections++;
        writer.Write(Metric, _collections, new MetricLabel(VersionLabel, PluginVersion));
        return ValueTask.CompletedTask;
    }

    public override IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?>
    {
        [VersionLabel] = PluginVersion,
        ["collections"] = _collections,
    };
}
