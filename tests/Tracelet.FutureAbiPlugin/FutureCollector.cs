using Tracelet.Abstractions;

namespace Tracelet.FutureAbiPlugin;

/// <summary>An ordinary collector; only the SDK version it was built against is wrong for this node.</summary>
public sealed class FutureCollector : CollectorPlugin
{
    public const string PluginName = "future-abi";

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector);

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        writer.Write("future.abi", 1);
        return ValueTask.CompletedTask;
    }
}
