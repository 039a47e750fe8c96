using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tracelet.Testing;

/// <summary>How to start a node: the built node, its data folder, status port and node id.</summary>
/// <param name="NodeDll">Tracelet.Node.dll, run as <c>dotnet Tracelet.Node.dll</c>.</param>
/// <param name="DataDirectory">--data-dir.</param>
/// <param name="HttpPort">--http-port (on 127.0.0.1, the default hostname).</param>
/// <param name="NodeId">--node-id.</param>
/// <param name="Home">HOME for the node, so that ~/.tracelet/plugins is an empty temp folder rather than the user's.</param>
/// <param name="LogFile">Where the node's stdout and stderr go, each line prefixed with milliseconds since start.</param>
/// <param name="ExtraArgs">More command-line arguments (for example <c>--config FILE</c>).</param>
public sealed record NodeLaunch(string NodeDll, string DataDirectory, int HttpPort, string NodeId, string Home, string LogFile, IReadOnlyList<string>? ExtraArgs = null);

/// <summary>
/// A real node process under test: started with <c>dotnet Tracelet.Node.dll</c>, observed through
/// its HTTP status API on 127.0.0.1, killed with SIGKILL. Its output is drained to a log file
/// (an undrained pipe would block the node's console backend).
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(1),
        PooledConnectionLifetime = TimeSpan.FromSeconds(30),
    })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    private readonly Process _process;
    private readonly Stopwatch _sinceStart;
    private readonly StreamWriter _log;
    private readonly Uri _baseUri;

    private NodeProcess(Process process, Stopwatch sinceStart, StreamWriter log, NodeLaunch launch)
    {
        _process = process;
        _sinceStart = sinceStart;
        _log = log;
        _baseUri = new Uri($"http://127.0.0.1:{launch.HttpPort}/");
        Launch = launch;
    }

    public NodeLaunch Launch { get; }

    /// <summary>Time since the process was started.</summary>
    public TimeSpan Elapsed => _sinceStart.Elapsed;

    /// <summary>When the node first wrote to stdout or stderr.</summary>
    public TimeSpan? FirstOutput { get; private set; }

    /// <summary>When the status API first answered at all (any HTTP status).</summary>
    public TimeSpan? FirstHttpAnswer { get; private set; }

    public bool HasExited => _process.HasExited;

    /// <summary>The node's process id (for reading /proc/&lt;pid&gt;/stat in benchmarks).</summary>
    public int ProcessId => _process.Id;

    /// <summary>Starts the node; <paramref name="children"/>, when given, kills it if the caller dies first.</summary>
    public static NodeProcess Start(ChildProcesses? children, NodeLaunch launch)
    {
        var info = new ProcessStartInfo(NodeBuild.DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(launch.LogFile)!,
        };
        foreach (var arg in new[] { launch.NodeDll, "--data-dir", launch.DataDirectory, "--http-port", launch.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--node-id", launch.NodeId }.Concat(launch.ExtraArgs ?? []))
            info.ArgumentList.Add(arg);
        // The default role, not whatever the caller's environment overrides.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TRACELET_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        info.Environment["HOME"] = launch.Home;
        Directory.CreateDirectory(launch.Home);

        var log = new StreamWriter(launch.LogFile, append: true) { AutoFlush = true };
        var clock = Stopwatch.StartNew();
        Process process;
        try
        {
            process = children?.Start(info) ?? Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        }
        catch
        {
            log.Dispose();
            throw;
        }
        var node = new NodeProcess(process, clock, log, launch);
        process.OutputDataReceived += (_, e) => node.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnOutput(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>GET /status as JSON; null while the node does not answer 200 yet.</summary>
    public async Task<JsonElement?> TryGetStatusAsync(CancellationToken cancellation)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(_baseUri, "status"), cancellation);
            FirstHttpAnswer ??= Elapsed;
            if (!response.IsSuccessStatusCode) return null;
            await using var body = await response.Content.ReadAsStreamAsync(cancellation);
            using var document = await JsonDocument.ParseAsync(body, cancellationToken: cancellation);
            return document.RootElement.Clone();
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }
        catch (TaskCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return null; // request timeout
        }
    }

    /// <summary>
    /// Polls GET /status until <paramref name="until"/> holds. Returns when it held (time since
    /// start, at the moment the answer arrived) and the status, or null and the last status seen
    /// when <paramref name="timeout"/> (counted from start) passed. Throws if the node exits.
    /// </summary>
    public async Task<(TimeSpan? At, JsonElement? Status)> WaitForStatusAsync(Func<JsonElement, bool> until, TimeSpan timeout, CancellationToken cancellation)
    {
        JsonElement? last = null;
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"the node exited with code {_process.ExitCode} after {Elapsed.TotalMilliseconds:0} ms; its output:\n{Tail()}");
            var status = await TryGetStatusAsync(cancellation);
            var at = Elapsed;
            if (status is { } s)
            {
                last = s;
                if (until(s)) return (at, s);
            }
            if (at > timeout) return (null, last);
            await Task.Delay(PollInterval, cancellation);
        }
    }

    /// <summary>POST to the status API (e.g. plugins/heartbeat/stop); returns the status code and body.</summary>
    public async Task<(int Status, string Body)> PostAsync(string path, CancellationToken cancellation)
    {
        using var content = new ByteArrayContent([]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await Http.PostAsync(new Uri(_baseUri, path), content, cancellation);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellation));
    }

    /// <summary>
    /// Polls GET /status until <paramref name="until"/> holds, or throws with the last status and
    /// the node's output: for tests, where a timeout is a failure to explain.
    /// </summary>
    public async Task<JsonElement> RequireStatusAsync(Func<JsonElement, bool> until, TimeSpan timeout)
    {
        var (at, status) = await WaitForStatusAsync(until, Elapsed + timeout, CancellationToken.None);
        if (at is null)
            throw new TimeoutException($"status never matched within {timeout}. Last status: {status?.ToString() ?? "(none)"}\nNode output:\n{Tail(60)}");
        return status!.Value;
    }

    /// <summary>Everything the node wrote to stdout and stderr so far (each line prefixed with ms since start).</summary>
    public string Output => Tail(int.MaxValue);

    /// <summary>Sends SIGINT, as Ctrl-C at a terminal does.</summary>
    public void Interrupt()
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>SIGSTOP: the process freezes (no heartbeats, no answers) as a hung or cut-off machine does.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Waits for the node to exit (and its output to be drained); returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: no coordinated shutdown, no flush; the next start must recover from the journal.</summary>
    public void Kill()
    {
        ChildProcesses.Kill(_process);
        _process.WaitForExit(TimeSpan.FromSeconds(10)); // also drains the redirected output
    }

    /// <summary>The last lines the node wrote.</summary>
    public string Tail(int lines = 30)
    {
        lock (_log)
        {
            _log.Flush();
        }
        try
        {
            using var stream = new FileStream(Launch.LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException e)
        {
            return $"(log unreadable: {e.Message})";
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        lock (_log) _log.Dispose();
        return ValueTask.CompletedTask;
    }

    private void OnOutput(string? line)
    {
        if (line is null) return;
        var at = Elapsed;
        lock (_log)
        {
            FirstOutput ??= at;
            try
            {
                _log.WriteLine($"{at.TotalMilliseconds,8:0} {line}");
            }
            catch (ObjectDisposedException)
            {
                // Output that arrives after the node was disposed.
            }
        }
    }

    /// <summary>Plugin name to state ("active", "stopped"...) from a status document.</summary>
    public static Dictionary<string, string> PluginStates(JsonElement status)
    {
        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        if (status.TryGetProperty("plugins", out var plugins) && plugins.ValueKind == JsonValueKind.Object)
        {
            foreach (var plugin in plugins.EnumerateObject())
            {
                if (plugin.Value.TryGetProperty("state", out var state)) states[plugin.Name] = state.GetString() ?? "";
            }
        }
        return states;
    }

    public static bool IsReady(JsonElement status) =>
        status.TryGetProperty("ready", out var ready) && ready.ValueKind == JsonValueKind.True;
}
