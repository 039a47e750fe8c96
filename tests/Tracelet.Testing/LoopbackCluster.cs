namespace Tracelet.Testing;

/// <summary>
/// The Akka settings of a test or bench node that forms a real cluster with others in the same
/// process: cluster provider on 127.0.0.1 with a port the OS picks (nodes are joined by hand),
/// fast pub-sub gossip so pipeline announcements spread quickly, no downing (nodes leave on
/// purpose), and no CLR shutdown hook (the process hosts several nodes).
/// </summary>
public static class LoopbackCluster
{
    public const string Hocon = """
        akka {
          actor.provider = cluster
          remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
          cluster {
            pub-sub.gossip-interval = 200ms
            pub-sub.send-to-dead-letters-when-no-subscribers = off
            downing-provider-class = ""
          }
          coordinated-shutdown.run-by-clr-shutdown-hook = off
        }
        """;
}
