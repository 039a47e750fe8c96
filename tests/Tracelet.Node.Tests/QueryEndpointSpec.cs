using System.Diagnostics;
using System.Net;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>
/// The sql backend inside a real node: the heartbeat collector's samples travel the pipeline into
/// the SQLite store in the data directory, and GET /query returns them as CSV.
/// </summary>
[Trait("Category", "Process")]
public sealed class QueryEndpointSpec : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly string _dataDir = Directory.CreateTempSubdirectory("tracelet-query-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // a stopped node may hold a file for a moment; the temp folder is cleaned by the OS
        }
    }

    [Fact]
    public async Task Heartbeats_are_stored_by_the_sql_backend_and_returned_by_the_query_endpoint()
    {
        var config = Path.Combine(_dataDir, "sql.conf");
        await File.WriteAllTextAsync(config, """
            tracelet.plugins {
              heartbeat { enabled = on, config { interval = 200ms } }
              console { enabled = off }
              sql { enabled = on, config { retention = 7d } }
            }
            """);
        var port = NodeBuild.FreeLoopbackPort();
        await using var node = NodeProcess.Start(null, new NodeLaunch(NodeBuild.NodeDll, _dataDir, port, "query-test", _dataDir, Path.Combine(_dataDir, "node.log"), ["--config", config]));
        var status = await node.RequireStatusAsync(s => s.GetProperty("plugins").TryGetProperty("sql", out var sql) && sql.GetProperty("state").GetString() == "active"
            && sql.GetProperty("status").GetProperty("samples_written").GetInt64() >= 3, Timeout);
        Assert.Equal(Path.Combine(_dataDir, "sql", "metrics.db"), status.GetProperty("plugins").GetProperty("sql").GetProperty("status").GetProperty("target").GetString());

        var baseUri = $"http://127.0.0.1:{port}/query";
        var csv = await PollAsync($"{baseUri}?metric=tracelet.heartbeat.sequence&node=query-test&from=-10m&to=now&format=csv", body => body.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length >= 4);
        var rows = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("time,node,source,name,labels,value,step,text", rows[0]);
        Assert.All(rows.Skip(1), r => Assert.Contains(",query-test,heartbeat,tracelet.heartbeat.sequence,", r));
        // Heartbeat sequence numbers only grow, and the rows come oldest first.
        var values = rows.Skip(1).Select(r => double.Parse(r.Split(',')[5], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(values.Order(), values);

        using var other = await Http.GetAsync($"{baseUri}?metric=tracelet.heartbeat.sequence&node=some-other-node&format=csv");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal("time,node,source,name,labels,value,step,text\r\n", await other.Content.ReadAsStringAsync());

        using var cut = await Http.GetAsync($"{baseUri}?metric=tracelet.heartbeat.sequence&from=-10m&format=csv&limit=1");
        Assert.Equal("true", cut.Headers.GetValues("X-Tracelet-Truncated").Single());
        Assert.Equal(2, (await cut.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        using var json = await Http.GetAsync($"{baseUri}?metric=tracelet.heartbeat.sequence&from=-10m&format=json&limit=1");
        Assert.Contains("\"truncated\":true", await json.Content.ReadAsStringAsync());
        Assert.Equal("false", other.Headers.GetValues("X-Tracelet-Truncated").Single());

        using var tooMany = await Http.GetAsync($"{baseUri}?metric=x&limit=100001");
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("between 1 and 100000", await tooMany.Content.ReadAsStringAsync());

        using var badTime = await Http.GetAsync($"{baseUri}?metric=x&from=yesterday-ish");
        Assert.Equal(HttpStatusCode.BadRequest, badTime.StatusCode);
        Assert.Contains("'from'", await badTime.Content.ReadAsStringAsync());

        using var noMetric = await Http.GetAsync(baseUri);
        Assert.Equal(HttpStatusCode.BadRequest, noMetric.StatusCode);
        Assert.Contains("'metric'", await noMetric.Content.ReadAsStringAsync());
    }

    private static async Task<string> PollAsync(string uri, Func<string, bool> until)
    {
        var clock = Stopwatch.StartNew();
        var body = "";
        while (clock.Elapsed < Timeout)
        {
            using var response = await Http.GetAsync(uri);
            body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (until(body)) return body;
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException($"GET {uri} did not return enough rows within {Timeout.TotalSeconds}s; last body:\n{body}");
    }
}
