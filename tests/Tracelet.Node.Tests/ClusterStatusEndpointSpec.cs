using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>The real node's GET /status/cluster and its bearer-token guard beyond loopback.</summary>
[Trait("Category", "Process")]
public sealed class ClusterStatusEndpointSpec : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly string _dataDir = Directory.CreateTempSubdirectory("tracelet-cluster-status-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public void Dispose()
    {
        _http.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // the node may still hold a file for a moment; the OS cleans temp folders
        }
    }

    private NodeProcess StartNode(int port, params string[] extraArgs) =>
        NodeProcess.Start(null, new NodeLaunch(NodeBuild.NodeDll, _dataDir, port, "status-test", _dataDir, Path.Combine(_dataDir, "node.log"), extraArgs));

    private async Task<(HttpStatusCode Status, string Body)> Send(HttpMethod method, int port, string path, string? token)
    {
        using var request = new HttpRequestMessage(method, new Uri($"http://127.0.0.1:{port}/{path}"));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (method == HttpMethod.Post) request.Content = new ByteArrayContent([]);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Polls until the request answers and <paramref name="until"/> holds for its body; fails naming the last answer.</summary>
    private async Task<JsonElement> Require(NodeProcess node, int port, string path, string? token, Func<JsonElement, bool> until)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        var last = "(no answer)";
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(node.HasExited, $"the node exited:\n{node.Tail(40)}");
            try
            {
                var (status, body) = await Send(HttpMethod.Get, port, path, token);
                last = $"{(int)status} {body}";
                if (status == HttpStatusCode.OK)
                {
                    var json = JsonDocument.Parse(body).RootElement.Clone();
                    if (until(json)) return json;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"GET /{path} never matched. Last answer: {last}\nNode output:\n{node.Tail(40)}");
    }

    private static bool HeartbeatActive(JsonElement view) =>
        view.GetProperty("nodes").EnumerateArray().Any(n => n.GetProperty("plugins").EnumerateArray()
            .Any(p => p.GetProperty("name").GetString() == "heartbeat" && p.GetProperty("state").GetString() == "active"));

    [Fact]
    public async Task Cluster_status_lists_this_node_and_its_plugins_in_the_contract_shape()
    {
        var port = NodeBuild.FreeLoopbackPort();
        await using var node = StartNode(port);
        var view = await Require(node, port, "status/cluster", null, HeartbeatActive);

        Assert.Equal("status-test", view.GetProperty("node").GetString());
        Assert.True(view.GetProperty("generated_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        var self = Assert.Single(view.GetProperty("nodes").EnumerateArray());
        Assert.Equal("status-test", self.GetProperty("node").GetString());
        Assert.StartsWith("akka.tcp://tracelet@", self.GetProperty("address").GetString());
        Assert.Equal($"http://127.0.0.1:{port}", self.GetProperty("http").GetString());
        Assert.Equal(JsonValueKind.Array, self.GetProperty("roles").ValueKind);
        Assert.Equal(("up", true), (self.GetProperty("member_status").GetString(), self.GetProperty("reachable").GetBoolean()));
        Assert.Equal(JsonValueKind.String, self.GetProperty("last_seen").ValueKind);
        Assert.True(self.GetProperty("seconds_since_seen").GetDouble() >= 0);
        var heartbeat = self.GetProperty("plugins").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "heartbeat");
        Assert.Equal("collector", heartbeat.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, heartbeat.GetProperty("buffer_fill").ValueKind);
        Assert.Equal(JsonValueKind.Object, heartbeat.GetProperty("dropped").ValueKind);
        foreach (var key in new[] { "version", "error", "restarts", "last_transition", "in_flight", "delivered" })
            Assert.True(heartbeat.TryGetProperty(key, out _), $"plugin entry lacks {key}: {heartbeat}");
        var console = self.GetProperty("plugins").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "console");
        Assert.Equal("backend", console.GetProperty("type").GetString());
        var summary = view.GetProperty("summary");
        Assert.Equal((1, 1, 0), (summary.GetProperty("nodes").GetInt32(), summary.GetProperty("reachable").GetInt32(), summary.GetProperty("unreachable").GetInt32()));
        Assert.Equal(self.GetProperty("plugins").GetArrayLength(), summary.GetProperty("plugins").GetInt32());

        // ?node= routes through the view even to this node; an unknown node is 404.
        var stop = await Send(HttpMethod.Post, port, "plugins/heartbeat/stop?node=status-test", null);
        Assert.Equal(HttpStatusCode.OK, stop.Status);
        var result = Assert.Single(JsonDocument.Parse(stop.Body).RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal(("status-test", true, "stopped"), (result.GetProperty("node").GetString(), result.GetProperty("ok").GetBoolean(), result.GetProperty("state").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Post, port, "plugins/heartbeat/start?node=nowhere", null)).Status);
    }

    [Fact]
    public async Task Node_status_shows_a_plugin_entry_with_lower_case_state_and_type_and_snake_case_runtime_counters()
    {
        var port = NodeBuild.FreeLoopbackPort();
        await using var node = StartNode(port);
        var status = await Require(node, port, "status", null, s =>
            s.GetProperty("plugins").TryGetProperty("heartbeat", out var h) && h.GetProperty("state").GetString() == "active" && h.TryGetProperty("runtime", out _));

        Assert.Equal(0, status.GetProperty("retrying").GetInt32());
        var heartbeat = status.GetProperty("plugins").GetProperty("heartbeat");
        Assert.Equal(("active", "collector"), (heartbeat.GetProperty("state").GetString(), heartbeat.GetProperty("type").GetString()));
        Assert.Equal("interval_s,collections,samples_produced,skipped_ticks,blocked_ticks,blocked_by,stuck_calls",
            string.Join(",", heartbeat.GetProperty("runtime").EnumerateObject().Select(p => p.Name))); // stuck only while a call is stuck
        Assert.Equal("state,type,version,status,runtime,restarts,last_transition,origin",
            string.Join(",", heartbeat.EnumerateObject().Select(p => p.Name))); // error, retry and update_available only when there is one
        var console = status.GetProperty("plugins").GetProperty("console");
        Assert.Equal("backend", console.GetProperty("type").GetString());
        Assert.Equal("batches_written,samples_written,samples_rejected,queue_batches,sources,stuck_calls",
            string.Join(",", console.GetProperty("runtime").EnumerateObject().Select(p => p.Name)));
    }

    /// <summary>
    /// POST /plugins/{name}/upgrade reaches the node's PluginManager and is answered as the other actions are.
    /// It needs a manager that handles UpgradePlugin: until then the node answers 504 after 60 s.
    /// </summary>
    [Fact]
    public async Task Plugin_upgrade_over_http_is_answered_by_the_node_on_its_own_and_routed()
    {
        var port = NodeBuild.FreeLoopbackPort();
        await using var node = StartNode(port);
        await Require(node, port, "status/cluster", null, HeartbeatActive);

        // heartbeat is built in, not a folder plugin: the manager refuses the upgrade (409) and it keeps running.
        var local = await Send(HttpMethod.Post, port, "plugins/heartbeat/upgrade", null);
        Assert.True(local.Status == HttpStatusCode.Conflict, $"{(int)local.Status} {local.Body}");
        var answer = JsonDocument.Parse(local.Body).RootElement;
        Assert.Equal(("heartbeat", "active"), (answer.GetProperty("plugin").GetString(), answer.GetProperty("state").GetString()));
        Assert.False(string.IsNullOrEmpty(answer.GetProperty("error").GetString()));

        var routed = await Send(HttpMethod.Post, port, "plugins/heartbeat/upgrade?node=status-test", null);
        Assert.True(routed.Status == HttpStatusCode.Conflict, $"{(int)routed.Status} {routed.Body}");
        var result = Assert.Single(JsonDocument.Parse(routed.Body).RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal(("status-test", false, "active", false), (result.GetProperty("node").GetString(), result.GetProperty("ok").GetBoolean(),
            result.GetProperty("state").GetString(), result.GetProperty("timed_out").GetBoolean()));
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Post, port, "plugins/no-such-plugin/upgrade", null)).Status);
    }

    [Fact]
    public async Task Beyond_loopback_every_request_but_healthz_needs_the_token_and_a_refused_mutation_is_logged()
    {
        const string Token = "s3cret-for-this-test";
        var port = NodeBuild.FreeLoopbackPort();
        var file = Path.Combine(_dataDir, "http.conf");
        await File.WriteAllTextAsync(file, $"tracelet.http {{ hostname = \"0.0.0.0\", token = \"{Token}\" }}\n");
        await using var node = StartNode(port, "--config", file);
        await Require(node, port, "status/cluster", Token, HeartbeatActive);

        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, port, "status/cluster", null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, port, "status", "wrong-token")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, port, "metrics", null)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, port, "status", Token)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, port, "healthz", null)).Status); // readiness probes carry no token

        var refused = await Send(HttpMethod.Post, port, "plugins/heartbeat/stop", null);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!node.Output.Contains("Refused POST /plugins/heartbeat/stop from", StringComparison.Ordinal) && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Contains("Refused POST /plugins/heartbeat/stop from", node.Output);
        Assert.DoesNotContain(Token, node.Output);
        Assert.Equal("active", (await Require(node, port, "status", Token, _ => true)).GetProperty("plugins").GetProperty("heartbeat").GetProperty("state").GetString());

        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, port, "plugins/heartbeat/stop", Token)).Status);
    }

    [Theory]
    [InlineData(null, "this node has no token (tracelet.http.token is not set): send none")]
    [InlineData("s3cret-for-this-test", "the bearer token is wrong (it must be tracelet.http.token)")]
    public async Task On_loopback_a_token_that_is_sent_and_wrong_is_refused_even_where_none_is_needed(string? configured, string refusal)
    {
        var port = NodeBuild.FreeLoopbackPort();
        var args = new List<string>();
        if (configured is not null)
        {
            var file = Path.Combine(_dataDir, "http.conf");
            await File.WriteAllTextAsync(file, $"tracelet.http.token = \"{configured}\"\n");
            args.AddRange(["--config", file]);
        }
        await using var node = StartNode(port, [.. args]);
        await Require(node, port, "status", null, _ => true);

        var wrong = await Send(HttpMethod.Get, port, "status", "wrong");
        Assert.True(wrong.Status == HttpStatusCode.Unauthorized, $"{(int)wrong.Status} {wrong.Body}");
        Assert.Equal(refusal, wrong.Body.Trim());
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, port, "healthz", "wrong")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, port, "status", null)).Status); // on loopback a read still needs none
        if (configured is not null) Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, port, "status", configured)).Status);
    }
}
