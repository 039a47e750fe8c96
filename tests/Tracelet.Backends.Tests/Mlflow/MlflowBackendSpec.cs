using System.Text.Json;
using Tracelet.Abstractions;
using Tracelet.Backends.Mlflow;
using Xunit;

namespace Tracelet.Backends.Tests.Mlflow;

/// <summary>Contract tests against the recorded MLflow protocol (no MLflow server runs here).</summary>
public sealed class MlflowBackendSpec : IAsyncLifetime
{
    private readonly RecordedMlflowServer _server = new();
    private readonly TempDirectory _dir = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<MlflowBackend> Started(string extra = "")
    {
        var backend = new MlflowBackend(null, TimeProvider.System);
        var config = $$"""{ "tracking-uri": "{{_server.Uri}}", "experiment": "gpu-runs", "token": "s3cret", "retry-delay": "10ms"{{extra}} }""";
        await backend.InitializeAsync(Samples.Context(_dir.Path, config), CancellationToken.None);
        await backend.StartAsync(CancellationToken.None);
        return backend;
    }

    private List<JsonElement> Logged(string field) =>
        _server.Calls("runs/log-batch").Where(r => r.Status == 200 && r.Body.TryGetProperty(field, out _))
            .SelectMany(r => r.Body.GetProperty(field).EnumerateArray()).ToList();

