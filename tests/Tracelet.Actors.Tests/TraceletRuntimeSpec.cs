using Akka.Actor;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests;

/// <summary>
/// The runtime embedded in a plain ActorSystem (no Akka.Hosting) with <see cref="TraceletRuntime.SystemConfig"/>
/// and <see cref="TraceletRuntime.Start"/>, as an integrator would.
/// </summary>
public sealed class TraceletRuntimeSpec : PluginManagerSpecBase
{
    public TraceletRuntimeSpec(ITestOutputHelper output) : base(TestNode.Create(), "tracelet-runtime-spec", output)
    {
    }

    [Fact]
    public async Task One_call_in_a_plain_ActorSystem_brings_an_enabled_plugin_to_active_with_its_status_and_StopAsync_stops_it()
    {
        var settings = Node.CreateSettings("""
            tracelet.plugins.test-counter { enabled = on, config { interval = 50ms, value = 7 } }
            """);
        var system = ActorSystem.Create("embedded", TraceletRuntime.SystemConfig(settings));
        try
        {
            var runtime = TraceletRuntime.Start(system, settings, Node.Discover);

            var entry = AwaitPlugin(runtime.PluginManager, CountingCollector.PluginName, e =>
            {
                Assert.Equal(PluginStatusState.Active, e.State);
                Assert.True(Number(e.Status, "collections") >= 2, "the collector has not collected twice yet");
            }, system);
            Assert.Equal(7.0, Convert.ToDouble(entry.Status!["value"], System.Globalization.CultureInfo.InvariantCulture));
            var pipeline = Ask<CurrentPipelineStatus>(runtime.Pipeline, GetPipelineStatus.Instance, system);
            Assert.Equal(settings.NodeId, pipeline.Node);

            var stopped = await runtime.StopAsync();

            Assert.True(stopped.Completed, $"the runtime did not stop in time: {stopped}");
            Assert.Null(Status(runtime.PluginManager, system).Plugins[CountingCollector.PluginName].Status);
            Assert.Same(runtime.StopAsync(), runtime.StopAsync());
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task Start_on_a_system_without_the_runtime_config_is_refused_naming_SystemConfig()
    {
        var system = ActorSystem.Create("bare");
        try
        {
            var refused = Assert.Throws<ArgumentException>(() => TraceletRuntime.Start(system, Node.Settings, Node.Discover));
            Assert.Contains("TraceletRuntime.SystemConfig", refused.Message);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
