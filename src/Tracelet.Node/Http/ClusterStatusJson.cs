using Tracelet.Actors.Status;

namespace Tracelet.Node.Http;

/// <summary>GET /status/cluster as JSON, in the shape of the CLI contract (snake_case, ISO 8601 UTC).</summary>
internal static class ClusterStatusJson
{
    public static Dictionary<string, object?> From(CurrentClusterStatus view)
    {
        var plugins = view.Nodes.SelectMany(n => n.Plugins).ToList();
        return new Dictionary<string, object?>
        {
            ["node"] = view.Node,
            ["generated_at"] = view.GeneratedAt.UtcDateTime,
            ["nodes"] = view.Nodes.Select(n => Node(n, view.GeneratedAt)).ToList(),
            ["summary"] = new Dictionary<string, object?>
            {
                ["nodes"] = view.Nodes.Length,
                ["reachable"] = view.Nodes.Count(n => n.Reachable),
                ["unreachable"] = view.Nodes.Count(n => !n.Reachable),
                ["plugins"] = plugins.Count,
                ["active"] = plugins.Count(p => p.State == "active"),
                ["error"] = plugins.Count(p => p.State == "error"),
                ["stopped"] = plugins.Count(p => p.State == "stopped"),
            },
        };
    }

    private static Dictionary<string, object?> Node(NodeView n, DateTimeOffset now) => new()
    {
        ["node"] = n.Node,
        ["address"] = n.Address,
        ["http"] = n.Http,
        ["roles"] = n.Roles.IsDefault ? System.Collections.Immutable.ImmutableArray<string>.Empty : n.Roles,
        ["member_status"] = n.MemberStatus,
        ["reachable"] = n.Reachable,
        ["stale"] = n.Stale,
        ["last_seen"] = n.LastSeen?.UtcDateTime,
        ["seconds_since_seen"] = n.LastSeen is { } seen ? Math.Round(Math.Max(0, (now - seen).TotalSeconds), 3) : null,
        ["plugins"] = n.Plugins.Select(Plugin).ToList(),
    };

    private static Dictionary<string, object?> Plugin(PluginView p) => new()
    {
        ["name"] = p.Name,
        ["type"] = p.Type,
        ["version"] = p.Version,
        ["state"] = p.State,
        ["error"] = p.Error,
        ["restarts"] = p.Restarts,
        ["last_transition"] = p.LastTransition?.UtcDateTime,
        ["buffer_fill"] = p.BufferFill,
        ["in_flight"] = p.InFlight,
        ["dropped"] = p.Dropped,
        ["delivered"] = p.Delivered,
    };

    /// <summary>The answer to POST /plugins/{name}/{action}?node=|?all=true.</summary>
    public static Dictionary<string, object?> Results(PluginControlResults results) => new()
    {
        ["results"] = results.Results.Select(r => new Dictionary<string, object?>
        {
            ["node"] = r.Node,
            ["plugin"] = r.Plugin,
            ["ok"] = r.Ok,
            ["state"] = r.State,
            ["error"] = r.Error,
            ["timed_out"] = r.TimedOut,
        }).ToList(),
    };
}
