using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Hosting;
using Tracelet.Node.Console;
using Tracelet.Node.Http;

namespace Tracelet.Node;

/// <summary>Builds the node: generic host, Kestrel on the status port, the actor system with Tracelet.</summary>
internal sealed class NodeHost
{
    public static WebApplication Build(LoadedConfig config, IReadOnlyDictionary<string, string> environment)
    {
        var settings = TraceletSettings.Create(config);
        var node = NodeSettings.Create(config);
        StartupChecks.EnsureWritable(settings.DataDirectory, settings.Persistence.Provider == PersistenceProvider.Sqlite ? settings.SqliteFile : null);
        StartupChecks.EnsureListenable(node.HttpHostname, node.HttpPort);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://{node.HttpHostname}:{node.HttpPort}");
        builder.Services.AddSingleton(node);
        builder.Services.AddSingleton(settings);
        builder.Services.AddHostedService<ConsoleStatusService>();
        builder.Services.AddAkka("tracelet", (akka, _) =>
        {
            // The node's timers are seconds apart; Akka's default 10 ms scheduler tick alone cost an idle node
            // ~3 % of a core (docs/benchmarks.md, collectors). A fallback: a config file may set it back.
            akka.AddHocon("akka.scheduler.tick-duration = 100ms", HoconAddMode.Append);
            akka.WithRemoting(node.ClusterHostname, node.ClusterPort)
                .WithClustering(new ClusterOptions { SeedNodes = [.. node.SeedNodes], Roles = [.. node.Roles] })
                .WithTracelet(config, settings, environment)
                .WithTraceletClusterStatus(config, settings, node.HttpUrl);
            akka.AddStartup((system, _) =>
            {
                NodeExitCode.Watch(system);
                system.ActorOf(QuarantineWatcherActor.Props(), "quarantine-watcher");
                system.ActorOf(PluginStopLinesActor.Props(() => System.Console.Out), "plugin-stop-lines");
            });
            if (node.SeedNodes.IsEmpty)
            {
                // No seeds: a single-node cluster that joins itself.
                akka.AddStartup((system, _) => Cluster.Get(system).Join(Cluster.Get(system).SelfAddress));
            }
        });

        var app = builder.Build();
        BearerTokenGuard.Use(app, node);
        StatusEndpoints.Map(app);
        QueryEndpoints.Map(app);
        MetricsEndpoint.Map(app, settings);
        return app;
    }
}
