using Tracelet.Backends.Prometheus;

namespace Tracelet.Backends.Tests.Prometheus;

/// <summary>Reads an exposition as a scrape would, without an HTTP server.</summary>
internal static class PrometheusExpositionText
{
    /// <summary>The text exposition: what <c>GET /metrics</c> answers.</summary>
    public static async Task<string> ToTextAsync(this PrometheusExposition exposition, CancellationToken cancellationToken = default)
    {
        using var stream = new MemoryStream();
        await exposition.Registry.CollectAndExportAsTextAsync(stream, cancellationToken);
        return System.Text.Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }
}
