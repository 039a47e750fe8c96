using System.CommandLine;
using System.Net;
using System.Text.Json;
using Tracelet.Cli.Api;
using Tracelet.Cli.Output;

namespace Tracelet.Cli.Commands;

/// <summary><c>tracelet plugin start|stop|restart|upgrade NAME [--node ID | --all]</c>: POST /plugins/{name}/{action}.</summary>
internal static class PluginActionCommand
{
    /// <summary>A node waits up to 60 s for its PluginManager (routed commands 35 s): wait a little longer.</summary>
    private static readonly TimeSpan PluginCommandTimeout = TimeSpan.FromSeconds(65);

    public static Command Create(CommonOptions common)
    {
        var plugin = new Command("plugin", "Start, stop, restart or upgrade a plugin on the node, on another node (--node) or on every node (--all).");
        foreach (var (action, description) in new[]
                 {
                     ("start", "Start a plugin (and the plugins it depends on)"),
                     ("stop", "Stop a plugin (and the active plugins that depend on it)"),
                     ("restart", "Restart a plugin"),
                     ("upgrade", "Load the current file of a folder plugin's assembly and swap the running version for it; a failed upgrade keeps the running version"),
                 })
            plugin.Subcommands.Add(CreateAction(common, action, description));
        return plugin;
    }

    private static Command CreateAction(CommonOptions common, string action, string description)
    {
        var name = new Argument<string>("NAME") { Description = "The plugin's name, as in tracelet status" };
        // An unknown flag in the place of NAME would otherwise be taken for a plugin's name and sent to the node.
        name.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is ['-', ..] flag) r.AddError($"Unrecognized command or argument '{flag}'.");
        });
        var node = new Option<string?>("--node") { Description = "The id of the node to act on (routed through the cluster by the node at --url)" };
        var all = new Option<bool>("--all") { Description = "Act on every reachable node that knows the plugin" };
        var command = new Command(action, $"{description}; the change is persisted on the node like any transition.") { name, node, all, common.Json };
        var noCascade = new Option<bool>("--no-cascade") { Description = "Refuse the stop while plugins that depend on this one run, instead of stopping them first" };
        if (action == "stop") command.Options.Add(noCascade);
        command.Validators.Add(result =>
        {
            if (result.GetValue(node) is not null && result.GetValue(all)) result.AddError("--node and --all exclude each other");
        });
        command.SetAction(async (result, ct) =>
        {
            var plugin = result.GetValue(name)!;
            var target = result.GetValue(node);
            var everywhere = result.GetValue(all);
            using var client = common.Client(result, commandTimeout: PluginCommandTimeout);

            var query = "";
            if (target is not null || everywhere)
            {
                // A node from before the cluster API ignores ?node= and would act on itself: refuse instead.
                if (!await client.KnowsClusterAsync(ct))
                    throw new CliFailureException(ExitCodes.UsageOrConnection,
                        $"the node at {client.BaseUrl} cannot route commands to other nodes (it has no /status/cluster); use --url with the target node's own API");
                query = target is not null ? "?node=" + Uri.EscapeDataString(target) : "?all=true";
            }
            if (action == "stop" && result.GetValue(noCascade)) query += (query.Length == 0 ? "?" : "&") + "cascade=false";

            var (code, json, body) = await client.PostPluginActionAsync(plugin, action, query, ct);
            // The node's own answer has no node id: ask for it, so that NODE says the id as with --node, not the URL.
            var self = query.StartsWith("?node=", StringComparison.Ordinal) || query.StartsWith("?all=", StringComparison.Ordinal)
                ? null
                : await client.GetOwnNodeIdAsync(ct);
            return Report(common, result, self ?? client.BaseUrl, plugin, action, code, json, body, client.BaseUrl);
        });
        return command;
    }

    private static int Report(CommonOptions common, ParseResult parse, string self, string plugin, string action, HttpStatusCode code, JsonElement? json, string body,
        string url)
    {
        var output = common.Environment.Out;
        var error = common.Environment.Error;
        var results = Results(json, self);

        if (code == HttpStatusCode.NotFound)
        {
            // Unknown node id or plugin: nothing was done, the command named something that is not there.
            var reason = json is { ValueKind: JsonValueKind.Object } j && j.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String
                ? e.GetString()
                : results?.FirstOrDefault(r => r.Error is not null)?.Error ?? body.Trim();
            throw new CliFailureException(ExitCodes.UsageOrConnection, $"{action} {plugin}: not found: {reason}");
        }
        if (results is null || (int)code is not (200 or 409 or 504))
            throw new CliFailureException(ExitCodes.UsageOrConnection,
                $"POST {url}/plugins/{plugin}/{action} answered {(int)code} {code}: {body.Trim()}");

        if (parse.GetValue(common.Json) && json is { } raw)
        {
            JsonOutput.Write(output, raw);
        }
        else
        {
            var ansi = common.Ansi(parse);
            var table = new TextTable("NODE", "PLUGIN", "RESULT", "STATE", "ERROR", "DETAIL");
            foreach (var r in results.OrderBy(r => r.Node, StringComparer.Ordinal))
                table.Add(r.Node, r.Plugin, r.Ok ? ansi.Green("ok") : ansi.Red("failed"), StatusView.State(r.State, ansi),
                    r.Error is { } text ? ansi.Red(text.ReplaceLineEndings(" ")) : "", Detail(action, r));
            table.WriteTo(output, "");
        }
        var failed = results.Count(r => !r.Ok);
        if (code == HttpStatusCode.GatewayTimeout) error.WriteLine($"{action} {plugin}: some node did not answer in time");
        if (failed > 0 || code != HttpStatusCode.OK)
        {
            error.WriteLine($"{action} {plugin}: failed on {failed} of {results.Count} node(s)");
            return ExitCodes.Unhealthy;
        }
        return ExitCodes.Ok;
    }

    /// <summary>What the node said besides the state, and the other plugins the command moved with it.</summary>
    private static string Detail(string action, PluginActionResult r)
    {
        var parts = new List<string>();
        if (r.Detail is { } detail) parts.Add(detail.ReplaceLineEndings(" "));
        if (r.Cascaded is { Count: > 0 } cascaded) parts.Add($"{(action == "stop" ? "also stopped" : "also started")}: {string.Join(", ", cascaded)}");
        return string.Join("; ", parts);
    }

    /// <summary>The per-node results: the routed form, or the node's own single answer as one row.</summary>
    private static IReadOnlyList<PluginActionResult>? Results(JsonElement? json, string self)
    {
        if (json is not { ValueKind: JsonValueKind.Object } root) return null;
        try
        {
            if (root.TryGetProperty("results", out _))
                return root.Deserialize(ContractJson.Default.PluginActionResults)?.Results;
            var local = root.Deserialize(ContractJson.Default.LocalPluginActionResult);
            return local is null
                ? null
                : [new PluginActionResult
                {
                    Node = local.Node ?? self, Plugin = local.Plugin ?? "?", Ok = local.Error is null, State = local.State, Error = local.Error,
                    Detail = local.Detail, Cascaded = local.Cascaded,
                }];
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
