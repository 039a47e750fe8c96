using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Backends.Tests.Mlflow;

/// <summary>
/// An HTTP server on 127.0.0.1 that speaks the recorded protocol of MLflow's REST API 2.0 (the
/// documented request and response shapes): it checks every request's method, path and field types,
/// records it, and answers as a tracking server would, errors as {error_code, message}.
/// </summary>
internal sealed class RecordedMlflowServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly HashSet<string> _experiments = [];
    private readonly Dictionary<string, string> _runStatus = [];
    private int _ids;

    public RecordedMlflowServer()
    {
        var port = NodeBuild.FreeLoopbackPort();
        Uri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Uri.AbsoluteUri);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public Uri Uri { get; }

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    /// <summary>Protocol violations found in requests (asserted empty by the tests).</summary>
    public ConcurrentQueue<string> Violations { get; } = new();

    /// <summary>How many of the next log-batch requests fail with 503.</summary>
    public int FailNextLogBatches;

    /// <summary>Metric keys the server refuses with INVALID_PARAMETER_VALUE.</summary>
    public HashSet<string> InvalidKeys { get; } = [];

    public IEnumerable<Recorded> Calls(string endpoint) => Requests.Where(r => r.Endpoint == endpoint);

    internal sealed record Recorded(string Method, string Endpoint, JsonElement Body, string? Authorization, int Status);

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            Handle(context);
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var path = request.Url!.AbsolutePath;
        var endpoint = path.StartsWith("/api/2.0/mlflow/", StringComparison.Ordinal) ? path["/api/2.0/mlflow/".Length..] : path;
        JsonElement body;
        if (request.HttpMethod == "POST")
        {
            using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
            body = JsonDocument.Parse(reader.ReadToEnd()).RootElement.Clone();
            if (request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) != true) Violations.Enqueue($"{endpoint}: content type {request.ContentType}");
        }
        else
        {
            var query = request.QueryString;
            body = JsonSerializer.SerializeToElement(query.AllKeys.ToDictionary(k => k!, k => query[k]));
        }
        var (status, answer) = Answer(request.HttpMethod, endpoint, body);
        Requests.Enqueue(new Recorded(request.HttpMethod, endpoint, body, request.Headers["Authorization"], status));
        var bytes = Encoding.UTF8.GetBytes(answer);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.OutputStream.Write(bytes);
        context.Response.Close();
    }

    private (int, string) Answer(string method, string endpoint, JsonElement body)
    {
        lock (_experiments)
        {
            switch (method, endpoint)
            {
                case ("GET", "experiments/get-by-name"):
                    var name = Require(endpoint, body, "experiment_name", JsonValueKind.String).GetString()!;
                    return _experiments.Contains(name)
                        ? (200, $$$"""{"experiment":{"experiment_id":"{{{Id(name)}}}","name":"{{{name}}}","lifecycle_stage":"active"}}""")
                        : Error(404, "RESOURCE_DOES_NOT_EXIST", $"Could not find experiment with name '{name}'");
                case ("POST", "experiments/create"):
                    var created = Require(endpoint, body, "name", JsonValueKind.String).GetString()!;
                    if (!_experiments.Add(created)) return Error(400, "RESOURCE_ALREADY_EXISTS", "exists");
                    return (200, $$"""{"experiment_id":"{{Id(created)}}"}""");
                case ("POST", "runs/create"):
                    Require(endpoint, body, "experiment_id", JsonValueKind.String);
                    Require(endpoint, body, "start_time", JsonValueKind.Number);
                    Require(endpoint, body, "run_name", JsonValueKind.String);
                    CheckKeyValues(endpoint, body, "tags");
                    var runId = $"run{Interlocked.Increment(ref _ids)}";
                    _runStatus[runId] = "RUNNING";
                    return (200, RunJson(runId, "RUNNING"));
                case ("GET", "runs/get"):
                    var id = Require(endpoint, body, "run_id", JsonValueKind.String).GetString()!;
                    return _runStatus.TryGetValue(id, out var s)
                        ? (200, RunJson(id, s))
                        : Error(404, "RESOURCE_DOES_NOT_EXIST", $"Run '{id}' not found");
                case ("POST", "runs/log-batch"):
                    return LogBatch(endpoint, body);
                case ("POST", "runs/update"):
                    var updated = Require(endpoint, body, "run_id", JsonValueKind.String).GetString()!;
                    _runStatus[updated] = Require(endpoint, body, "status", JsonValueKind.String).GetString()!;
                    Require(endpoint, body, "end_time", JsonValueKind.Number);
                    return (200, """{"run_info":{}}""");
                default:
                    Violations.Enqueue($"unknown endpoint {method} {endpoint}");
                    return Error(404, "ENDPOINT_NOT_FOUND", endpoint);
            }
        }
    }

    private (int, string) LogBatch(string endpoint, JsonElement body)
    {
        var runId = Require(endpoint, body, "run_id", JsonValueKind.String).GetString()!;
        if (!_runStatus.ContainsKey(runId)) return Error(404, "RESOURCE_DOES_NOT_EXIST", "no run");
        var metrics = body.TryGetProperty("metrics", out var m) ? m.EnumerateArray().ToList() : [];
        var parameters = CheckKeyValues(endpoint, body, "params");
        var tags = CheckKeyValues(endpoint, body, "tags");
        // MLflow's documented limits; the server refuses more with the tracking server's own words.
        if (metrics.Count > 1000) return Error(400, "INVALID_PARAMETER_VALUE", $"A batch logging request can contain at most 1000 metrics. Got {metrics.Count} metrics.");
        if (parameters > 100) return Error(400, "INVALID_PARAMETER_VALUE", $"at most 100 params, got {parameters}");
        if (tags > 100) return Error(400, "INVALID_PARAMETER_VALUE", $"at most 100 tags, got {tags}");
        if (metrics.Count + parameters + tags > 1000) return Error(400, "INVALID_PARAMETER_VALUE", "at most 1000 entities");
        foreach (var metric in metrics)
        {
            var key = metric.GetProperty("key").GetString()!;
            if (key.Length > 250 || key.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ' ' or '/')))
                Violations.Enqueue($"invalid metric key '{key}'");
            var value = metric.GetProperty("value");
            if (value.ValueKind != JsonValueKind.Number && value.GetString() is not ("NaN" or "Infinity" or "-Infinity"))
                Violations.Enqueue($"metric value {value}");
            if (metric.GetProperty("timestamp").ValueKind != JsonValueKind.Number || metric.GetProperty("step").ValueKind != JsonValueKind.Number)
                Violations.Enqueue("metric timestamp/step not numbers");
            if (InvalidKeys.Contains(key)) return Error(400, "INVALID_PARAMETER_VALUE", $"Invalid metric name: '{key}'");
        }
        if (FailNextLogBatches > 0)
        {
            FailNextLogBatches--;
            return Error(503, "TEMPORARILY_UNAVAILABLE", "try again");
        }
        return (200, "{}");
    }

    private int CheckKeyValues(string endpoint, JsonElement body, string field)
    {
        if (!body.TryGetProperty(field, out var items)) return 0;
        foreach (var item in items.EnumerateArray())
        {
            if (item.GetProperty("key").ValueKind != JsonValueKind.String || item.GetProperty("value").ValueKind != JsonValueKind.String)
                Violations.Enqueue($"{endpoint}: {field} entry {item} is not {{key: string, value: string}}");
        }
        return items.GetArrayLength();
    }

    private JsonElement Require(string endpoint, JsonElement body, string field, JsonValueKind kind)
    {
        if (body.TryGetProperty(field, out var v) && v.ValueKind == kind) return v;
        Violations.Enqueue($"{endpoint}: field '{field}' missing or not {kind}");
        return kind == JsonValueKind.String ? JsonSerializer.SerializeToElement("") : JsonSerializer.SerializeToElement(0);
    }

    private static string RunJson(string id, string status) =>
        JsonSerializer.Serialize(new { run = new { info = new { run_id = id, status, lifecycle_stage = "active" }, data = new { } } });

    private static string Id(string name) => Math.Abs(StringComparer.Ordinal.GetHashCode(name) % 100000).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static (int, string) Error(int status, string code, string message) =>
        (status, JsonSerializer.Serialize(new Dictionary<string, string> { ["error_code"] = code, ["message"] = message }));

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
