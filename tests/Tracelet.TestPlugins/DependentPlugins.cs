using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>A plugin that does nothing but declare dependencies: the shape of a dependency graph is all a test needs.</summary>
public abstract class DependentPlugin(string name, params string[] dependencies) : PluginBase
{
    public override PluginMetadata Metadata { get; } = new(name, "1.0.0", PluginType.Processor)
    {
        Description = dependencies.Length == 0 ? "depends on nothing" : $"depends on {string.Join(", ", dependencies)}",
        Dependencies = [.. dependencies],
    };
}

// A chain: chain-a -> chain-b -> chain-c.
public sealed class ChainA() : DependentPlugin("chain-a", "chain-b");

public sealed class ChainB() : DependentPlugin("chain-b", "chain-c");

public sealed class ChainC() : DependentPlugin("chain-c");

// A cycle: ring-a -> ring-b -> ring-c -> ring-a.
public sealed class RingA() : DependentPlugin("ring-a", "ring-b");

public sealed class RingB() : DependentPlugin("ring-b", "ring-c");

public sealed class RingC() : DependentPlugin("ring-c", "ring-a");

// A dependency on a plugin nobody provides.
public sealed class NeedsGhost() : DependentPlugin("needs-ghost", "ghost");

/// <summary>The names of every plugin in this assembly, sorted: what discovery of it must find.</summary>
public static class TestPluginNames
{
    public static ImmutableArray<string> All { get; } =
    [
        BrokenSchemaPlugin.PluginName, "chain-a", "chain-b", "chain-c", "needs-ghost", "ring-a", "ring-b", "ring-c",
        CountingCollector.PluginName, EchoBackend.PluginName, NativeMissingCollector.PluginName, SlowReleaseCollector.PluginName, ThrowingCollector.PluginName,
    ];
}
