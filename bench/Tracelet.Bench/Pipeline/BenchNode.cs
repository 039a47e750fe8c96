using Akka.Actor;
using Akka.Configuration;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;

namespace Tracelet.Bench.Pipeline;

/// <summary>
/// One Tracelet node inside the bench process, configured as the cluster tests configure theirs
/// (tests/Tracelet.Cluster.Tests/ClusterNode.cs): an ActorSystem named "tracelet" with the
/// cluster provider on 127.0.0.1 and a port the OS picks, Tracelet's reference.conf (which binds
/// the pipeline's binary serializer), and the node's pipeline made by
/// <see cref="PluginManagerActor.PipelineProps"/>. No PluginManager: the benchmark registers its
/// own inbox actors with the pipeline, as a backend's plugin actor does.
/// </summary>
internal sealed class BenchNode
{
    private BenchNode(string nodeId, ActorSystem system, IActorRef pipeline, TraceletSettings settings)
    {
        NodeId = nodeId;
        System = system;
        Pipeline = pipeline;
        Settings = settings;
    }

    public string NodeId { get; }

    public ActorSystem System { get; }

    public IActorRef Pipeline { get; }

    public TraceletSettings Settings { get; }

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);

    /// <param name="link">The link defaults every backend of this node announces (window and buffer).</param>
    public static BenchNode Start(string nodeId, string dataDirectory, LinkSettings link)
    {
        var hocon = $$"""
            {{BenchLogger.Hocon}}
            tracelet {
              node-id = {{TraceletConfigLoader.Quote(nodeId)}}
              data-dir = {{TraceletConfigLoader.Quote(dataDirectory)}}
              pipeline {
                announce-interval = 500ms
                self-telemetry-interval = 0s
                defaults {
                  overflow = drop-oldest
                  window-samples = {{link.WindowSamples}}
                  buffer-samples = {{link.BufferSamples}}
                  buffer-bytes = {{link.BufferBytes}}
                }
              }
            }
            {{Tracelet.Testing.LoopbackCluster.Hocon}}
            akka.log-dead-letters = 0
            """;
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(TraceletConfigLoader.ReferenceConfig());
        var settings = TraceletSettings.Create(config);
        var system = ActorSystem.Create("tracelet", config);
        try
        {
            var pipeline = system.ActorOf(PluginManagerActor.PipelineProps(settings), "pipeline");
            return new BenchNode(nodeId, system, pipeline, settings);
        }
        catch
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            throw;
        }
    }

    /// <summary>Joins <paramref name="seed"/> (itself when null) and waits until this node is Up.</summary>
    public async Task JoinAsync(BenchNode? seed, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await Cluster.JoinAsync((seed ?? this).Cluster.SelfAddress, timeout.Token);
    }

    public async Task<CurrentPipelineStatus> StatusAsync(CancellationToken ct) =>
        await Pipeline.Ask<CurrentPipelineStatus>(GetPipelineStatus.Instance, TimeSpan.FromSeconds(10), ct);

    /// <summary>This node's link to <paramref name="backend"/> on <paramref name="backendNode"/>, once it is up.</summary>
    public async Task<LinkStatus> WaitForLinkAsync(string backend, string backendNode, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var link = (await StatusAsync(ct)).Links.FirstOrDefault(l => l.Backend == backend && l.BackendNode == backendNode);
            if (link is { State: "up" }) return link;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{NodeId}: no link to {backend}@{backendNode} came up within 30 s (last state: {link?.State ?? "none"})");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Terminates the actor system, waiting at most 15 s.</summary>
    public async Task TerminateAsync()
    {
        var terminated = System.Terminate();
        await Task.WhenAny(terminated, Task.Delay(TimeSpan.FromSeconds(15)));
    }

    /// <summary>Mailbox depth of a local actor (0 when it cannot be read).</summary>
    public static int MailboxDepth(IActorRef actor) =>
        actor is ActorRefWithCell { Underlying: ActorCell cell } ? cell.NumberOfMessages : 0;
}
