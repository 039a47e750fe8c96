using Tracelet.Actors;
using Tracelet.Backends.Prometheus;

namespace Tracelet.Node.Http;

/// <summary>
/// GET /metrics: the Prometheus text exposition of this node's prometheus backend
/// (src/Tracelet.Backends/Prometheus). 503 with a hint while that backend is not active, so that
/// Prometheus shows the target as down with the reason.
/// </summary>
internal static class MetricsEndpoint
{
    public static void Map(WebApplication app, TraceletSettings settings)
    {
        app.MapGet("/metrics", async (HttpContext http, CancellationToken ct) =>
        {
            // Buffered, so that a backend that stops mid-scrape still gives a clean 503 rather than half a body.
            using var body = new MemoryStream();
            if (!await PrometheusEndpoints.TryWriteAsync(settings.NodeId, body, ct))
            {
                http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await http.Response.WriteAsync(
                    $"the prometheus backend is not active on node '{settings.NodeId}': enable it with tracelet.plugins.prometheus {{ enabled = on }} (see GET /status)\n", ct);
                return;
            }
            http.Response.ContentType = PrometheusEndpoints.ContentType;
            body.Position = 0;
            await body.CopyToAsync(http.Response.Body, ct);
        });
    }
}
