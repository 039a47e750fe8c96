using System.Collections.Immutable;
using System.Globalization;
using Tracelet.Abstractions;
using Tracelet.Actors;
using Tracelet.Backends.Sql;

namespace Tracelet.Node.Http;

/// <summary>
/// GET /query: a metric's series from the sql backend's store, for a time range and node, as a
/// table, CSV or JSON. It reads the store the node's <c>sql</c> section describes, read-only.
/// </summary>
internal static class QueryEndpoints
{
    /// <summary>Samples returned when the request names no limit.</summary>
    private const int DefaultLimit = 10_000;

    /// <summary>The most one request may ask for: the samples are held in memory while they are written out.</summary>
    private const int MaxLimit = 100_000;

    /// <summary>Set to <c>true</c> when there were more samples than the limit (CSV has no other place to say so).</summary>
    public const string TruncatedHeader = "X-Tracelet-Truncated";

    public static void Map(WebApplication app)
    {
        app.MapGet("/query", async (HttpRequest request, TraceletSettings settings, ILogger<NodeHost> log, CancellationToken ct) =>
        {
            if (!settings.Plugins.TryGetValue(SqlBackend.PluginName, out var section) || !section.Enabled)
                return Text(404, $"the {SqlBackend.PluginName} backend is not configured on this node: enable it with tracelet.plugins.{SqlBackend.PluginName} {{ enabled = on }} (docs/backends.md)");

            var q = request.Query;
            var metric = q["metric"].ToString();
            if (string.IsNullOrWhiteSpace(metric)) return Text(400, "parameter 'metric' is required (the metric name, e.g. system.cpu.utilization)");
            var now = DateTimeOffset.UtcNow;
            if (!TryTime(q["from"].ToString(), "-1h", now, out var from)) return Text(400, $"parameter 'from': '{q["from"]}' is not a time (use ISO 8601, Unix seconds, now, or -1h / -30m)");
            if (!TryTime(q["to"].ToString(), "now", now, out var to)) return Text(400, $"parameter 'to': '{q["to"]}' is not a time (use ISO 8601, Unix seconds, now, or -1h / -30m)");
            if (to < from) return Text(400, "parameter 'to' is before 'from'");
            var limit = DefaultLimit;
            if (q.ContainsKey("limit") && (!int.TryParse(q["limit"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit))
                return Text(400, $"parameter 'limit': '{q["limit"]}' is not a number between 1 and {MaxLimit}");
            var format = q.ContainsKey("format") ? q["format"].ToString() : "table";
            if (format is not ("table" or "csv" or "json")) return Text(400, $"parameter 'format': '{format}' is not one of table, csv, json");
            var labels = ImmutableArray.CreateBuilder<MetricLabel>();
            foreach (var pair in q["label"].Concat(q["labels"].SelectMany(l => (l ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))))
            {
                var eq = pair?.IndexOf('=') ?? -1;
                if (eq <= 0) return Text(400, $"parameter 'labels': '{pair}' is not key=value");
                labels.Add(new MetricLabel(pair![..eq], pair[(eq + 1)..]));
            }
            var node = q["node"].ToString();

            var query = new SeriesQuery(metric, string.IsNullOrEmpty(node) ? null : node, from, to, labels.ToImmutable(), limit);
            try
            {
                await using var reader = SqlMetricReader.Create(section.Config, settings.DataDirectory);
                var result = await reader.QueryAsync(query, ct);
                request.HttpContext.Response.Headers[TruncatedHeader] = result.Truncated ? "true" : "false";
                return format switch
                {
                    "csv" => Results.Stream(body => SeriesFormat.WriteCsvAsync(result, body, ct), "text/csv; charset=utf-8"),
                    "json" => Results.Stream(body => SeriesFormat.WriteJsonAsync(result, body, ct), "application/json; charset=utf-8"),
                    _ => Results.Stream(body => SeriesFormat.WriteTableAsync(result, body, ct), "text/plain; charset=utf-8"),
                };
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning(e, "Query of {Metric} failed", metric);
                return Text(503, $"the metric store could not be read: {e.Message}");
            }
        });
    }

    private static bool TryTime(string text, string fallback, DateTimeOffset now, out DateTimeOffset time) =>
        QueryTime.TryParse(string.IsNullOrWhiteSpace(text) ? fallback : text, now, out time);

    private static IResult Text(int status, string message) => Results.Text(message + "\n", "text/plain; charset=utf-8", statusCode: status);
}
