using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tracelet.Node.Tests;

/// <summary>A real node process on 127.0.0.1, started from the built Tracelet.Node.dll.</summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http;

    private NodeProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>The node's build output, beside this test assembly's configuration (Debug or Release).</summary>
    public static string NodeDll
    {
        get
        {
            var testBin = AppContext.BaseDirectory; // .../tests/Tracelet.Node.Tests/bin/<Configuration>/net10.0/
            var configuration = new DirectoryInfo(testBin.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            var repo = FindRepoRoot(testBin);
            var dll = Path.Combine(repo, "src", "Tracelet.Node", "bin", configuration, "net10.0", "Tracelet.Node.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"the node binary is not built: {dll}");
            return dll;
        }
    }

    public static NodeProcess Start(string dataDir, int port, params string[] extraArgs)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { NodeDll, "--data-dir", dataDir, "--http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--node-id", "process-test" }.Concat(extraArgs))
            info.ArgumentList.Add(a);
        // Keep the user's ~/.tracelet/plugins and TRACELET_* settings out of the test.
        info.Environment["HOME"] = dataDir;
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TRACELET_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        return new NodeProcess(Process.Start(info)!, port);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async Task<JsonElement> StatusAsync()
    {
        var text = await _http.GetStringAsync("/status");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<HttpResponseMessage> PostAsync(string path) => await _http.PostAsync(path, null);

    /// <summary>Polls /status until <paramref name="condition"/> holds; fails with the last status and the node's output.</summary>
    public async Task<JsonElement> WaitForStatusAsync(Func<JsonElement, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "(no answer yet)";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the node exited with {_process.ExitCode}:\n{Output}");
            try
            {
                var status = await StatusAsync();
                last = status.ToString();
                if (condition(status)) return status;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // busy starting
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"status never matched within {timeout}. Last status: {last}\nNode output:\n{Output}");
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends SIGINT, as Ctrl-C at a terminal does.</summary>
    public void Interrupt()
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _http.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private static string FindRepoRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tracelet.Actors.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no Tracelet.Actors.sln above {start}");
    }
}
