using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Mlflow;

/// <summary>
/// Logs samples to an MLflow tracking server over its REST API: the experiment is looked up or
/// created, a run is created (or resumed after a restart), batches go to runs/log-batch split at
/// MLflow's limits, and the run is set FINISHED when the plugin is stopped.
/// </summary>
public sealed class MlflowBackend : BackendPlugin
{
    private readonly HttpMessageHandler? _handler;
    private readonly TimeProvider _time;
    private MlflowLimits _limits = new();
    private MlflowSampleMapper _mapper = new(new MlflowLimits());
    private MlflowRestClient? _client;
    private Uri? _trackingUri;
    private string _experiment = "";
    private string _runName = "";
    private string? _configuredRunId;
    private ImmutableArray<MlflowKeyValue> _runTags = [];
    private int _retries;
    private TimeSpan _retryDelay;
    private string _runFilePath = "";

    private string? _experimentId;
    private string? _runId;
    private bool _ownsRun;
    private bool _lastWriteFailed;

    private long _samples;
    private long _requests;
    private long _metrics;
    private long _params;
    private long _tags;
    private long _retried;
    private long _rejected;
    private string? _lastRejection;
    private string? _lastError;

    /// <summary>Creates the backend (what the runtime uses).</summary>
    public MlflowBackend() : this(null, TimeProvider.System) { }

    /// <summary>Creates the backend with a given HTTP handler and clock (tests).</summary>
    internal MlflowBackend(HttpMessageHandler? handler, TimeProvider time)
    {
        _handler = handler;
        _time = time;
    }

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("mlflow", "1.0.0", PluginType.Backend)
    {
        Description = "Logs samples to an MLflow tracking server (REST API 2.0)",
        Author = "Tracelet",
        Capabilities = ["metrics", "parameters", "logging"],
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "tracking-uri": { "type": "string", "pattern": "^https?://", "description": "the tracking server; default $MLFLOW_TRACKING_URI" },
                "experiment": { "type": "string", "minLength": 1, "description": "experiment name, looked up or created (default \"Tracelet Experiments\")" },
                "run-name": { "type": "string", "minLength": 1, "description": "name of the run created (default tracelet-<node>)" },
                "run-id": { "type": "string", "minLength": 1, "description": "log to this existing run instead of creating one; it is not terminated on stop" },
                "tags": { "type": "object", "additionalProperties": { "type": "string" }, "description": "tags set on the run created" },
                "token": { "type": "string", "description": "bearer token; default $MLFLOW_TRACKING_TOKEN" },
                "timeout": { "type": ["number", "string"], "description": "per request (default 30s)" },
                "retries": { "type": "integer", "minimum": 0, "maximum": 10, "description": "retries of a request that failed with 5xx, 429 or a network error, before the batch is handed back (default 2)" },
                "retry-delay": { "type": ["number", "string"], "description": "first retry delay, doubled each time (default 1s)" },
                "param-value-limit": { "type": "integer", "minimum": 16, "maximum": 1000000, "description": "param values are cut to this (default 6000; 500 for MLflow before 2.x)" },
                "tag-value-limit": { "type": "integer", "minimum": 16, "maximum": 1000000, "description": "tag values are cut to this (default 5000)" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <summary>Artifacts would need an upload to the artifact store, which this backend does not do: the runtime counts them as refused.</summary>
    public override bool CanHandle(MetricType type) => type != MetricType.Artifact;

    /// <inheritdoc />
    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken).ConfigureAwait(false);
        var config = context.Config;
        var uri = config.GetString("tracking-uri", Environment.GetEnvironmentVariable("MLFLOW_TRACKING_URI") ?? "");
        if (uri.Length == 0)
            throw new PluginPermanentException("mlflow: no tracking server: set config key 'tracking-uri' or MLFLOW_TRACKING_URI");
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
            throw new PluginPermanentException($"mlflow: tracking-uri '{uri}' is not an http(s) URL (file stores and 'databricks' are not supported; use the server's URL)");
        _trackingUri = parsed;
        _experiment = config.GetString("experiment", "Tracelet Experiments");
        _runName = config.GetString("run-name", $"tracelet-{context.NodeId}");
        _configuredRunId = config.Has("run-id") ? config.GetString("run-id", "") : null;
        var tags = ImmutableArray.CreateBuilder<MlflowKeyValue>();
        tags.Add(new MlflowKeyValue("tracelet.node", context.NodeId));
        if (config.Root.TryGetProperty("tags", out var t))
            foreach (var p in t.EnumerateObject()) tags.Add(new MlflowKeyValue(p.Name, p.Value.GetString() ?? ""));
        _runTags = tags.ToImmutable();
        _retries = (int)config.GetInt64("retries", 2);
        _retryDelay = config.GetDuration("retry-delay", TimeSpan.FromSeconds(1));
        _limits = new MlflowLimits
        {
            MaxParamValueLength = (int)config.GetInt64("param-value-limit", 6000),
            MaxTagValueLength = (int)config.GetInt64("tag-value-limit", 5000),
        };
        _mapper = new MlflowSampleMapper(_limits);
        _runFilePath = Path.Combine(context.DataDirectory, "mlflow", $"{string.Concat(context.NodeId.Select(c => Path.GetInvalidFileNameChars().Contains(c) ? '_' : c))}-run.json");
        var token = config.GetString("token", Environment.GetEnvironmentVariable("MLFLOW_TRACKING_TOKEN") ?? "");
        _client = new MlflowRestClient(parsed, token, config.GetDuration("timeout", TimeSpan.FromSeconds(30)), _handler);
    }

