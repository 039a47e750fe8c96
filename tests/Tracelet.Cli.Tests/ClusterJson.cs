using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tracelet.Cli.Tests;

/// <summary>Builds GET /status/cluster answers in the contract's shape (snake_case), one node at a time.</summary>
public sealed class ClusterJson
{
    private readonly JsonArray _nodes = [];

    public ClusterJson Node(string id, bool reachable = true, double secondsSinceSeen = 0.2, string memberStatus = "up", params JsonObject[] plugins)
    {
        _nodes.Add(new JsonObject
        {
            ["node"] = id,
            ["address"] = $"akka.tcp://tracelet@127.0.0.1:40{_nodes.Count}5",
            ["http"] = $"http://127.0.0.1:855{8 + _nodes.Count}",
            ["roles"] = new JsonArray("worker"),
            ["member_status"] = memberStatus,
            ["reachable"] = reachable,
            ["last_seen"] = "2026-11-26T16:59:59.900Z",
            ["seconds_since_seen"] = secondsSinceSeen,
            ["plugins"] = new JsonArray(plugins.Select(p => (JsonNode)p.DeepClone()).ToArray()),
            ["future_field"] = "ignored by readers",
        });
        return this;
    }

    public static JsonObject Collector(string name, string state = "active", string? error = null, int restarts = 0, long delivered = 10) => new()
    {
        ["name"] = name,
        ["type"] = "collector",
        ["version"] = "1.0.0",
        ["state"] = state,
        ["error"] = error,
        ["restarts"] = restarts,
        ["last_transition"] = "2026-11-26T16:50:00Z",
        ["buffer_fill"] = null,
        ["in_flight"] = 0,
        ["dropped"] = new JsonObject(),
        ["delivered"] = delivered,
    };

    public static JsonObject Backend(string name, string state = "active", string? error = null, long delivered = 100, long droppedOverflow = 0) => new()
    {
        ["name"] = name,
        ["type"] = "backend",
        ["version"] = "2.1.0",
        ["state"] = state,
        ["error"] = error,
        ["restarts"] = 0,
        ["last_transition"] = "2026-11-26T16:50:00Z",
        ["buffer_fill"] = 0.1,
        ["in_flight"] = 5,
        ["dropped"] = new JsonObject { ["overflow"] = droppedOverflow },
        ["delivered"] = delivered,
    };

    public string Build() => new JsonObject
    {
        ["node"] = _nodes.Count > 0 ? _nodes[0]!["node"]!.GetValue<string>() : "node-a",
        ["generated_at"] = "2026-11-26T17:00:00.123Z",
        ["nodes"] = _nodes.DeepClone(),
        ["summary"] = new JsonObject { ["nodes"] = _nodes.Count },
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
}
