using System.Text.Json.Serialization;

namespace Tracelet.Cli.Api;

// The JSON of GET /status/cluster (docs/cli.md): snake_case keys, unknown fields ignored.

/// <summary>Every node of the cluster as the answering node sees it.</summary>
public sealed record ClusterStatus
{
    public string? Node { get; init; }
    public DateTimeOffset? GeneratedAt { get; init; }
    public IReadOnlyList<NodeStatus> Nodes { get; init; } = [];
    public ClusterSummary? Summary { get; init; }
}

/// <summary>One node: membership, reachability and its plugins.</summary>
public sealed record NodeStatus
{
    public string Node { get; init; } = "";
    public string? Address { get; init; }
    public string? Http { get; init; }
    public IReadOnlyList<string>? Roles { get; init; }
    public string? MemberStatus { get; init; }
    public bool Reachable { get; init; } = true;
    public DateTimeOffset? LastSeen { get; init; }
    public double? SecondsSinceSeen { get; init; }
    public IReadOnlyList<PluginStatus> Plugins { get; init; } = [];
}

/// <summary>One plugin on one node.</summary>
public sealed record PluginStatus
{
    public string Name { get; init; } = "";
    public string? Type { get; init; }
    public string? Version { get; init; }
    public string? State { get; init; }
    public string? Error { get; init; }
    public int Restarts { get; init; }
    public DateTimeOffset? LastTransition { get; init; }
    public double? BufferFill { get; init; }
    public long? InFlight { get; init; }
    public IReadOnlyDictionary<string, long>? Dropped { get; init; }
    public long? Delivered { get; init; }
    public PluginRetry? Retry { get; init; }
    public string? UpdateAvailable { get; init; }
    public PluginStuck? Stuck { get; init; }
}

/// <summary>A plugin call running past its node's call timeout: which call, since when.</summary>
public sealed record PluginStuck
{
    public string? Call { get; init; }
    public DateTimeOffset? Since { get; init; }
}

/// <summary>A failed plugin its node will try again (state "retrying").</summary>
public sealed record PluginRetry
{
    public DateTimeOffset NextAttemptAt { get; init; }
    public int Attempt { get; init; }
    public string? LastError { get; init; }
}

/// <summary>The server's counts; the CLI recomputes its own from the nodes.</summary>
public sealed record ClusterSummary
{
    public int Nodes { get; init; }
    public int Reachable { get; init; }
    public int Unreachable { get; init; }
    public int Plugins { get; init; }
    public int Active { get; init; }
    public int Error { get; init; }
    public int Retrying { get; init; }
    public int Stopped { get; init; }
}

/// <summary>The answer to POST /plugins/{name}/{action}?node=|all=.</summary>
public sealed record PluginActionResults
{
    public IReadOnlyList<PluginActionResult>? Results { get; init; }
}

/// <summary>One node's outcome of a routed plugin operation.</summary>
public sealed record PluginActionResult
{
    public string Node { get; init; } = "";
    public string Plugin { get; init; } = "";
    public bool Ok { get; init; }
    public string? State { get; init; }
    public string? Error { get; init; }
    public string? Detail { get; init; }
    public IReadOnlyList<string>? Cascaded { get; init; }
}

/// <summary>The single-node answer of POST /plugins/{name}/{action} without node or all.</summary>
public sealed record LocalPluginActionResult
{
    public string? Node { get; init; }
    public string? Plugin { get; init; }
    public string? State { get; init; }
    public string? Error { get; init; }
    public string? Detail { get; init; }
    public IReadOnlyList<string>? Cascaded { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ClusterStatus))]
[JsonSerializable(typeof(PluginActionResults))]
[JsonSerializable(typeof(LocalPluginActionResult))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonObject))]
internal sealed partial class ContractJson : JsonSerializerContext;
