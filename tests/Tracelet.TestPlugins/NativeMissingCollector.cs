using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>A collector whose native library is missing: every collection throws <see cref="DllNotFoundException"/>.</summary>
public sealed class NativeMissingCollector : CollectorPlugin
{
    public const string PluginName = "test-native";
    public const string LibraryMessage = "Unable to load shared library 'libtracelet-fake.so.1'";

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector)
    {
        Description = "needs a native library that is not installed",
    };

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken) =>
        throw new DllNotFoundException(LibraryMessage);
}
