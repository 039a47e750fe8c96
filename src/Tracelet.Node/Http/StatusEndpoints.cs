using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Logging;
using Tracelet.Actors.Plugins;
using Tracelet.Actors.Status;

namespace Tracelet.Node.Http;

/// <summary>
/// The node's HTTP API: GET /status, GET /status/cluster, GET /healthz, POST /plugins/{name}/start|stop|restart|upgrade
/// (on this node, on <c>?node=ID</c> or on <c>?all=true</c>). The bearer token is checked by <see cref="BearerTokenGuard"/>.
/// </summary>
internal static class StatusEndpoints
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a lifecycle command on this node may take (an upgrade loads and validates an assembly).</summary>
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private const string Actions = "start, stop, restart, upgrade";

    public static void Map(WebApplication app)
    {
        app.MapGet("/status", async (IRequiredActor<PluginManagerActor> manager, IRequiredActor<Tracelet.Hosting.TraceletPipeline> pipeline, CancellationToken ct) =>
        {
            var status = await AskStatus(manager, ct);
            return status is null
                ? Results.Problem("the PluginManager did not answer within 5s", statusCode: 503)
                : Results.Json(StatusJson.From(status, await AskPipeline(pipeline, ct)));
        });

        // Answered from the node's replicated view: never waits on another node.
        app.MapGet("/status/cluster", async (IRequiredActor<ClusterStatusActor> status, CancellationToken ct) =>
        {
            try
            {
                var actor = await status.GetAsync(ct);
                return Results.Json(ClusterStatusJson.From(await actor.Ask<CurrentClusterStatus>(GetClusterStatus.Instance, AskTimeout, ct)));
            }
            catch (AskTimeoutException)
            {
                return Results.Problem("the cluster status view did not answer within 5s", statusCode: 503);
            }
        });

        app.MapGet("/healthz", async (IRequiredActor<PluginManagerActor> manager, CancellationToken ct) =>
        {
            var status = await AskStatus(manager, ct);
            return status is { Ready: true } ? Results.Text("ok\n") : Results.Text("starting\n", statusCode: 503);
        });

        app.MapPost("/plugins/{name}/{action}", async (string name, string action, string? node, bool? all, bool? cascade, IRequiredActor<PluginManagerActor> manager, IRequiredActor<ClusterStatusActor> status, CancellationToken ct) =>
        {
            // ?cascade=false: a stop is refused while plugins that depend on it run, instead of stopping them first.
            var alone = cascade == false;
            if (node is not null || all == true)
                return await ControlInCluster(name, action, alone, all == true ? null : node, status, ct);
            IPluginManagerCommand? command = action switch
            {
                "start" => new StartPlugin(name),
                "stop" => new StopPlugin(name, Cascade: !alone),
                "restart" => new RestartPlugin(name),
                "upgrade" => new UpgradePlugin(name),
                _ => null,
            };
            if (command is null) return Results.Text($"unknown action '{action}' ({Actions})\n", statusCode: 404);
            var actor = await manager.GetAsync(ct);
            PluginOperationResult result;
            try
            {
                result = await actor.Ask<PluginOperationResult>(command, CommandTimeout, ct);
            }
            catch (AskTimeoutException)
            {
                return Results.Json(new Dictionary<string, object?> { ["plugin"] = name, ["error"] = $"the PluginManager did not answer within {CommandTimeout.TotalSeconds:0}s" },
                    EdgeJson.Node, statusCode: 504);
            }
            return result switch
            {
                PluginOperationSucceeded ok => Results.Json(Succeeded(ok), EdgeJson.Node),
                PluginOperationFailed failed => Results.Json(new Dictionary<string, object?> { ["plugin"] = failed.Name, ["error"] = failed.Reason, ["state"] = failed.State?.ToStatusState() },
                    EdgeJson.Node, statusCode: failed.State is null ? 404 : 409),
                _ => Results.StatusCode(500),
            };
        });
    }

    /// <summary>{plugin, state} as before, with detail and cascaded only when there is something to say.</summary>
    private static Dictionary<string, object?> Succeeded(PluginOperationSucceeded ok)
    {
        var answer = new Dictionary<string, object?> { ["plugin"] = ok.Name, ["state"] = ok.State.ToStatusState() };
        if (ok.Detail is not null) answer["detail"] = ok.Detail;
        if (!ok.Cascaded.IsDefaultOrEmpty) answer["cascaded"] = ok.Cascaded;
        return answer;
    }

    private static async Task<Tracelet.Actors.Pipeline.CurrentPipelineStatus?> AskPipeline(IRequiredActor<Tracelet.Hosting.TraceletPipeline> pipeline, CancellationToken ct)
    {
        try
        {
            var actor = await pipeline.GetAsync(ct);
            return await actor.Ask<Tracelet.Actors.Pipeline.CurrentPipelineStatus>(Tracelet.Actors.Pipeline.GetPipelineStatus.Instance, AskTimeout, ct);
        }
        catch (AskTimeoutException)
        {
            return null; // status without the pipeline beats no status
        }
    }

    private static async Task<NodePluginStatus?> AskStatus(IRequiredActor<PluginManagerActor> manager, CancellationToken ct)
    {
        try
        {
            var actor = await manager.GetAsync(ct);
            return (await actor.Ask<CurrentPluginStatus>(GetPluginStatus.Instance, AskTimeout, ct)).Status;
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    /// <summary>Routed through the cluster to the target nodes' PluginManagers, which persist the transition as usual.</summary>
    private static async Task<IResult> ControlInCluster(string name, string action, bool alone, string? node, IRequiredActor<ClusterStatusActor> status, CancellationToken ct)
    {
        PluginAction? verb = action switch
        {
            "start" => PluginAction.Start,
            "stop" => alone ? PluginAction.StopAlone : PluginAction.Stop,
            "restart" => PluginAction.Restart,
            "upgrade" => PluginAction.Upgrade,
            _ => null,
        };
        if (verb is null) return Results.Text($"unknown action '{action}' ({Actions})\n", statusCode: 404);
        var actor = await status.GetAsync(ct);
        // The view's own per-node deadline answers first (504 per node); this one only guards against a lost reply.
        var answer = await actor.Ask<PluginControlResults>(new ControlPluginInCluster(name, verb.Value, node), TimeSpan.FromMinutes(2), ct);
        if (answer.UnknownTarget is not null)
            return Results.Json(new Dictionary<string, object?> { ["results"] = Array.Empty<object>(), ["error"] = answer.UnknownTarget }, statusCode: 404);
        var code = answer.Results.All(r => r.Ok) ? 200
            : answer.Results.Any(r => r.TimedOut) ? 504
            : answer.Results.All(r => r.NotFound) ? 404
            : 409;
        return Results.Json(ClusterStatusJson.Results(answer), statusCode: code);
    }
}
