using System.Text.Json;
using Xunit;

namespace Tracelet.Cli.Tests;

public sealed class PluginActionCommandSpec : IDisposable
{
    private readonly ContractNode _node = new();

    public PluginActionCommandSpec() =>
        _node.On("GET /status/cluster", 200, new ClusterJson().Node("node-a").Node("node-b").Build());

    public void Dispose() => _node.Dispose();

    [Fact]
    public async Task Plugin_stop_on_one_node_posts_the_routed_command_and_prints_its_result()
    {
        _node.On("POST /plugins/sql/stop?node=node-b", 200,
            """{"results":[{"node":"node-b","plugin":"sql","ok":true,"state":"stopped","error":null}]}""");

        var run = await CliRun.RunAsync("plugin", "stop", "sql", "--node", "node-b", "--url", _node.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(_node.Requests, r => r.Method == "POST" && r.PathAndQuery == "/plugins/sql/stop?node=node-b");
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-b", StringComparison.Ordinal) && l.Contains("sql") && l.Contains("ok") && l.Contains("stopped"));
    }

    [Fact]
    public async Task Plugin_restart_everywhere_exits_1_when_one_node_failed_and_names_it()
    {
        _node.On("POST /plugins/gpu/restart?all=true", 409, """
            {"results":[{"node":"node-a","plugin":"gpu","ok":true,"state":"active","error":null},
                        {"node":"node-b","plugin":"gpu","ok":false,"state":"error","error":"NVML not available: libnvidia-ml.so.1"}]}
            """);

        var run = await CliRun.RunAsync("plugin", "restart", "gpu", "--all", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(_node.Requests, r => r.Method == "POST" && r.PathAndQuery == "/plugins/gpu/restart?all=true");
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-a", StringComparison.Ordinal) && l.Contains("ok") && l.Contains("active"));
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-b", StringComparison.Ordinal) && l.Contains("failed") && l.Contains("NVML not available"));
        Assert.Contains("failed on 1 of 2 node(s)", run.Err);
    }

    [Fact]
    public async Task Plugin_upgrade_on_every_node_posts_the_routed_command_and_shows_each_nodes_detail()
    {
        _node.On("POST /plugins/mlflow/upgrade?all=true", 409, """
            {"results":[{"node":"node-a","plugin":"mlflow","ok":true,"state":"active","error":null,"timed_out":false,"detail":"upgraded 1.0.0 -> 1.1.0"},
                        {"node":"node-b","plugin":"mlflow","ok":false,"state":"active","error":"1.1.0 failed to start: schema: 'uri' is required; 1.0.0 runs again","timed_out":false}]}
            """);

        var run = await CliRun.RunAsync("plugin", "upgrade", "mlflow", "--all", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(_node.Requests, r => r.Method == "POST" && r.PathAndQuery == "/plugins/mlflow/upgrade?all=true");
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-a", StringComparison.Ordinal) && l.Contains("ok") && l.Contains("upgraded 1.0.0 -> 1.1.0"));
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-b", StringComparison.Ordinal) && l.Contains("failed") && l.Contains("1.0.0 runs again"));
        Assert.Contains("upgrade mlflow: failed on 1 of 2 node(s)", run.Err);
    }

    [Fact]
    public async Task Plugin_upgrade_on_the_node_at_the_url_exits_0_and_prints_the_detail()
    {
        _node.On("POST /plugins/mlflow/upgrade", 200, """{"plugin":"mlflow","state":"active","detail":"upgraded 1.0.0 -> 1.1.0"}""");

        var run = await CliRun.RunAsync("plugin", "upgrade", "mlflow", "--url", _node.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.Out.Split('\n'), l => l.Contains("mlflow") && l.Contains("active") && l.Contains("upgraded 1.0.0 -> 1.1.0"));
    }

    [Fact]
    public async Task Plugin_stop_on_the_node_at_the_url_names_the_node_by_its_id_as_with_node()
    {
        _node.On("POST /plugins/sql/stop", 200, """{"plugin":"sql","state":"stopped"}""");
        _node.On("GET /status", 200, """{"node":"node-a","ready":true,"plugins":{"sql":{"state":"stopped","type":"backend"}}}""");

        var run = await CliRun.RunAsync("plugin", "stop", "sql", "--url", _node.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-a ", StringComparison.Ordinal) && l.Contains("sql") && l.Contains("ok") && l.Contains("stopped"));
        Assert.DoesNotContain(_node.Url, run.Out);
    }

    [Fact]
    public async Task Plugin_stop_names_the_dependents_it_stopped_first()
    {
        _node.On("POST /plugins/sql/stop?node=node-b", 200,
            """{"results":[{"node":"node-b","plugin":"sql","ok":true,"state":"stopped","error":null,"timed_out":false,"cascaded":["exporter","report"]}]}""");

        var run = await CliRun.RunAsync("plugin", "stop", "sql", "--node", "node-b", "--url", _node.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("node-b", StringComparison.Ordinal) && l.Contains("also stopped: exporter, report"));
    }

    [Fact]
    public async Task Plugin_stop_without_cascade_asks_the_node_to_refuse_while_dependents_run_and_exits_1_with_its_reason()
    {
        _node.On("POST /plugins/sql/stop?cascade=false", 409,
            """{"plugin":"sql","error":"'exporter' depends on 'sql' and is running; stop it first, or stop with cascade","state":"active"}""");

        var run = await CliRun.RunAsync("plugin", "stop", "sql", "--no-cascade", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("'exporter' depends on 'sql' and is running", run.Out + run.Err);
        Assert.Contains(_node.Requests, r => r.PathAndQuery == "/plugins/sql/stop?cascade=false");
    }

    [Fact]
    public async Task Plugin_start_that_timed_out_on_a_node_exits_1()
    {
        _node.On("POST /plugins/sql/start?node=node-b", 504,
            """{"results":[{"node":"node-b","plugin":"sql","ok":false,"state":null,"error":"node-b did not answer within 10s"}]}""");

        var run = await CliRun.RunAsync("plugin", "start", "sql", "--node", "node-b", "--url", _node.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("did not answer within 10s", run.Out);
    }

    [Fact]
    public async Task Plugin_start_of_an_unknown_plugin_or_node_exits_2_with_the_nodes_reason()
    {
        _node.On("POST /plugins/nope/start?node=node-z", 404, """{"error":"unknown node 'node-z'","results":[]}""");

        var run = await CliRun.RunAsync("plugin", "start", "nope", "--node", "node-z", "--url", _node.Url);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("unknown node 'node-z'", run.Err);
    }

    [Fact]
    public async Task Plugin_stop_without_node_acts_on_the_node_at_the_url()
    {
        _node.On("POST /plugins/heartbeat/stop", 200, """{"plugin":"heartbeat","state":"stopped"}""");

        var run = await CliRun.RunAsync("plugin", "stop", "heartbeat", "--url", _node.Url, "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(_node.Requests, r => r.Method == "POST" && r.PathAndQuery == "/plugins/heartbeat/stop");
        Assert.DoesNotContain(_node.Requests, r => r.PathAndQuery == "/status/cluster");
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal("stopped", doc.RootElement.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Plugin_stop_on_another_node_is_refused_by_a_node_without_the_cluster_api()
    {
        using var old = new ContractNode(); // answers 404 to GET /status/cluster, like a node from before issue 7
        old.On("POST /plugins/sql/stop", 200, """{"plugin":"sql","state":"stopped"}""");

        var run = await CliRun.RunAsync("plugin", "stop", "sql", "--node", "node-b", "--url", old.Url);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("cannot route commands", run.Err);
        Assert.DoesNotContain(old.Requests, r => r.Method == "POST");
    }

    [Fact]
    public async Task Plugin_stop_sends_the_token_and_a_401_exits_2()
    {
        _node.On("POST /plugins/sql/stop", 401, "a bearer token is required\n");

        var run = await CliRun.RunAsync("plugin", "stop", "sql", "--url", _node.Url, "--token", "wrong");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(_node.Requests, r => r.Method == "POST" && r.Authorization == "Bearer wrong");
        Assert.Contains("refused the token", run.Err);
    }
}
