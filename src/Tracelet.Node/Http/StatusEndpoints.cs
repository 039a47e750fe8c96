using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Logging;
using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Http;

/// <summary>The node's HTTP API: GET /status, GET /healthz, POST /plugins/{name}/start|stop|restart.</summary>
internal static class StatusEndpoints
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public static void Map(WebApplication app, NodeSettings settings)
    {
        app.MapGet("/status", async (IRequiredActor<PluginManagerActor> manager, IRequiredActor<Tracelet.Hosting.TraceletPipeline> pipeline, CancellationToken ct) =>
        {
            var status = await AskStatus(manager, ct);
            return status is null
                ? Results.Problem("the PluginManager did not answer within 5s", statusCode: 503)
                : Results.Json(StatusJson.From(status, await AskPipeline(pipeline, ct)));
        });

        app.MapGet("/healthz", async (IRequiredActor<PluginManagerActor> manager, CancellationToken ct) =>
        {
            var status = await AskStatus(manager, ct);
            return status is { Ready: true } ? Results.Text("ok\n") : Results.Text("starting\n", statusCode: 503);
        });

        app.MapPost("/plugins/{name}/{action}", async (string name, string action, HttpContext http, IRequiredActor<PluginManagerActor> manager, ILogger<NodeHost> log, CancellationToken ct) =>
        {
            if (!Authorized(http, settings))
            {
                log.LogWarning("Refused {Action} of plugin {Plugin} from {Remote}: missing or wrong bearer token", action, name, http.Connection.RemoteIpAddress);
                return Results.Text("a bearer token is required\n", statusCode: 401);
            }
            IPluginManagerCommand? command = action switch
            {
                "start" => new StartPlugin(name),
                "stop" => new StopPlugin(name),
                "restart" => new RestartPlugin(name),
                _ => null,
            };
            if (command is null) return Results.Text($"unknown action '{action}' (start, stop, restart)\n", statusCode: 404);
            var actor = await manager.GetAsync(ct);
            var result = await actor.Ask<PluginOperationResult>(command, TimeSpan.FromSeconds(60), ct);
            return result switch
            {
                PluginOperationSucceeded ok => Results.Json(new { plugin = ok.Name, state = ok.State.ToString().ToLowerInvariant() }),
                PluginOperationFailed failed => Results.Json(new { plugin = failed.Name, error = failed.Reason, state = failed.State?.ToString().ToLowerInvariant() },
                    statusCode: failed.State is null ? 404 : 409),
                _ => Results.StatusCode(500),
            };
        });
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

    /// <summary>Mutations need the token whenever one is configured (and one is required beyond loopback).</summary>
    private static bool Authorized(HttpContext http, NodeSettings settings) =>
        string.IsNullOrEmpty(settings.HttpToken) ||
        string.Equals(http.Request.Headers.Authorization.ToString(), $"Bearer {settings.HttpToken}", StringComparison.Ordinal);
}
