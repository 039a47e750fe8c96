using System.CommandLine;
using System.Text.Json;
using Tracelet.Cli.Api;
using Tracelet.Cli.Output;

namespace Tracelet.Cli.Commands;

/// <summary><c>tracelet status [--node URL|ID] [--json]</c>: every node's plugins, from GET /status/cluster.</summary>
internal static class StatusCommand
{
    /// <summary>Shared with watch: a URL talks to that node, anything else shows only the node with that id.</summary>
    public static Option<string?> NodeOption() => new("--node")
    {
        Description = "A node URL (http://host:8558 or host:port) to ask, as --url; or a node id to show only that node",
    };

    public static Command Create(CommonOptions common)
    {
        var node = NodeOption();
        var command = new Command("status", "Show every node of the cluster: its plugins, their states, restarts, samples delivered and dropped, and errors.")
        {
            node, common.Json,
        };
        command.SetAction(async (result, ct) =>
        {
            var (status, json) = await FetchAsync(common, result, node, ct);
            var output = common.Environment.Out;
            if (result.GetValue(common.Json)) JsonOutput.Write(output, json);
            else StatusView.Write(output, status, common.Ansi(result));
            return ClusterHealth.ExitCode(status);
        });
        return command;
    }

    /// <summary>The status, narrowed to one node when --node names a node id.</summary>
    public static async Task<(ClusterStatus Status, JsonElement Json)> FetchAsync(CommonOptions common, ParseResult result, Option<string?> nodeOption, CancellationToken ct)
    {
        var node = result.GetValue(nodeOption);
        var asUrl = node is not null && CommonOptions.LooksLikeUrl(node);
        using var client = common.Client(result, asUrl ? node : null);
        var (status, json) = await client.GetClusterStatusAsync(ct);
        if (node is null || asUrl) return (status, json);

        var only = status.Nodes.Where(n => n.Node == node).ToList();
        if (only.Count == 0)
            throw new CliFailureException(ExitCodes.UsageOrConnection,
                $"no node '{node}' in the cluster view of {client.BaseUrl} (nodes: {string.Join(", ", status.Nodes.Select(n => n.Node))})");
        var narrowed = status with { Nodes = only, Summary = null };
        return (narrowed, JsonSerializer.SerializeToElement(narrowed, ContractJson.Default.ClusterStatus));
    }

}