    /// <inheritdoc />
    public override async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        var client = _client ?? throw new InvalidOperationException("mlflow backend is not initialized");
        try
        {
            if (_configuredRunId is not null)
            {
                _runId = _configuredRunId;
                _ownsRun = false;
                return;
            }
            _experimentId = await client.GetExperimentIdByNameAsync(_experiment, cancellationToken).ConfigureAwait(false)
                ?? await client.CreateExperimentAsync(_experiment, cancellationToken).ConfigureAwait(false);
            var previous = MlflowRunFile.Read(_runFilePath);
            if (previous is not null && previous.TrackingUri == _trackingUri!.AbsoluteUri && previous.Experiment == _experiment
                && previous.ExperimentId == _experimentId
                && await client.GetRunStatusAsync(previous.RunId, cancellationToken).ConfigureAwait(false) == "RUNNING")
            {
                _runId = previous.RunId;
            }
            else
            {
                _runId = await client.CreateRunAsync(_experimentId, _runName, _time.GetUtcNow().ToUnixTimeMilliseconds(), _runTags, cancellationToken).ConfigureAwait(false);
                new MlflowRunFile(_trackingUri!.AbsoluteUri, _experiment, _experimentId, _runId).Write(_runFilePath);
            }
            _ownsRun = true;
        }
        catch (Exception e)
        {
            if (e is MlflowApiException or HttpRequestException or TaskCanceledException or IOException)
                _lastError = $"{_time.GetUtcNow():O} starting: {e.Message}";
            // The runtime never calls StopAsync after a failed start (it makes a new instance), so the client goes here.
            _client?.Dispose();
            _client = null;
            throw;
        }
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var client = _client;
        var runId = _runId;
        if (client is null || runId is null) throw new InvalidOperationException("mlflow backend is not started");
        _lastWriteFailed = true;
        _mapper.Map(batch);
        foreach (var chunk in MlflowBatchSplitter.Split(_mapper.Metrics, _mapper.Params, _mapper.Tags, _limits))
            await SendAsync(client, runId, chunk, cancellationToken).ConfigureAwait(false);
        _samples += batch.Samples.Length;
        _lastWriteFailed = false;
    }

    /// <summary>
    /// Sends one request. Transient failures are retried here with backoff, then thrown so the batch
    /// stays unacknowledged; INVALID_PARAMETER_VALUE is narrowed down entity by entity and only the
    /// refused ones are skipped (counted); any other error is thrown with the server's words.
    /// </summary>
    private async Task SendAsync(MlflowRestClient client, string runId, MlflowBatch chunk, CancellationToken ct)
    {
        try
        {
            await WithRetriesAsync(() => client.LogBatchAsync(runId, chunk, ct), ct).ConfigureAwait(false);
            Count(chunk);
        }
        catch (MlflowApiException e) when (e.ErrorCode == "INVALID_PARAMETER_VALUE" && chunk.Count > 1)
        {
            foreach (var single in Singles(chunk))
                await SendAsync(client, runId, single, ct).ConfigureAwait(false);
        }
        catch (MlflowApiException e) when (e.ErrorCode == "INVALID_PARAMETER_VALUE")
        {
            _rejected++;
            _lastRejection = $"{_time.GetUtcNow():O} {Describe(chunk)} refused: {e.Message}";
            foreach (var p in chunk.Params) _mapper.ForgetParam(p.Key);
        }
        catch (Exception e) when (e is MlflowApiException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            _lastError = $"{_time.GetUtcNow():O} {e.Message}";
            throw;
        }
    }

    private async Task WithRetriesAsync(Func<Task> send, CancellationToken ct)
    {
        var delay = _retryDelay;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                _requests++;
                await send().ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (attempt < _retries && IsTransient(e, ct))
            {
                _retried++;
                _lastError = $"{_time.GetUtcNow():O} {e.Message} (retrying)";
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    private static bool IsTransient(Exception e, CancellationToken ct) => e switch
    {
        MlflowApiException api => api.IsTransient,
        HttpRequestException => true,
        TaskCanceledException => !ct.IsCancellationRequested, // the request timed out
        _ => false,
    };

    private static IEnumerable<MlflowBatch> Singles(MlflowBatch chunk) =>
        chunk.Params.Select(p => new MlflowBatch([], [p], []))
            .Concat(chunk.Tags.Select(t => new MlflowBatch([], [], [t])))
            .Concat(chunk.Metrics.Select(m => new MlflowBatch([m], [], [])));

    private static string Describe(MlflowBatch single) =>
        single.Metrics.Count > 0 ? $"metric '{single.Metrics[0].Key}'"
        : single.Params.Count > 0 ? $"param '{single.Params[0].Key}'"
        : $"tag '{single.Tags[0].Key}'";

    private void Count(MlflowBatch chunk)
    {
        _metrics += chunk.Metrics.Count;
        _params += chunk.Params.Count;
        _tags += chunk.Tags.Count;
    }

    /// <inheritdoc />
    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            // After a failed write the runtime stops this instance and starts a new one, which resumes
            // the run: only a deliberate stop ends it.
            if (_client is not null && _runId is not null && _ownsRun && !_lastWriteFailed)
            {
                await _client.UpdateRunAsync(_runId, "FINISHED", _time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
                File.Delete(_runFilePath);
                _runId = null;
            }
        }
        catch (Exception e) when (e is MlflowApiException or HttpRequestException or TaskCanceledException)
        {
            _lastError = $"{_time.GetUtcNow():O} ending run: {e.Message}";
            throw;
        }
        finally
        {
            _client?.Dispose();
            _client = null;
        }
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?>
        {
            ["tracking_uri"] = _trackingUri?.GetLeftPart(UriPartial.Path),
            ["experiment_name"] = _experiment,
            ["experiment_id"] = _experimentId,
            ["run_id"] = _runId,
            ["run_name"] = _runName,
            ["samples_written"] = _samples,
            ["requests"] = _requests,
            ["metrics_logged"] = _metrics,
            ["params_logged"] = _params,
            ["tags_logged"] = _tags,
            ["requests_retried"] = _retried,
            ["entities_rejected_by_server"] = _rejected,
            ["entities_refused"] = _mapper.Refused,
            ["values_truncated"] = _mapper.Truncated,
        };
        if (_lastError is not null) status["last_error"] = _lastError;
        if (_lastRejection is not null) status["last_rejection"] = _lastRejection;
        if (_mapper.LastRefusal is not null) status["last_refusal"] = _mapper.LastRefusal;
        return status;
    }
}
