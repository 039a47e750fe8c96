using System.Text.Json;
using Tracelet.Actors.Plugins;
using Tracelet.Actors.Status;

namespace Tracelet.Node.Http;

/// <summary>
/// GET /status/cluster as JSON, in the shape of the CLI contract (snake_case, ISO 8601 UTC). Each
/// plugin is its <see cref="PluginView"/> as <see cref="EdgeJson.Cluster"/> writes it.
/// </summary>
internal static class ClusterStatusJson
{
    public static JsonElement From(CurrentClusterStatus view)
    {
        var plugins = view.Nodes.SelectMany(n => n.Plugins).ToList();
        return JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["node"] = view.Node,
            ["generated_at"] = view.GeneratedAt,
            ["nodes"] = view.Nodes.Select(n => Node(n, view.GeneratedAt)).ToList(),
            ["summary"] = new Dictionary<string, object?>
            {
                ["nodes"] = view.Nodes.Length,
                ["reachable"] = view.Nodes.Count(n => n.Reachable),
                ["unreachable"] = view.Nodes.Count(n => !n.Reachable),
                ["plugins"] = plugins.Count,
                ["active"] = plugins.Count(p => p.State == PluginStatusState.Active),
                ["error"] = plugins.Count(p => p.State == PluginStatusState.Error),
                ["retrying"] = plugins.Count(p => p.State == PluginStatusState.Retrying),
                ["stopped"] = plugins.Count(p => p.State == PluginStatusState.Stopped),
                ["stuck"] = plugins.Count(p => p.Stuck is not null),
            },
        }, EdgeJson.Cluster);
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
        ["last_seen"] = n.LastSeen,
        ["seconds_since_seen"] = n.LastSeen is { } seen ? Math.Round(Math.Max(0, (now - seen).TotalSeconds), 3) : null,
        ["plugins"] = n.Plugins.IsDefault ? System.Collections.Immutable.ImmutableArray<PluginView>.Empty : n.Plugins,
    };

    /// <summary>The answer to POST /plugins/{name}/{action}?node=|?all=true.</summary>
    public static JsonElement Results(PluginControlResults results) => JsonSerializer.SerializeToElement(new Dictionary<string, object?>
    {
        ["results"] = results.Results.Select(r =>
        {
            var result = new Dictionary<string, object?>
            {
                ["node"] = r.Node,
                ["plugin"] = r.Plugin,
                ["ok"] = r.Ok,
                ["state"] = r.State,
                ["error"] = r.Error,
                ["timed_out"] = r.TimedOut,
            };
            if (r.Detail is not null) result["detail"] = r.Detail;
            if (r.Cascaded is { IsDefaultOrEmpty: false } cascaded) result["cascaded"] = cascaded;
            return result;
        }).ToList(),
    }, EdgeJson.Cluster);
}
