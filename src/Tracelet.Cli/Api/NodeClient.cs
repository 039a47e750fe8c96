using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tracelet.Cli.Api;

/// <summary>The node's HTTP API as the CLI uses it; every failure becomes a <see cref="CliFailureException"/> naming the URL.</summary>
internal sealed class NodeClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _baseUrl;
    private readonly TimeSpan _timeout;
    private readonly bool _hasToken;

    public NodeClient(string baseUrl, string? token, TimeSpan timeout)
    {
        _baseUrl = baseUrl.TrimEnd('/');
        _timeout = timeout;
        _hasToken = token is not null;
        _http = new HttpClient { Timeout = timeout };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("tracelet-cli", "0.1.0"));
        if (token is not null) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public string BaseUrl => _baseUrl;

    /// <summary>The status of the cluster and the answer as received, or a one-node view from GET /status for older nodes.</summary>
    public async Task<(ClusterStatus Status, JsonElement Json)> GetClusterStatusAsync(CancellationToken ct)
    {
        var (code, body) = await SendAsync(HttpMethod.Get, "/status/cluster", ct);
        if (code == HttpStatusCode.NotFound)
        {
            // A node without the cluster view (an older version) has only its own status.
            var (legacyCode, legacyBody) = await SendAsync(HttpMethod.Get, "/status", ct);
            EnsureSuccess(HttpMethod.Get, "/status", legacyCode, legacyBody);
            var legacy = LegacyStatus.ToCluster(Parse(legacyBody, "/status"), _baseUrl);
            return (legacy, JsonSerializer.SerializeToElement(legacy, ContractJson.Default.ClusterStatus));
        }
        EnsureSuccess(HttpMethod.Get, "/status/cluster", code, body);
        // The view is republished about once a second: the answering node's own plugins are read fresh
        // from GET /status, so that a status right after a plugin command on this node shows its outcome.
        var json = await WithOwnPluginsAsync(Parse(body, "/status/cluster"), ct);
        try
        {
            var status = json.Deserialize(ContractJson.Default.ClusterStatus)
                ?? throw new JsonException("the answer is null");
            return (status, json);
        }
        catch (JsonException e)
        {
            throw Unreadable("/status/cluster", e.Message);
        }
    }

    /// <summary>
    /// The cluster view with the answering node's entry brought up to date from its GET /status
    /// (state, error, restarts, retry, version); unknown fields are kept. Any failure of that read
    /// leaves the view as it was: the view alone is still a valid answer.
    /// </summary>
    private async Task<JsonElement> WithOwnPluginsAsync(JsonElement view, CancellationToken ct)
    {
        ClusterStatus own;
        try
        {
            var (code, body) = await SendAsync(HttpMethod.Get, "/status", ct);
            if (code != HttpStatusCode.OK) return view;
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return view;
            own = LegacyStatus.ToCluster(doc.RootElement, _baseUrl);
        }
        catch (Exception e) when (e is CliFailureException or JsonException or InvalidOperationException)
        {
            return view;
        }
        if (JsonNode.Parse(view.GetRawText()) is not JsonObject root || root["nodes"] is not JsonArray nodes) return view;
        var self = own.Nodes[0];
        var entry = nodes.OfType<JsonObject>().FirstOrDefault(n => n["node"] is JsonValue v && v.TryGetValue<string>(out var id) && id == self.Node);
        if (entry?["plugins"] is not JsonArray plugins) return view;
        foreach (var fresh in self.Plugins)
        {
            var known = plugins.OfType<JsonObject>().FirstOrDefault(p => p["name"] is JsonValue v && v.TryGetValue<string>(out var name) && name == fresh.Name);
            if (known is null)
            {
                known = new JsonObject { ["name"] = fresh.Name, ["type"] = fresh.Type };
                plugins.Add(known);
            }
            known["state"] = fresh.State;
            known["error"] = fresh.Error;
            known["restarts"] = fresh.Restarts;
            if (fresh.Version is not null) known["version"] = fresh.Version;
            known["last_transition"] = fresh.LastTransition?.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            known["retry"] = fresh.Retry is { } retry
                ? new JsonObject { ["next_attempt_at"] = retry.NextAttemptAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture), ["attempt"] = retry.Attempt, ["last_error"] = retry.LastError }
                : null;
            known["update_available"] = fresh.UpdateAvailable;
        }
        return JsonSerializer.SerializeToElement(root, ContractJson.Default.JsonObject);
    }

    /// <summary>The id the node reports for itself in GET /status, or null when it does not say (an older node, a failure).</summary>
    public async Task<string?> GetOwnNodeIdAsync(CancellationToken ct)
    {
        try
        {
            var (code, body) = await SendAsync(HttpMethod.Get, "/status", ct);
            if (code != HttpStatusCode.OK) return null;
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("node", out var node) && node.ValueKind == JsonValueKind.String
                ? node.GetString()
                : null;
        }
        catch (Exception e) when (e is CliFailureException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Whether the node routes commands to other nodes (has GET /status/cluster).</summary>
    public async Task<bool> KnowsClusterAsync(CancellationToken ct)
    {
        var (code, body) = await SendAsync(HttpMethod.Get, "/status/cluster", ct);
        if (code == HttpStatusCode.NotFound) return false;
        EnsureSuccess(HttpMethod.Get, "/status/cluster", code, body);
        return true;
    }

    /// <summary>POST /plugins/{name}/{action} with an optional query; returns the status code and the parsed body.</summary>
    public async Task<(HttpStatusCode Code, JsonElement? Json, string Body)> PostPluginActionAsync(string name, string action, string query, CancellationToken ct)
    {
        var path = $"/plugins/{Uri.EscapeDataString(name)}/{action}{query}";
        var (code, body) = await SendAsync(HttpMethod.Post, path, ct);
        if (code == HttpStatusCode.Unauthorized) throw TokenRequired(body);
        JsonElement? json = null;
        try
        {
            if (body.Length > 0) json = JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            // Plain-text answers (an unknown action, a proxy's error page) are shown as they are.
        }
        return (code, json, body);
    }

    private async Task<(HttpStatusCode Code, string Body)> SendAsync(HttpMethod method, string path, CancellationToken ct)
    {
        var url = _baseUrl + path;
        try
        {
            using var request = new HttpRequestMessage(method, url);
            using var response = await _http.SendAsync(request, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            return (response.StatusCode, body);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (TaskCanceledException)
        {
            throw new CliFailureException(ExitCodes.UsageOrConnection,
                $"the node at {_baseUrl} did not answer {method} {path} within {Durations.Format(_timeout)} (--timeout)");
        }
        catch (HttpRequestException e)
        {
            throw new CliFailureException(ExitCodes.UsageOrConnection,
                $"cannot reach the node at {_baseUrl}: {e.Message} (--url or TRACELET_URL)");
        }
    }

    private void EnsureSuccess(HttpMethod method, string path, HttpStatusCode code, string body)
    {
        if (code == HttpStatusCode.Unauthorized) throw TokenRequired(body);
        if ((int)code is < 200 or > 299)
            throw new CliFailureException(ExitCodes.UsageOrConnection,
                $"{method} {_baseUrl}{path} answered {(int)code} {code}: {Shorten(body)}");
    }

    private JsonElement Parse(string body, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw Unreadable(path, e.Message);
        }
    }

    private CliFailureException Unreadable(string path, string reason) =>
        new(ExitCodes.UsageOrConnection, $"the node at {_baseUrl} answered {path} with JSON the CLI cannot read: {reason}");

    private CliFailureException TokenRequired(string body)
    {
        // The node's own words say why (a wrong token, or a token sent to a node that has none).
        var why = Shorten(body.ReplaceLineEndings(" "));
        return new(ExitCodes.UsageOrConnection, (_hasToken
            ? $"the node at {_baseUrl} refused the token given (--token or TRACELET_HTTP_TOKEN)"
            : $"the node at {_baseUrl} requires a token (--token or TRACELET_HTTP_TOKEN)") + (why.Length > 0 ? ": " + why : ""));
    }

    private static string Shorten(string body)
    {
        var text = body.Trim();
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    public void Dispose() => _http.Dispose();
}
