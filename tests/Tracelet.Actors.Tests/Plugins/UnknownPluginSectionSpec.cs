using Tracelet.Actors.Plugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>A section for a plugin the node does not have is a misspelling until shown otherwise: it is named, not ignored.</summary>
[Trait("Category", "PluginManager")]
public sealed class UnknownPluginSectionSpec : PluginManagerSpecBase
{
    public UnknownPluginSectionSpec(ITestOutputHelper output) : base(TestNode.Create(), "unknown-plugin-section-spec", output)
    {
    }

    [Fact]
    public void A_section_for_a_plugin_that_was_not_discovered_is_a_discovery_error_in_status()
    {
        var manager = StartManager(Node.CreateSettings("tracelet.plugins.nosuchplugin { enabled = on }"));

        var status = AwaitReady(manager);

        Assert.Equal("tracelet.plugins.nosuchplugin (in configuration): no plugin named 'nosuchplugin' was discovered", Assert.Single(status.DiscoveryErrors));
        Assert.DoesNotContain("nosuchplugin", status.Plugins.Keys);
    }
}
