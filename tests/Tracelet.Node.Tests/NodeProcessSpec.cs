using System.Text.Json;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>The node as an operator runs it: a real process, its /status, SIGKILL, Ctrl-C and bad config.</summary>
[Trait("Category", "Process")]
public sealed class NodeProcessSpec : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly string _dataDir = Directory.CreateTempSubdirectory("tracelet-node-").FullName;
    private int _starts;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // a killed node may still hold a file for a moment; the temp folder is cleaned by the OS
        }
    }

    /// <summary>Starts the node on this test's data folder; HOME is that folder too, so the user's plugins stay out.</summary>
    private NodeProcess StartNode(int port, params string[] extraArgs) =>
        NodeProcess.Start(null, new NodeLaunch(NodeBuild.NodeDll, _dataDir, port, "process-test", _dataDir,
            Path.Combine(_dataDir, $"node-{++_starts}.log"), extraArgs));

    private static string State(JsonElement status, string plugin) =>
        status.GetProperty("plugins").TryGetProperty(plugin, out var p) ? p.GetProperty("state").GetString()! : "(missing)";

    private static bool Ready(JsonElement s) => s.GetProperty("ready").GetBoolean();

    [Fact]
    public async Task Node_brings_plugins_back_as_they_were_after_SIGKILL()
    {
        var port = NodeBuild.FreeLoopbackPort();
        await using (var node = StartNode(port))
        {
            var status = await node.RequireStatusAsync(s => Ready(s) && State(s, "heartbeat") == "active" && State(s, "console") == "active", StartTimeout);
            Assert.Equal("process-test", status.GetProperty("node").GetString());
            Assert.Equal(0, status.GetProperty("errors").GetInt32());

            // The heartbeat's samples reach the console backend.
            await node.RequireStatusAsync(s => s.GetProperty("plugins").GetProperty("console").GetProperty("runtime").GetProperty("samples_written").GetInt64() > 0, StartTimeout);
            // The default role samples the machine too (what the README's first command shows).
            await node.RequireStatusAsync(s => State(s, "system") == "active"
                && s.GetProperty("plugins").GetProperty("system").GetProperty("runtime").GetProperty("samples_produced").GetInt64() > 0, StartTimeout);

            // An operator starts jsonl (off in the role file) and stops nothing else.
            var started = await node.PostAsync("plugins/jsonl/start", CancellationToken.None);
            Assert.Equal(200, started.Status);
            await node.RequireStatusAsync(s => State(s, "jsonl") == "active", StartTimeout);

            node.Kill();
            await node.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        await using (var node = StartNode(port))
        {
            var status = await node.RequireStatusAsync(s => Ready(s), StartTimeout);
            Assert.Equal("active", State(status, "heartbeat"));
            Assert.Equal("active", State(status, "console"));
            Assert.Equal("active", State(status, "jsonl")); // restored from the journal, not from the role file
        }
    }

    [Fact]
    public async Task Operator_stop_survives_SIGKILL_and_restart()
    {
        var port = NodeBuild.FreeLoopbackPort();
        await using (var node = StartNode(port))
        {
            await node.RequireStatusAsync(s => Ready(s) && State(s, "console") == "active", StartTimeout);
            var stopped = await node.PostAsync("plugins/console/stop", CancellationToken.None);
            Assert.Equal(200, stopped.Status);
            await node.RequireStatusAsync(s => State(s, "console") == "stopped", StartTimeout);
            node.Kill();
            await node.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        await using (var node = StartNode(port))
        {
            var status = await node.RequireStatusAsync(Ready, StartTimeout);
            Assert.Equal("stopped", State(status, "console"));
            Assert.Equal("active", State(status, "heartbeat"));
        }
    }

    [Fact]
    public async Task Ctrl_C_stops_plugins_and_exits_cleanly_and_the_next_start_resumes_them()
    {
        var port = NodeBuild.FreeLoopbackPort();
        await using (var node = StartNode(port))
        {
            await node.RequireStatusAsync(s => Ready(s) && State(s, "heartbeat") == "active", StartTimeout);
            node.Interrupt();
            var exitCode = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
            Assert.True(exitCode == 0, $"exit code {exitCode}\n{node.Output}");
            Assert.DoesNotContain("Exception", node.Output, StringComparison.Ordinal);
            // Ctrl-C says what it does, a line per plugin, instead of going quiet until the exit.
            Assert.Contains("[tracelet] stopping: the plugins stop in reverse dependency order…", node.Output, StringComparison.Ordinal);
            Assert.Contains("[tracelet] stopped heartbeat", node.Output, StringComparison.Ordinal);
            Assert.Contains("[tracelet] stopped console", node.Output, StringComparison.Ordinal);
            Assert.True(node.Output.IndexOf("[tracelet] stopping: ", StringComparison.Ordinal) < node.Output.IndexOf("[tracelet] stopped ", StringComparison.Ordinal), node.Output);
        }

        await using (var node = StartNode(port))
        {
            // A clean shutdown is not an operator stop: everything comes back.
            var status = await node.RequireStatusAsync(Ready, StartTimeout);
            Assert.Equal("active", State(status, "heartbeat"));
            Assert.Equal("active", State(status, "console"));
        }
    }

    [Fact]
    public async Task The_first_start_says_starting_then_one_ready_line_with_the_API_address_and_no_timeout()
    {
        var port = NodeBuild.FreeLoopbackPort();
        await using var node = StartNode(port);
        await node.RequireStatusAsync(Ready, StartTimeout);
        var ready = await WaitForLineAsync(node, "[tracelet] ready: ", StartTimeout);

        Assert.Equal($"[tracelet] ready: node process-test, API on http://127.0.0.1:{port} (curl http://127.0.0.1:{port}/status, "
            + $"http://127.0.0.1:{port}/metrics, http://127.0.0.1:{port}/query) · Ctrl-C stops", ready);
        var output = node.Output;
        Assert.Contains("[tracelet] starting… (the API will answer on", output, StringComparison.Ordinal);
        Assert.True(output.IndexOf("starting…", StringComparison.Ordinal) < output.IndexOf("ready: ", StringComparison.Ordinal), output);
        Assert.DoesNotContain("did not answer", output, StringComparison.Ordinal);
        Assert.Single(output.Split('\n'), l => l.Contains("[tracelet] ready: ", StringComparison.Ordinal));
    }

    /// <summary>The first output line containing <paramref name="text"/>, without the log's timestamp; waits for it up to <paramref name="timeout"/>.</summary>
    private static async Task<string> WaitForLineAsync(NodeProcess node, string text, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var line = node.Output.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (line is not null) return line[line.IndexOf(text, StringComparison.Ordinal)..].TrimEnd('\r');
            if (deadline.IsCancellationRequested) Assert.Fail($"no line with \"{text}\" within {timeout}:\n{node.Output}");
            // Output arrives from the process asynchronously: look again shortly (a wait for a line, not an assertion).
            await Task.Delay(100, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Unknown_setting_refuses_start_naming_file_line_and_key()
    {
        var file = Path.Combine(_dataDir, "bad.conf");
        await File.WriteAllTextAsync(file, "tracelet {\n  http {\n    prot = 9000\n  }\n}\n");
        await using var node = StartNode(NodeBuild.FreeLoopbackPort(), "--config", file);
        var exitCode = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, exitCode);
        Assert.Contains($"{file}:3", node.Output, StringComparison.Ordinal);
        Assert.Contains("tracelet.http.prot", node.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_hocon_refuses_start_naming_file_and_line()
    {
        var file = Path.Combine(_dataDir, "broken.conf");
        await File.WriteAllTextAsync(file, "tracelet {\n  plugins {\n    heartbeat { enabled = on\n  }\n");
        await using var node = StartNode(NodeBuild.FreeLoopbackPort(), "--config", file);
        var exitCode = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, exitCode);
        Assert.Contains(file, node.Output, StringComparison.Ordinal);
        Assert.Contains("never closed", node.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_plugin_config_puts_only_that_plugin_in_error_and_the_node_keeps_running()
    {
        var file = Path.Combine(_dataDir, "plugins.conf");
        await File.WriteAllTextAsync(file, "tracelet.plugins.console { enabled = on, config { max-lines = lots } }\n");
        await using var node = StartNode(NodeBuild.FreeLoopbackPort(), "--config", file);
        var status = await node.RequireStatusAsync(s => Ready(s) && State(s, "console") == "error", StartTimeout);
        var error = status.GetProperty("plugins").GetProperty("console").GetProperty("error").GetString();
        Assert.Contains("max-lines", error, StringComparison.Ordinal);
        Assert.Equal("active", State(status, "heartbeat"));
    }

    [Fact]
    public async Task The_gpu_role_reports_every_GPU_in_status_and_publishes_its_samples()
    {
        // A node process of its own loads the fake driver by absolute path: its state starts fresh (2 GPUs, GPU 1 with MIG).
        var file = Path.Combine(_dataDir, "gpu.conf");
        await File.WriteAllTextAsync(file, $"tracelet.plugins.gpu.config {{ library-path = \"{FakeNvml.PathFor()}\", allow-fake = true, interval = 500ms }}\n");
        await using var node = StartNode(NodeBuild.FreeLoopbackPort(), "--role", "single-node", "--role", "gpu", "--config", file);

        var status = await node.RequireStatusAsync(s => Ready(s) && State(s, "gpu") == "active"
            && s.GetProperty("plugins").GetProperty("gpu").GetProperty("status").TryGetProperty("gpus", out var g) && g.GetArrayLength() == 2, StartTimeout);
        var gpu = status.GetProperty("plugins").GetProperty("gpu");
        var gpus = gpu.GetProperty("status").GetProperty("gpus");
        Assert.Equal("GPU-00000000-0000-4000-8000-000000000000", gpus[0].GetProperty("uuid").GetString());
        Assert.Equal("ok", gpus[1].GetProperty("state").GetString());
        Assert.Equal(2, gpus[1].GetProperty("mig_devices").GetInt32());
        Assert.Equal("watching 2 GPU(s)", gpu.GetProperty("status").GetProperty("events").GetString());
        // Its samples reach the console backend like any collector's.
        await node.RequireStatusAsync(s => s.GetProperty("plugins").GetProperty("gpu").GetProperty("runtime").GetProperty("samples_produced").GetInt64() > 0
            && s.GetProperty("plugins").GetProperty("console").GetProperty("runtime").GetProperty("samples_written").GetInt64() > 0, StartTimeout);
        Assert.Equal(0, status.GetProperty("errors").GetInt32());
    }

    [Fact]
    public async Task The_gpu_role_without_NVML_says_so_once_and_the_node_runs_on()
    {
        var missing = Path.Combine(_dataDir, "no-driver", "libnvidia-ml.so.1");
        var file = Path.Combine(_dataDir, "gpu.conf");
        await File.WriteAllTextAsync(file, $"tracelet.plugins.gpu.config {{ library-path = \"{missing}\" }}\n");
        await using var node = StartNode(NodeBuild.FreeLoopbackPort(), "--role", "single-node", "--role", "gpu", "--config", file);

        var status = await node.RequireStatusAsync(s => Ready(s) && State(s, "gpu") == "error" && State(s, "heartbeat") == "active", StartTimeout);
        var gpu = status.GetProperty("plugins").GetProperty("gpu");
        Assert.Contains($"NVML not available: libnvidia-ml.so.1 not found ({missing}: no such file)", gpu.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, gpu.GetProperty("restarts").GetInt32());
    }
}
