using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Xunit;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>A plugin type registered by hand; it shares this assembly with <see cref="MetadataThrowsPlugin"/>.</summary>
public sealed class HandRegisteredPlugin : PluginBase
{
    public override PluginMetadata Metadata { get; } = new("hand-registered", "1.2.0", PluginType.Processor);
}

/// <summary>A broken plugin type in the same assembly: registering another type must not report it.</summary>
public sealed class MetadataThrowsPlugin : PluginBase
{
    public override PluginMetadata Metadata => throw new InvalidOperationException("no metadata today");
}

[Trait("Category", "Discovery")]
public sealed class DescribeSpec
{
    [Fact]
    public void Describing_one_type_reports_only_that_type()
    {
        var described = PluginDiscovery.Describe(typeof(HandRegisteredPlugin), "registered:tests");

        Assert.Null(described.Error);
        Assert.Equal("hand-registered", described.Descriptor!.Name);
        Assert.Same(typeof(HandRegisteredPlugin), described.Descriptor.PluginType);
        Assert.Null(described.Descriptor.AssemblyPath);
        // Scanning the whole assembly, as registering used to, reports the broken neighbour too.
        var errors = new List<string>();
        _ = PluginDiscovery.ScanAssembly(typeof(HandRegisteredPlugin).Assembly, "registered:tests", errors).ToList();
        Assert.Contains(errors, e => e.Contains(nameof(MetadataThrowsPlugin), StringComparison.Ordinal));
    }

    [Fact]
    public void Describing_a_broken_type_says_why()
    {
        var described = PluginDiscovery.Describe(typeof(MetadataThrowsPlugin), "registered:tests");

        Assert.Null(described.Descriptor);
        Assert.Equal(
            $"plugin type {typeof(MetadataThrowsPlugin).FullName} from registered:tests could not report its metadata: InvalidOperationException: no metadata today",
            described.Error);
    }

    [Fact]
    public void Describing_a_type_that_is_not_a_plugin_says_so()
    {
        var described = PluginDiscovery.Describe(typeof(string), "registered:tests");

        Assert.Null(described.Descriptor);
        Assert.Equal("System.String is not a plugin type (public, non-abstract, IPlugin, parameterless constructor)", described.Error);
    }
}
