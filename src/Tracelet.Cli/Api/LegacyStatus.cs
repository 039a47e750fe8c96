using System.Text.Json;

namespace Tracelet.Cli.Api;

/// <summary>
/// Reads a node's own GET /status (the Python Tracelet's shape: plugins{name: {state, type, ...}})
/// into the cluster shape, for nodes older than GET /status/cluster.
/// </summary>
internal static class LegacyStatus
{
    public static ClusterStatus ToCluster(JsonElement root, string url)
    {
        var nodeId = root.TryGetProperty("node", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : url;
        var plugins = new List<PluginStatus>();
        if (root.TryGetProperty("plugins", out var map) && map.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in map.EnumerateObject())
            {
                var type = String(p.Value, "type");
                plugins.Add(new PluginStatus
                {
                    Name = p.Name,
                    Type = type,
                    Version = String(p.Value, "version"),
                    State = String(p.Value, "state"),
                    Error = String(p.Value, "error"),
                    Restarts = p.Value.TryGetProperty("restarts", out var r) && r.TryGetInt32(out var restarts) ? restarts : 0,
                    LastTransition = p.Value.TryGetProperty("last_transition", out var t) && t.ValueKind == JsonValueKind.String && t.TryGetDateTimeOffset(out var at) ? at : null,
                    // The runtime counts what a collector produced and what a backend wrote: the contract's "delivered".
                    Delivered = p.Value.TryGetProperty("runtime", out var rt) && rt.ValueKind == JsonValueKind.Object
                        && rt.TryGetProperty(type == "backend" ? "samples_written" : "samples_produced", out var d) && d.TryGetInt64(out var delivered)
                        ? delivered : null,
                    Retry = p.Value.TryGetProperty("retry", out var retry) && retry.ValueKind == JsonValueKind.Object
                        && retry.TryGetProperty("next_attempt_at", out var next) && next.TryGetDateTimeOffset(out var nextAt)
                        ? new PluginRetry
                        {
                            NextAttemptAt = nextAt,
                            Attempt = retry.TryGetProperty("attempt", out var a) && a.TryGetInt32(out var attempt) ? attempt : 0,
                            LastError = String(retry, "last_error"),
                        }
                        : null,
                    UpdateAvailable = String(p.Value, "update_available"),
                });
            }
        }
        return new ClusterStatus
        {
            Node = nodeId,
            GeneratedAt = DateTimeOffset.UtcNow,
            Nodes = [new NodeStatus { Node = nodeId, Http = url, MemberStatus = null, Reachable = true, Plugins = plugins }],
        };
    }

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
