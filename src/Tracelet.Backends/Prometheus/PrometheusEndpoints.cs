using System.Collections.Concurrent;
using Prometheus;

namespace Tracelet.Backends.Prometheus;

/// <summary>
/// Where the node's <c>GET /metrics</c> finds what to serve: each active prometheus backend
/// registers its registry under its node id (several nodes may share one process in tests).
/// Plugins cannot see the node's web app, and the node cannot see plugin instances, so this small
/// process-wide table is the meeting point.
/// </summary>
public static class PrometheusEndpoints
{
    /// <summary>The content type of the Prometheus text format, version 0.0.4.</summary>
    public const string ContentType = PrometheusConstants.TextContentTypeWithVersionAndEncoding;

    private static readonly ConcurrentDictionary<string, CollectorRegistry> Registries = new(StringComparer.Ordinal);

    /// <summary>
    /// Writes the exposition of the node's prometheus backend to <paramref name="output"/>, or
    /// returns false (writing nothing) when no prometheus backend is active on that node.
    /// </summary>
    public static async Task<bool> TryWriteAsync(string nodeId, Stream output, CancellationToken cancellationToken)
    {
        if (!Registries.TryGetValue(nodeId, out var registry)) return false;
        await registry.CollectAndExportAsTextAsync(output, cancellationToken).ConfigureAwait(false);
        return true;
    }

    internal static void Register(string nodeId, CollectorRegistry registry) => Registries[nodeId] = registry;

    /// <summary>Removes the registry only if it is still the one registered (a newer instance may have taken over).</summary>
    internal static void Unregister(string nodeId, CollectorRegistry registry) =>
        Registries.TryRemove(new KeyValuePair<string, CollectorRegistry>(nodeId, registry));
}
