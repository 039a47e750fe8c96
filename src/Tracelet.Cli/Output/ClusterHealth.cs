using Tracelet.Cli.Api;

namespace Tracelet.Cli.Output;

/// <summary>What the exit code of status and watch is made of (docs/cli.md, "Exit codes").</summary>
internal static class ClusterHealth
{
    /// <summary>
    /// A plugin counts against health when it is in error, retrying after a failure (not running, even
    /// if it may come back by itself), or on its way to active (loaded, validated, initialized).
    /// Discovered (never enabled) and stopped (an operator's choice) do not count; neither do states
    /// this CLI does not know, so that a newer node's states never fail old scripts. A plugin with a
    /// call stuck past its node's call timeout counts in any state: "active" says nothing while it hangs.
    /// </summary>
    public static bool IsUnhealthy(PluginStatus plugin) =>
        plugin.State is "error" or "retrying" or "loaded" or "validated" or "initialized" || plugin.Stuck is not null;

    public static int ExitCode(ClusterStatus status) =>
        status.Nodes.Any(n => !n.Reachable || n.Plugins.Any(IsUnhealthy)) ? ExitCodes.Unhealthy : ExitCodes.Ok;
}
