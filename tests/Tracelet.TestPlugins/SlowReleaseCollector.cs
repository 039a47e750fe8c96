using System.Collections.Concurrent;
using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>
/// Throws at its first collection and takes <c>stop-ms</c> to release what it holds in StopAsync,
/// like a backend closing a file or a port. Records, per <c>run</c> id, when each incarnation starts
/// and finishes stopping, so a spec can check that incarnations never overlap.
/// </summary>
public sealed class SlowReleaseCollector : CollectorPlugin
{
    public const string PluginName = "test-slow-release";

    private static readonly ConcurrentDictionary<string, ConcurrentQueue<string>> Runs = new(StringComparer.Ordinal);
    private static int _instances;
    private readonly int _instance = Interlocked.Increment(ref _instances);

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector);

    private ConcurrentQueue<string> Log => Runs.GetOrAdd(Config.GetString("run", ""), _ => new());

    /// <summary>What the incarnations of run <paramref name="run"/> did, in order: "start 7", "released 7"...</summary>
    public static string[] Events(string run) => Runs.TryGetValue(run, out var q) ? [.. q] : [];

    public override ValueTask StartAsync(CancellationToken cancellationToken)
    {
        Log.Enqueue($"start {_instance}");
        return ValueTask.CompletedTask;
    }

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("the device went away");

    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(Config.GetInt64("stop-ms", 500)), CancellationToken.None);
        Log.Enqueue($"released {_instance}");
    }
}
