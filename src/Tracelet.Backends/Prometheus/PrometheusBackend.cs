using System.Globalization;
using Prometheus;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Prometheus;

/// <summary>
/// Exposes the samples it receives for Prometheus to scrape: on the node's <c>GET /metrics</c>,
/// or on its own <c>listen</c> address. Every numeric sample becomes a gauge (samples carry no
/// counter/gauge kind), named by Prometheus rules, labelled with its labels plus <c>node</c> and
/// <c>source</c>; series not updated for <c>stale-after</c> disappear.
/// </summary>
public sealed class PrometheusBackend : BackendPlugin
{
    private readonly TimeProvider _clock;
    private PrometheusExposition? _exposition;
    private MetricServer? _server;
    private string _nodeId = "";
    private string? _listen;
    private string _endpoint = "";

    /// <summary>Creates the backend on the system clock.</summary>
    public PrometheusBackend()
        : this(TimeProvider.System)
    {
    }

    /// <summary>Creates the backend on a given clock (tests move it to expire series).</summary>
    internal PrometheusBackend(TimeProvider clock) => _clock = clock;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("prometheus", "1.0.0", PluginType.Backend)
    {
        Description = "Exposes numeric samples as Prometheus gauges on the node's GET /metrics (or its own listen address)",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "prefix": { "type": "string", "pattern": "^([a-zA-Z_][a-zA-Z0-9_]*)?$", "description": "put before every metric name, e.g. \"tracelet_\"; default none" },
                "stale-after": { "type": ["number", "string"], "description": "a series not updated for this long is removed; seconds or a duration like \"5m\"; default 5m" },
                "max-series": { "type": "integer", "minimum": 1, "description": "at most this many series are exposed; new ones beyond are counted, not exposed; default 100000" },
                "max-families": { "type": "integer", "minimum": 1, "description": "at most this many metric names are ever exposed (a name's family stays after its series expire); samples of new names beyond are counted, not exposed; default 10000" },
                "listen": { "type": "string", "pattern": "^[^:]+:[0-9]{1,5}$", "description": "host:port to serve /metrics on by itself, besides the node's GET /metrics" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <summary>The exposition, once initialized (tests and the benchmark read it).</summary>
    internal PrometheusExposition Exposition => _exposition ?? throw new InvalidOperationException("prometheus backend is not initialized");

    /// <summary>Only types whose samples are numbers; the others are refused (and counted by the runtime).</summary>
    public override bool CanHandle(MetricType type) =>
        type is MetricType.Scalar or MetricType.System or MetricType.Custom or MetricType.Parameter or MetricType.HParams;

    /// <inheritdoc />
    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken).ConfigureAwait(false);
        var staleAfter = context.Config.GetDuration("stale-after", TimeSpan.FromMinutes(5));
        if (staleAfter <= TimeSpan.Zero)
            throw new PluginPermanentException($"config key 'stale-after': {staleAfter} must be positive");
        var maxSeries = context.Config.GetInt64("max-series", 100_000);
        _nodeId = context.NodeId;
        _listen = context.Config.Has("listen") ? context.Config.GetString("listen", "") : null;
        var maxFamilies = context.Config.GetInt64("max-families", 10_000);
        _exposition = new PrometheusExposition(context.Config.GetString("prefix", ""), staleAfter, (int)Math.Min(maxSeries, int.MaxValue), _clock,
            (int)Math.Min(maxFamilies, int.MaxValue));
    }

    /// <inheritdoc />
    public override ValueTask StartAsync(CancellationToken cancellationToken)
    {
        PrometheusEndpoints.Register(_nodeId, Exposition.Registry);
        _endpoint = "GET /metrics on the node's HTTP port";
        if (_listen is not null)
        {
            var colon = _listen.LastIndexOf(':');
            var host = _listen[..colon];
            var port = int.Parse(_listen[(colon + 1)..], CultureInfo.InvariantCulture);
            try
            {
                _server = new MetricServer(host, port, "metrics/", Exposition.Registry);
                _server.Start();
            }
            catch (System.Net.HttpListenerException e)
            {
                _server = null;
                PrometheusEndpoints.Unregister(_nodeId, Exposition.Registry);
                throw new InvalidOperationException($"config key 'listen': cannot serve /metrics on {_listen}: {e.Message}", e);
            }
            _endpoint += $", and http://{_listen}/metrics";
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        Exposition.Add(batch);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        if (_exposition is not null) PrometheusEndpoints.Unregister(_nodeId, _exposition.Registry);
        if (_server is not null) await _server.StopAsync().ConfigureAwait(false);
        _server = null;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        if (_exposition is not { } e) return new Dictionary<string, object?>();
        return new Dictionary<string, object?>
        {
            ["endpoint"] = _endpoint,
            ["series"] = e.Series,
            ["families"] = e.Families,
            ["samples_exposed"] = e.SamplesExposed,
            ["series_expired"] = e.SeriesExpired,
            ["series_refused"] = e.SeriesRefused,
            ["families_refused"] = e.FamiliesRefused,
            ["collisions"] = e.Collisions,
            ["collision_names"] = e.CollisionList,
            ["label_collisions"] = e.LabelCollisions,
            ["text_skipped"] = e.TextSkipped,
            ["non_finite_values"] = e.NonFinite,
            ["label_values_with_newlines"] = e.LabelValuesWithNewlines,
            ["problems"] = e.Problems,
        };
    }
}
