using System.Text.Json;
using Xunit;

namespace Tracelet.Cli.Tests;

public sealed class StatusCommandSpec : IDisposable
{
    private readonly ContractNode _node = new();

    public void Dispose() => _node.Dispose();

    [Fact]
    public async Task Status_of_an_all_active_cluster_exits_0_with_a_table_per_node()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system", delivered: 1234), ClusterJson.Backend("jsonl", delivered: 5678)])
            .Node("node-b", plugins: [ClusterJson.Collector("gpu")])
            .Build());

        var run = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Out.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("node-a  up  reachable", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("node-b  up  reachable", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("system") && l.Contains("collector") && l.Contains("active") && l.Contains("1234"));
        Assert.Contains(lines, l => l.Contains("jsonl") && l.Contains("backend") && l.Contains("5678"));
        Assert.Contains("2 nodes; 3 plugins: 3 active, 0 error, 0 stopped", run.Out);
        Assert.DoesNotContain('\u001b', run.Out);
    }

    [Fact]
    public async Task Status_with_a_plugin_in_error_exits_1_and_shows_the_error()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system"), ClusterJson.Backend("sql", "error", "connection refused: 127.0.0.1:5432")])
            .Build());

        var run = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(run.Out.Split('\n'), l => l.Contains("sql") && l.Contains("error") && l.Contains("connection refused: 127.0.0.1:5432"));
        Assert.Contains("1 error", run.Out);
    }

    [Fact]
    public async Task Status_with_a_retrying_plugin_exits_1_and_says_when_the_next_try_is()
    {
        var sql = ClusterJson.Backend("sql", "retrying", "connection refused: 127.0.0.1:5432");
        // 12 s after the view was generated (2026-11-26T17:00:00.123Z), whatever this machine's clock says.
        sql["retry"] = new System.Text.Json.Nodes.JsonObject
        {
            ["next_attempt_at"] = "2026-11-26T17:00:12.123Z",
            ["attempt"] = 2,
            ["last_error"] = "connection refused: 127.0.0.1:5432",
        };
        _node.On("GET /status/cluster", 200, new ClusterJson().Node("node-a", plugins: [ClusterJson.Collector("system"), sql]).Build());

        var run = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(run.Out.Split('\n'), l => l.Contains("sql") && l.Contains("RETRYING (attempt 2, next try in 12s)") && l.Contains("connection refused"));
        Assert.Contains("2 plugins: 1 active, 0 error, 1 retrying, 0 stopped", run.Out);
    }

    [Fact]
    public async Task Status_shows_the_error_in_red_on_a_terminal_and_plain_with_NO_COLOR()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Backend("sql", "error", "disk full")]).Build());

        var coloured = await CliRun.RunAsync(null, terminal: true, "status", "--url", _node.Url);
        var noColor = await CliRun.RunAsync(new Dictionary<string, string> { ["NO_COLOR"] = "1" }, terminal: true, "status", "--url", _node.Url);

        Assert.Contains("\u001b[31mdisk full\u001b[0m", coloured.Out);
        Assert.DoesNotContain('\u001b', noColor.Out);
        Assert.Contains("disk full", noColor.Out);
    }

    [Fact]
    public async Task Status_with_a_stopped_or_never_enabled_plugin_exits_0_but_one_still_starting_exits_1()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system"), ClusterJson.Collector("git", "stopped"), ClusterJson.Collector("gpu", "discovered")])
            .Build());
        var quiet = await CliRun.RunAsync("status", "--url", _node.Url);

        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system"), ClusterJson.Collector("gpu", "initialized")]).Build());
        var starting = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.True(starting.ExitCode == 1, starting.ToString());
        Assert.Contains("1 starting", starting.Out);
    }

    [Fact]
    public async Task Status_marks_an_unreachable_node_with_when_it_was_last_seen_and_exits_1()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system")])
            .Node("node-c", reachable: false, secondsSinceSeen: 12.4, plugins: [ClusterJson.Collector("system")])
            .Build());

        var run = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-c", StringComparison.Ordinal) && l.Contains("UNREACHABLE (last seen 12 s ago)"));
        Assert.Contains("1 unreachable", run.Out);
    }

    [Fact]
    public async Task Status_right_after_a_plugin_command_shows_what_the_answering_node_reports_for_its_own_plugins()
    {
        // The replicated view still has sql active (it is republished about once a second); the node itself already stopped it.
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system"), ClusterJson.Backend("sql", delivered: 5678)])
            .Node("node-b", plugins: [ClusterJson.Backend("sql")])
            .Build());
        _node.On("GET /status", 200, """
            {"node":"node-a","ready":true,
             "plugins":{"system":{"state":"active","type":"collector","version":"1.0.0","restarts":0},
                        "sql":{"state":"stopped","type":"backend","version":"2.1.0","restarts":0,"last_transition":"2026-11-26T17:00:00.100+00:00"}}}
            """);

        var run = await CliRun.RunAsync("status", "--url", _node.Url);
        var json = await CliRun.RunAsync("status", "--json", "--url", _node.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        var blocks = run.Out.Split("\n\n");
        var nodeA = Assert.Single(blocks, b => b.StartsWith("node-a", StringComparison.Ordinal));
        var nodeB = Assert.Single(blocks, b => b.StartsWith("node-b", StringComparison.Ordinal));
        Assert.Contains(nodeA.Split('\n'), l => l.Contains("sql") && l.Contains("stopped") && l.Contains("5678"));
        Assert.Contains(nodeB.Split('\n'), l => l.Contains("sql") && l.Contains("active"));
        Assert.Contains("1 stopped", run.Out);
        using var doc = JsonDocument.Parse(json.Out);
        var sql = doc.RootElement.GetProperty("nodes")[0].GetProperty("plugins").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "sql");
        Assert.Equal(("stopped", 5678), (sql.GetProperty("state").GetString(), sql.GetProperty("delivered").GetInt32()));
    }

    [Fact]
    public async Task Status_json_is_the_nodes_answer_for_scripts_without_colour()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Backend("sql", "error", "disk full")])
            .Node("node-b", reachable: false, plugins: [])
            .Build());

        var run = await CliRun.RunAsync(null, terminal: true, "status", "--json", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.DoesNotContain('\u001b', run.Out);
        using var doc = JsonDocument.Parse(run.Out);
        var nodes = doc.RootElement.GetProperty("nodes");
        Assert.Equal(["node-a", "node-b"], nodes.EnumerateArray().Select(n => n.GetProperty("node").GetString()));
        Assert.False(nodes[1].GetProperty("reachable").GetBoolean());
        Assert.Equal("disk full", nodes[0].GetProperty("plugins")[0].GetProperty("error").GetString());
    }

    [Fact]
    public async Task Status_falls_back_to_GET_status_on_a_node_without_the_cluster_api()
    {
        _node.On("GET /status", 200, """
            {"node":"old-node","ready":true,"discovered":3,"loaded":2,"active":1,"errors":1,
             "plugins":{"heartbeat":{"state":"active","type":"collector","version":"1.0.0","runtime":{"samples_produced":42},"restarts":0,"last_transition":"2026-11-26T16:50:00+00:00","origin":"builtin"},
                        "sql":{"state":"error","type":"backend","version":"1.0.0","error":"no database","restarts":3,"last_transition":null,"origin":"builtin"}},
             "discovery_errors":[],"pipeline":null}
            """);

        var run = await CliRun.RunAsync("status", "--url", _node.Url);
        var json = await CliRun.RunAsync("status", "--json", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(_node.Requests, r => r.PathAndQuery == "/status/cluster");
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("old-node", StringComparison.Ordinal));
        Assert.Contains(run.Out.Split('\n'), l => l.Contains("heartbeat") && l.Contains("42"));
        Assert.Contains(run.Out.Split('\n'), l => l.Contains("sql") && l.Contains("no database") && l.Contains(" 3 "));
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal("old-node", doc.RootElement.GetProperty("nodes")[0].GetProperty("node").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("nodes")[0].GetProperty("plugins").GetArrayLength());
    }

    [Fact]
    public async Task Status_node_option_takes_a_url_or_narrows_to_one_node_id()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson()
            .Node("node-a", plugins: [ClusterJson.Collector("system")])
            .Node("node-b", plugins: [ClusterJson.Backend("sql", "error", "disk full")])
            .Build());

        var byUrl = await CliRun.RunAsync("status", "--node", _node.Url);
        var onlyA = await CliRun.RunAsync("status", "--url", _node.Url, "--node", "node-a");
        var unknown = await CliRun.RunAsync("status", "--url", _node.Url, "--node", "node-z");

        Assert.True(byUrl.ExitCode == 1, byUrl.ToString());
        Assert.Contains("node-b", byUrl.Out);
        Assert.True(onlyA.ExitCode == 0, onlyA.ToString());
        Assert.DoesNotContain("node-b", onlyA.Out);
        Assert.True(unknown.ExitCode == 2, unknown.ToString());
        Assert.Contains("no node 'node-z'", unknown.Err);
    }

    [Fact]
    public async Task Status_sends_the_token_from_TRACELET_HTTP_TOKEN_and_the_url_from_TRACELET_URL()
    {
        _node.On("GET /status/cluster", 200, new ClusterJson().Node("node-a", plugins: [ClusterJson.Collector("system")]).Build());
        var env = new Dictionary<string, string> { ["TRACELET_HTTP_TOKEN"] = "s3cret", ["TRACELET_URL"] = _node.Url };

        var run = await CliRun.RunAsync(env, false, "status");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(_node.Requests, r => r.PathAndQuery == "/status/cluster" && r.Authorization == "Bearer s3cret");
    }

    [Fact]
    public async Task Status_answered_401_exits_2_and_says_a_token_is_needed()
    {
        _node.On("GET /status/cluster", 401, "a bearer token is required\n");

        var run = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("requires a token (--token or TRACELET_HTTP_TOKEN)", run.Err);
    }

    [Fact]
    public async Task Status_of_a_node_that_refuses_connections_exits_2_naming_the_url()
    {
        var url = _node.Url;
        _node.Dispose();

        var run = await CliRun.RunAsync("status", "--url", url);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"cannot reach the node at {url}", run.Err);
    }

    [Fact]
    public async Task Status_of_a_node_that_does_not_answer_exits_2_after_the_timeout()
    {
        _node.Hang("GET /status/cluster");

        var run = await CliRun.RunAsync("status", "--url", _node.Url, "--timeout", "300ms");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"the node at {_node.Url} did not answer GET /status/cluster within 300ms (--timeout)", run.Err);
    }

    [Fact]
    public async Task Help_writes_the_default_timeout_and_interval_as_they_are_typed()
    {
        var status = await CliRun.RunAsync("status", "--help");
        var watch = await CliRun.RunAsync("watch", "--help");

        Assert.Contains("[default: 5s]", status.Out);
        Assert.Contains("[default: 2s]", watch.Out);
        Assert.DoesNotContain("00:00:0", status.Out + watch.Out);
    }

    [Fact]
    public async Task Status_with_a_token_the_node_refuses_exits_2_and_says_why()
    {
        _node.On("GET /status/cluster", 401, "this node has no token (tracelet.http.token is not set): send none\n");

        var run = await CliRun.RunAsync("status", "--url", _node.Url, "--token", "wrong");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"error: the node at {_node.Url} refused the token given (--token or TRACELET_HTTP_TOKEN): this node has no token", run.Err);
    }

    [Fact]
    public async Task Status_of_an_answer_that_is_not_json_exits_2()
    {
        _node.On("GET /status/cluster", 200, "<html>proxy</html>");

        var run = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("cannot read", run.Err);
    }

    [Theory]
    [InlineData("""{ "node": "a", "nodes": null }""")]
    [InlineData("""{ "node": "a", "nodes": [ { "node": "a", "plugins": null } ] }""")]
    [InlineData("""[1, 2, 3]""")]
    public async Task Status_of_json_of_an_unexpected_shape_exits_2_without_crashing(string body)
    {
        _node.On("GET /status/cluster", 200, body);

        var run = await CliRun.RunAsync("status", "--url", _node.Url);

        Assert.True(run.ExitCode == 2, run.ToString());
    }
}