    [Fact]
    public async Task The_experiment_is_looked_up_then_created_a_run_created_and_finished_on_stop_with_the_token_sent()
    {
        var backend = await Started();
        await backend.WriteAsync(new MetricBatch("node-a", "experiment", [Samples.Scalar("loss", 0.5, 3)]), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        Assert.Empty(_server.Violations);
        Assert.Equal(["experiments/get-by-name", "experiments/create", "runs/create", "runs/log-batch", "runs/update"], _server.Requests.Select(r => r.Endpoint));
        Assert.Equal(404, _server.Requests.First().Status);
        Assert.All(_server.Requests, r => Assert.Equal("Bearer s3cret", r.Authorization));
        var create = _server.Calls("runs/create").Single().Body;
        Assert.Equal("tracelet-node-a", create.GetProperty("run_name").GetString());
        Assert.Contains(create.GetProperty("tags").EnumerateArray(), t => t.GetProperty("key").GetString() == "tracelet.node" && t.GetProperty("value").GetString() == "node-a");
        var update = _server.Calls("runs/update").Single().Body;
        Assert.Equal("FINISHED", update.GetProperty("status").GetString());
        var metric = Assert.Single(Logged("metrics"));
        Assert.Equal("loss", metric.GetProperty("key").GetString());
        Assert.Equal(0.5, metric.GetProperty("value").GetDouble());
        Assert.Equal(3, metric.GetProperty("step").GetInt64());
        Assert.Equal(Samples.T0.ToUnixTimeMilliseconds(), metric.GetProperty("timestamp").GetInt64());
    }

    [Fact]
    public async Task Types_are_mapped_as_the_Python_backend_does()
    {
        var backend = await Started();
        var batch = new MetricBatch("node-a", "trainer", [
            new MetricSample("loss", MetricType.Scalar, 0.25, Samples.T0, "experiment_1234", 7),
            new MetricSample("lr", MetricType.Scalar, 0.001, Samples.T0, "trainer", 7),
            new MetricSample("gpu.utilization", MetricType.System, 0.9, Samples.T0, "gpu", Labels: [new MetricLabel("gpu", "0")]),
            new MetricSample("batch_size", MetricType.Parameter, 64, Samples.T0, "experiment"),
            new MetricSample("optimizer", MetricType.Parameter, double.NaN, Samples.T0, "experiment", Text: new string('x', 7000)),
            new MetricSample("notes", MetricType.Text, double.NaN, Samples.T0, "experiment", Text: "hello"),
            new MetricSample("hist", MetricType.Histogram, double.NaN, Samples.T0, "trainer", Text: "[1,2,3]"),
            new MetricSample("diverged", MetricType.Scalar, double.NaN, Samples.T0, "experiment", 8),
        ]);
        await backend.WriteAsync(batch, CancellationToken.None);

        Assert.Empty(_server.Violations);
        var metrics = Logged("metrics").ToDictionary(m => m.GetProperty("key").GetString()!, m => m.GetProperty("value"));
        Assert.Equal(["loss", "trainer.lr", "system/node-a/gpu.utilization/gpu_0", "diverged"], metrics.Keys);
        Assert.Equal("NaN", metrics["diverged"].GetString());
        var parameters = Logged("params").ToDictionary(p => p.GetProperty("key").GetString()!, p => p.GetProperty("value").GetString()!);
        Assert.Equal("64", parameters["batch_size"]);
        Assert.Equal(6000, parameters["optimizer"].Length);
        Assert.EndsWith("...", parameters["optimizer"], StringComparison.Ordinal);
        var tags = Logged("tags").ToDictionary(t => t.GetProperty("key").GetString()!, t => t.GetProperty("value").GetString()!);
        Assert.Equal("hello", tags["custom.notes"]);
        Assert.Equal("[1,2,3]", tags["custom.trainer.hist"]);
        Assert.False(backend.CanHandle(MetricType.Artifact));
        Assert.Equal(1L, backend.GetStatus()["values_truncated"]);
    }

    [Fact]
    public async Task Large_batches_are_split_at_MLflows_documented_limits_without_losing_or_reordering_anything()
    {
        var backend = await Started();
        var samples = Enumerable.Range(0, 2500).Select(i => new MetricSample("m", MetricType.Scalar, i, Samples.T0, "experiment", i))
            .Concat(Enumerable.Range(0, 250).Select(i => new MetricSample($"p{i}", MetricType.Parameter, i, Samples.T0, "experiment")))
            .Concat(Enumerable.Range(0, 150).Select(i => new MetricSample($"t{i}", MetricType.Text, double.NaN, Samples.T0, "experiment", Text: "v")));
        await backend.WriteAsync(new MetricBatch("node-a", "experiment", [.. samples]), CancellationToken.None);

        Assert.Empty(_server.Violations);
        var calls = _server.Calls("runs/log-batch").ToList();
        Assert.All(calls, c => Assert.Equal(200, c.Status));
        Assert.All(calls, c => Assert.InRange(Count(c.Body, "metrics") + Count(c.Body, "params") + Count(c.Body, "tags"), 1, 1000));
        Assert.All(calls, c => Assert.InRange(Count(c.Body, "params"), 0, 100));
        Assert.All(calls, c => Assert.InRange(Count(c.Body, "tags"), 0, 100));
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => (double)i), Logged("metrics").Select(m => m.GetProperty("value").GetDouble()));
        Assert.Equal(250, Logged("params").Count);
        Assert.Equal(150, Logged("tags").Count);
    }

    [Fact]
    public async Task A_5xx_is_retried_and_nothing_is_lost_and_a_longer_outage_hands_the_batch_back_to_the_runtime()
    {
        var backend = await Started(", \"retries\": 2");
        _server.FailNextLogBatches = 2;
        await backend.WriteAsync(new MetricBatch("node-a", "experiment", [Samples.Scalar("a", 1, 1), Samples.Scalar("a", 2, 2)]), CancellationToken.None);
        Assert.Equal([1.0, 2.0], Logged("metrics").Select(m => m.GetProperty("value").GetDouble()));
        Assert.Equal(2L, backend.GetStatus()["requests_retried"]);

        _server.FailNextLogBatches = 3;
        var error = await Assert.ThrowsAsync<MlflowApiException>(() => backend.WriteAsync(new MetricBatch("node-a", "experiment", [Samples.Scalar("a", 3, 3)]), CancellationToken.None).AsTask());
        Assert.Contains("POST runs/log-batch: HTTP 503 TEMPORARILY_UNAVAILABLE: try again", error.Message, StringComparison.Ordinal);
        Assert.Contains("TEMPORARILY_UNAVAILABLE", (string)backend.GetStatus()["last_error"]!, StringComparison.Ordinal);

        // The runtime stops the failed instance and starts a new one: the run stays open and is resumed.
        await backend.StopAsync(CancellationToken.None);
        Assert.Empty(_server.Calls("runs/update"));
        var next = await Started();
        await next.WriteAsync(new MetricBatch("node-a", "experiment", [Samples.Scalar("a", 3, 3)]), CancellationToken.None);
        Assert.Single(_server.Calls("runs/create"));
        Assert.Equal([1.0, 2.0, 3.0], Logged("metrics").Select(m => m.GetProperty("value").GetDouble()));
        Assert.All(_server.Calls("runs/log-batch"), c => Assert.Equal("run1", c.Body.GetProperty("run_id").GetString()));
    }

    [Fact]
    public async Task Entries_the_server_refuses_as_invalid_are_skipped_and_counted_and_the_rest_is_logged()
    {
        var backend = await Started();
        _server.InvalidKeys.Add("bad");
        await backend.WriteAsync(new MetricBatch("node-a", "experiment", [Samples.Scalar("good", 1, 1), Samples.Scalar("bad", 2, 1), Samples.Scalar("good", 3, 2)]), CancellationToken.None);

        Assert.Equal([1.0, 3.0], Logged("metrics").Select(m => m.GetProperty("value").GetDouble()));
        var status = backend.GetStatus();
        Assert.Equal(1L, status["entities_rejected_by_server"]);
        Assert.Contains("metric 'bad' refused: MLflow POST runs/log-batch: HTTP 400 INVALID_PARAMETER_VALUE", (string)status["last_rejection"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_are_sanitized_to_what_MLflow_accepts()
    {
        var backend = await Started();
        await backend.WriteAsync(new MetricBatch("node-a", "experiment", [Samples.Scalar("loss@rank:0/../x//y", 1, 1), Samples.Scalar(new string('k', 300), 1, 1)]), CancellationToken.None);

        Assert.Empty(_server.Violations);
        var keys = Logged("metrics").Select(m => m.GetProperty("key").GetString()).ToList();
        Assert.Equal("loss_rank_0/_/x/y", keys[0]);
        Assert.Equal(250, keys[1]!.Length);
    }

    [Fact]
    public async Task A_missing_tracking_uri_is_a_permanent_error_naming_the_setting()
    {
        var backend = new MlflowBackend(null, TimeProvider.System);
        var previous = Environment.GetEnvironmentVariable("MLFLOW_TRACKING_URI");
        Assert.True(string.IsNullOrEmpty(previous), "MLFLOW_TRACKING_URI is set in this environment; unset it to run this test");
        var error = await Assert.ThrowsAsync<PluginPermanentException>(() => backend.InitializeAsync(Samples.Context(_dir.Path, "{}"), CancellationToken.None).AsTask());
        Assert.Contains("tracking-uri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_start_disposes_its_http_client()
    {
        using var handler = new UnreachableHandler();
        var backend = new MlflowBackend(handler, TimeProvider.System);
        await backend.InitializeAsync(Samples.Context(_dir.Path, """{ "tracking-uri": "http://127.0.0.1:9/", "experiment": "e" }"""), CancellationToken.None);

        await Assert.ThrowsAsync<HttpRequestException>(() => backend.StartAsync(CancellationToken.None).AsTask());

        Assert.True(handler.Disposed, "the HttpClient of a failed start was not disposed (StopAsync is not called after a failed start)");
    }

    /// <summary>A server that is down, and a record of whether the client let go of its handler.</summary>
    private sealed class UnreachableHandler : HttpMessageHandler
    {
        public bool Disposed { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new HttpRequestException($"connection refused: {request.RequestUri}");

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    private static int Count(JsonElement body, string field) => body.TryGetProperty(field, out var a) ? a.GetArrayLength() : 0;
}
