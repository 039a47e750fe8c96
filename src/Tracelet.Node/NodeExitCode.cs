using Akka.Actor;

namespace Tracelet.Node;

/// <summary>The node process's exit codes (docs/operations.md, "Exit codes").</summary>
internal static class NodeExitCode
{
    /// <summary>Stopped cleanly (SIGINT/SIGTERM, or the actor system stopped by request).</summary>
    public const int Clean = 0;

    /// <summary>Configuration error: the message names file, line and key.</summary>
    public const int ConfigurationError = 2;

    /// <summary>Downed by the cluster (the split-brain resolver, or an operator's down): restart it to rejoin.</summary>
    public const int DownedByCluster = 3;

    private static CoordinatedShutdown? _shutdown;

    /// <summary>Remembers the actor system's shutdown, read after the host (and its services) are gone.</summary>
    public static void Watch(ActorSystem system) => _shutdown = CoordinatedShutdown.Get(system);

    /// <summary>
    /// The code for a host that has stopped: a node the cluster downed says so with its own code rather
    /// than the generic failure Akka.Hosting leaves when the actor system ends by itself.
    /// </summary>
    public static int AfterStop(int hostExitCode) =>
        _shutdown?.ShutdownReason is CoordinatedShutdown.ClusterDowningReason ? DownedByCluster : hostExitCode;
}
