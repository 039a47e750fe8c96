using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;

namespace Tracelet.Cluster.Tests;

/// <summary>
/// One Tracelet node inside the test process: an ActorSystem named "tracelet" on 127.0.0.1 with
/// a port the OS picks, its own data directory (SQLite journal and durable outbox), a
/// PluginManager that discovers the plugins of this test assembly, and the node's pipeline.
/// Several of them joined by hand form a real cluster over loopback remoting.
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    private readonly TraceletRuntime _runtime;

    private ClusterNode(string nodeId, string dataDirectory, ActorSystem system, TraceletRuntime runtime, IActorRef status)
    {
        Status = status;
        NodeId = nodeId;
        DataDirectory = dataDirectory;
        System = system;
        _runtime = runtime;
    }

    public string NodeId { get; }

    public string DataDirectory { get; }

    public ActorSystem System { get; }

    public IActorRef Manager => _runtime.PluginManager;

    public IActorRef Pipeline => _runtime.Pipeline;

    /// <summary>The node's cluster status view (at /user/cluster-status, as in the node executable).</summary>
    public IActorRef Status { get; }

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);

    /// <param name="extraHocon">Overrides for this node (plugin pipeline sections, pipeline timings...); they win over the defaults above.</param>
    /// <param name="dataDirectory">Reuse a data directory (a node coming back after a stop); default: a fresh one.</param>
    public static ClusterNode Start(string nodeId, string? extraHocon = null, string? dataDirectory = null)
    {
        var dir = dataDirectory ?? Directory.CreateTempSubdirectory($"tracelet-cluster-{nodeId}-").FullName;
        var hocon = $$"""
            tracelet {
              node-id = {{TraceletConfigLoader.Quote(nodeId)}}
              data-dir = {{TraceletConfigLoader.Quote(dir)}}
              discovery { built-in-assemblies = [], user-directory = off, environment-variable = off }
              plugin-manager {
                status-interval = 100ms
                operation-timeout = 20s
                supervision { min-backoff = 100ms, max-backoff = 1s, random-factor = 0, max-restarts = 1000, within = 60s }
              }
              pipeline {
                announce-interval = 200ms
                backend-timeout = 3s
                ack-timeout = 1s
                flush-timeout = 3s
                # Off unless a test asks: its samples would add to the exact counts the tests check.
                self-telemetry-interval = 0s
              }
              status { publish-interval = 200ms, refresh-interval = 1s, stale-after = 5s }
            }
            {{Tracelet.Testing.LoopbackCluster.Hocon}}
            akka.loglevel = WARNING
            {{extraHocon ?? ""}}
            """;
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(TraceletConfigLoader.ReferenceConfig());
        var settings = TraceletSettings.Create(config);
        var system = ActorSystem.Create("tracelet", TraceletRuntime.SystemConfig(settings, config));
        var discover = () => PluginDiscovery.Discover(settings.Discovery, ImmutableDictionary<string, string>.Empty, [typeof(SequenceCollector).Assembly]);
        // Unsupervised and not stopped by Terminate(): a terminated node is one that crashed, as under SIGKILL.
        var runtime = TraceletRuntime.Start(system, settings, discover, new TraceletRuntimeOptions { SuperviseManager = false, StopOnShutdown = false });
        var status = system.ActorOf(Tracelet.Actors.Status.ClusterStatusActor.Props(nodeId, null, Tracelet.Actors.Status.StatusSettings.Create(config), runtime.PluginManager, runtime.Pipeline), Tracelet.Actors.Status.ClusterStatusActor.Name);
        return new ClusterNode(nodeId, dir, system, runtime, status);
    }

    /// <summary>Joins <paramref name="seed"/> (itself when null) and waits until this node is Up.</summary>
    public async Task JoinAsync(ClusterNode? seed)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Cluster.JoinAsync((seed ?? this).Cluster.SelfAddress, cts.Token);
    }

    public async Task<T> AskAsync<T>(object message, TimeSpan? timeout = null) =>
        await Manager.Ask<T>(message, timeout ?? TimeSpan.FromSeconds(30));

    public async Task<CurrentPipelineStatus> PipelineStatusAsync() =>
        await Pipeline.Ask<CurrentPipelineStatus>(GetPipelineStatus.Instance, TimeSpan.FromSeconds(10));

    public async Task<NodePluginStatus> StatusAsync() =>
        (await Manager.Ask<CurrentPluginStatus>(GetPluginStatus.Instance, TimeSpan.FromSeconds(10))).Status;

    /// <summary>Initializes (with <paramref name="configJson"/>) and starts a plugin; throws when either fails.</summary>
    public async Task StartPluginAsync(string name, string configJson = "{}")
    {
        for (var attempt = 0; ; attempt++)
        {
            var status = await StatusAsync();
            if (status.Ready) break;
            if (attempt > 200) throw new TimeoutException($"{NodeId}: the PluginManager never became ready");
            await Task.Delay(50);
        }
        var init = await AskAsync<PluginOperationResult>(new InitializePlugin(name, Abstractions.PluginConfig.Parse(configJson)));
        if (init is PluginOperationFailed f1) throw new InvalidOperationException($"{NodeId}: initialize {name}: {f1.Reason}");
        var start = await AskAsync<PluginOperationResult>(new StartPlugin(name));
        if (start is PluginOperationFailed f2) throw new InvalidOperationException($"{NodeId}: start {name}: {f2.Reason}");
    }

    /// <summary>Leaves the cluster and stops, as Ctrl-C does: the pipeline flushes, plugins stop, the node leaves.</summary>
    public async Task StopAsync()
    {
        if (System.WhenTerminated.IsCompleted) return;
        var stopped = await _runtime.StopAsync();
        if (!stopped.Completed) throw new TimeoutException($"{NodeId}: the runtime did not stop in time: {stopped}");
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
    }

    public async ValueTask DisposeAsync()
    {
        if (!System.WhenTerminated.IsCompleted) await System.Terminate();
    }

    public void DeleteData()
    {
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open for a moment: the OS cleans temp folders.
        }
    }
}
