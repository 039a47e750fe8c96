using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Tracelet.Testing;

/// <summary>
/// A real Prometheus server (Debian's <c>prometheus</c> package) for tests: it scrapes the given
/// targets on 127.0.0.1 every second, keeps its data in a temp folder, listens on a free loopback
/// port, and is killed on dispose. Ask it with <see cref="QueryAsync"/>, or poll with
/// <see cref="WaitForAsync"/>.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    /// <summary>Where Debian's package puts the binary; TRACELET_PROMETHEUS overrides it.</summary>
    public const string DefaultBinary = "/usr/bin/prometheus";

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly ChildProcesses _children;
    private readonly Process _process;
    private readonly string _directory;
    private readonly System.Text.StringBuilder _output = new();

    private PrometheusServer(ChildProcesses children, Process process, string directory, int port)
    {
        _children = children;
        _process = process;
        _directory = directory;
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
    }

    /// <summary>Prometheus's own HTTP address (its UI and API).</summary>
    public Uri BaseUri { get; }

    /// <summary>
    /// The binary, or throws naming what is missing: tests that need Prometheus fail, never skip.
    /// </summary>
    public static string FindBinary()
    {
        var binary = Environment.GetEnvironmentVariable("TRACELET_PROMETHEUS") is { Length: > 0 } configured ? configured : DefaultBinary;
        if (!File.Exists(binary))
            throw new InvalidOperationException(
                $"Prometheus is not installed ({binary} is missing): `./test.sh` installs it (Debian's package, `apt-get install -y prometheus`); " +
                "run it, install the package the same way, or point TRACELET_PROMETHEUS at a prometheus binary");
        return binary;
    }

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> (host:port) at <paramref name="metricsPath"/> every second.</summary>
    public static async Task<PrometheusServer> StartAsync(IEnumerable<string> targets, string metricsPath = "/metrics", TimeSpan? readyTimeout = null)
    {
        var binary = FindBinary();
        var directory = Directory.CreateTempSubdirectory("tracelet-prometheus-").FullName;
        var config = Path.Combine(directory, "prometheus.yml");
        var targetList = string.Join(", ", targets.Select(t => $"'{t}'"));
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: tracelet
                metrics_path: {metricsPath}
                static_configs:
                  - targets: [{targetList}]
            """);
        var port = NodeBuild.FreeLoopbackPort();
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var arg in new[]
                 {
                     $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
            info.ArgumentList.Add(arg);
        // Through ChildProcesses, so that Prometheus dies with the test host even if dispose never runs.
        var children = new ChildProcesses();
        var process = children.Start(info);
        var server = new PrometheusServer(children, process, directory, port);
        process.OutputDataReceived += (_, e) => server.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnOutput(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilReadyAsync(readyTimeout ?? TimeSpan.FromSeconds(30));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>What Prometheus wrote to stdout and stderr.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>An instant query; returns the rows of <c>data.result</c> (none when nothing matches).</summary>
    public async Task<IReadOnlyList<JsonElement>> QueryAsync(string promQl, CancellationToken cancellation = default)
    {
        var uri = new Uri(BaseUri, "api/v1/query?query=" + Uri.EscapeDataString(promQl));
        using var response = await Http.GetAsync(uri, cancellation);
        var body = await response.Content.ReadAsStringAsync(cancellation);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"Prometheus answered {(int)response.StatusCode} to {promQl}: {body}");
        using var document = JsonDocument.Parse(body);
        return [.. document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().Select(row => row.Clone())];
    }

    /// <summary>
    /// Polls the query until it returns at least one series, or throws after <paramref name="timeout"/>
    /// with the scrape targets' health and Prometheus's output (a failure to explain, not a skip).
    /// </summary>
    public async Task<IReadOnlyList<JsonElement>> WaitForAsync(string promQl, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"prometheus exited with code {_process.ExitCode}:\n{Output}");
            var result = await QueryAsync(promQl);
            if (result.Count > 0) return result;
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"Prometheus returned nothing for {promQl} within {timeout}. Targets: {await TargetsAsync()}\nPrometheus output:\n{Output}");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>The scrape targets as Prometheus sees them (health, last error), as JSON text.</summary>
    public async Task<string> TargetsAsync()
    {
        try
        {
            return await Http.GetStringAsync(new Uri(BaseUri, "api/v1/targets"));
        }
        catch (HttpRequestException e)
        {
            return $"(unavailable: {e.Message})";
        }
    }

    /// <summary>One value of an instant-query result row, as Prometheus renders it ("42.5", "NaN", "+Inf").</summary>
    public static string ValueOf(JsonElement row) => row.GetProperty("value")[1].GetString()!;

    /// <summary>A label of an instant-query result row.</summary>
    public static string LabelOf(JsonElement row, string label) => row.GetProperty("metric").GetProperty(label).GetString()!;

    /// <summary>A numeric value of a row, parsed the way Prometheus renders it.</summary>
    public static double NumberOf(JsonElement row) => ValueOf(row) switch
    {
        "NaN" => double.NaN,
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        var text => double.Parse(text, CultureInfo.InvariantCulture),
    };

    public ValueTask DisposeAsync()
    {
        _children.Dispose(); // kills and reaps Prometheus
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open is left to the OS's temp cleaning.
        }
        return ValueTask.CompletedTask;
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"prometheus exited with code {_process.ExitCode} at start:\n{Output}");
            try
            {
                using var response = await Http.GetAsync(new Uri(BaseUri, "-/ready"));
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // request timeout
            }
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"prometheus was not ready within {timeout}:\n{Output}");
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }

    private void OnOutput(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
