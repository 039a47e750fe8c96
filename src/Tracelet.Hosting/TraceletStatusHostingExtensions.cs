using Akka.Actor;
using Akka.Hosting;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;
using Tracelet.Actors.Status;

namespace Tracelet.Hosting;

/// <summary>Akka.Hosting extension that adds the cluster status view (GET /status/cluster, remote control).</summary>
public static class TraceletStatusHostingExtensions
{
    /// <summary>
    /// Adds the node's <see cref="ClusterStatusActor"/> at <c>/user/cluster-status</c> (where other nodes
    /// address remote control) and registers it as <see cref="ClusterStatusActor"/>. Call after
    /// <see cref="TraceletHostingExtensions.WithTracelet"/>, whose PluginManager and pipeline it reads.
    /// </summary>
    /// <param name="builder">The Akka builder.</param>
    /// <param name="config">The loaded configuration (tracelet.status).</param>
    /// <param name="settings">The node's settings (node id).</param>
    /// <param name="httpUrl">This node's status API as other nodes' operators reach it, or null.</param>
    public static AkkaConfigurationBuilder WithTraceletClusterStatus(
        this AkkaConfigurationBuilder builder,
        LoadedConfig config,
        TraceletSettings settings,
        string? httpUrl)
    {
        var status = StatusSettings.Create(config);
        builder.WithActors((system, registry) =>
        {
            var actor = system.ActorOf(
                ClusterStatusActor.Props(settings.NodeId, httpUrl, status, registry.Get<PluginManagerActor>(), registry.Get<TraceletPipeline>()),
                ClusterStatusActor.Name);
            registry.Register<ClusterStatusActor>(actor);
        });
        return builder;
    }
}
