using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tracelet.Backends.Mlflow;

/// <summary>The few calls of MLflow's REST API 2.0 this backend needs, over one HttpClient.</summary>
internal sealed class MlflowRestClient : IDisposable
{
    private const string Api = "api/2.0/mlflow/";
    private readonly HttpClient _http;

    public MlflowRestClient(Uri trackingUri, string? token, TimeSpan timeout, HttpMessageHandler? handler = null)
    {
        var baseUri = trackingUri.AbsoluteUri.EndsWith('/') ? trackingUri : new Uri(trackingUri.AbsoluteUri + "/");
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.BaseAddress = baseUri;
        _http.Timeout = timeout;
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("tracelet", "1.0"));
        if (!string.IsNullOrEmpty(token)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>The experiment's id, or null when the server says RESOURCE_DOES_NOT_EXIST.</summary>
    public async Task<string?> GetExperimentIdByNameAsync(string name, CancellationToken ct)
    {
        try
        {
            using var doc = await GetAsync($"experiments/get-by-name?experiment_name={Uri.EscapeDataString(name)}", ct).ConfigureAwait(false);
            return doc.RootElement.GetProperty("experiment").GetProperty("experiment_id").GetString();
        }
        catch (MlflowApiException e) when (e.ErrorCode == "RESOURCE_DOES_NOT_EXIST")
        {
            return null;
        }
    }

    public async Task<string> CreateExperimentAsync(string name, CancellationToken ct)
    {
        using var doc = await PostAsync("experiments/create", w => w.WriteString("name", name), ct).ConfigureAwait(false);
        return doc.RootElement.GetProperty("experiment_id").GetString()!;
    }

    public async Task<string> CreateRunAsync(string experimentId, string runName, long startTimeMs, IReadOnlyList<MlflowKeyValue> tags, CancellationToken ct)
    {
        using var doc = await PostAsync("runs/create", w =>
        {
            w.WriteString("experiment_id", experimentId);
            w.WriteString("run_name", runName);
            w.WriteNumber("start_time", startTimeMs);
            WriteKeyValues(w, "tags", tags);
        }, ct).ConfigureAwait(false);
        return doc.RootElement.GetProperty("run").GetProperty("info").GetProperty("run_id").GetString()!;
    }

    /// <summary>The run's status (RUNNING, FINISHED...), or null when it does not exist.</summary>
    public async Task<string?> GetRunStatusAsync(string runId, CancellationToken ct)
    {
        try
        {
            using var doc = await GetAsync($"runs/get?run_id={Uri.EscapeDataString(runId)}", ct).ConfigureAwait(false);
            var info = doc.RootElement.GetProperty("run").GetProperty("info");
            if (info.TryGetProperty("lifecycle_stage", out var stage) && stage.GetString() == "deleted") return null;
            return info.GetProperty("status").GetString();
        }
        catch (MlflowApiException e) when (e.ErrorCode == "RESOURCE_DOES_NOT_EXIST")
        {
            return null;
        }
    }

    public async Task UpdateRunAsync(string runId, string status, long endTimeMs, CancellationToken ct)
    {
        using var _ = await PostAsync("runs/update", w =>
        {
            w.WriteString("run_id", runId);
            w.WriteString("status", status);
            w.WriteNumber("end_time", endTimeMs);
        }, ct).ConfigureAwait(false);
    }

    public async Task LogBatchAsync(string runId, MlflowBatch batch, CancellationToken ct)
    {
        using var _ = await PostAsync("runs/log-batch", w =>
        {
            w.WriteString("run_id", runId);
            if (batch.Metrics.Count > 0)
            {
                w.WriteStartArray("metrics");
                foreach (var m in batch.Metrics)
                {
                    w.WriteStartObject();
                    w.WriteString("key", m.Key);
                    // Protobuf's JSON mapping (which MLflow parses with) spells non-finite doubles as these strings.
                    if (double.IsFinite(m.Value)) w.WriteNumber("value", m.Value);
                    else w.WriteString("value", double.IsNaN(m.Value) ? "NaN" : m.Value > 0 ? "Infinity" : "-Infinity");
                    w.WriteNumber("timestamp", m.Timestamp);
                    w.WriteNumber("step", m.Step);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (batch.Params.Count > 0) WriteKeyValues(w, "params", batch.Params);
            if (batch.Tags.Count > 0) WriteKeyValues(w, "tags", batch.Tags);
        }, ct).ConfigureAwait(false);
    }

    private static void WriteKeyValues(Utf8JsonWriter w, string name, IReadOnlyList<MlflowKeyValue> items)
    {
        w.WriteStartArray(name);
        foreach (var kv in items)
        {
            w.WriteStartObject();
            w.WriteString("key", kv.Key);
            w.WriteString("value", kv.Value);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private async Task<JsonDocument> PostAsync(string endpoint, Action<Utf8JsonWriter> body, CancellationToken ct)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        using var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _http.PostAsync(Api + endpoint, content, ct).ConfigureAwait(false);
        return await ReadAsync("POST " + endpoint, response, ct).ConfigureAwait(false);
    }

    private async Task<JsonDocument> GetAsync(string pathAndQuery, CancellationToken ct)
    {
        using var response = await _http.GetAsync(Api + pathAndQuery, ct).ConfigureAwait(false);
        return await ReadAsync("GET " + pathAndQuery.Split('?')[0], response, ct).ConfigureAwait(false);
    }

    private static async Task<JsonDocument> ReadAsync(string endpoint, HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            try
            {
                return JsonDocument.Parse(text.Length == 0 ? "{}" : text);
            }
            catch (JsonException e)
            {
                throw new MlflowApiException(endpoint, response.StatusCode, "INVALID_RESPONSE", $"not JSON: {e.Message}");
            }
        }
        var (code, message) = ParseError(text);
        throw new MlflowApiException(endpoint, response.StatusCode, code, message);
    }

    /// <summary>MLflow errors are {"error_code": ..., "message": ...}; a proxy in front may answer anything.</summary>
    private static (string Code, string Message) ParseError(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error_code", out var code))
                return (code.GetString() ?? "UNKNOWN", root.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "");
        }
        catch (JsonException)
        {
            // Not JSON: shown as text below.
        }
        return ("UNKNOWN", text.Length > 200 ? text[..200] + "..." : text);
    }

    public void Dispose() => _http.Dispose();
}
