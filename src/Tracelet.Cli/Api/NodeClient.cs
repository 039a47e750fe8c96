using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

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
        var json = Parse(body, "/status/cluster");
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
        if (code == HttpStatusCode.Unauthorized) throw TokenRequired();
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
                $"the node at {_baseUrl} did not answer {method} {path} within {_timeout.TotalSeconds:0.###} s (--timeout)");
        }
        catch (HttpRequestException e)
        {
            throw new CliFailureException(ExitCodes.UsageOrConnection,
                $"cannot reach the node at {_baseUrl}: {e.Message} (--url or TRACELET_URL)");
        }
    }

    private void EnsureSuccess(HttpMethod method, string path, HttpStatusCode code, string body)
    {
        if (code == HttpStatusCode.Unauthorized) throw TokenRequired();
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

    private CliFailureException TokenRequired() =>
        new(ExitCodes.UsageOrConnection, _hasToken
            ? $"the node at {_baseUrl} refused the token given (--token or TRACELET_HTTP_TOKEN)"
            : $"the node at {_baseUrl} requires a token (--token or TRACELET_HTTP_TOKEN)");

    private static string Shorten(string body)
    {
        var text = body.Trim();
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    public void Dispose() => _http.Dispose();
}
