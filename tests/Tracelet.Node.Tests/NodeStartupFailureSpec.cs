using System.Net;
using System.Net.Sockets;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>
/// A node that cannot start says why in one line on the terminal and exits with code 2, whatever
/// the reason: a bad option, a data directory it cannot write, a port another process holds.
/// </summary>
[Trait("Category", "Process")]
public sealed class NodeStartupFailureSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracelet-startup-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // the node may still hold a file for a moment; the temp folder is cleaned by the OS
        }
    }

    private async Task<(int ExitCode, string[] Lines)> RunNode(string dataDir, int port, params string[] extraArgs)
    {
        await using var node = NodeProcess.Start(null, new NodeLaunch(NodeBuild.NodeDll, dataDir, port, "startup-test", _dir,
            Path.Combine(_dir, "node.log"), extraArgs));
        var exitCode = await node.WaitForExitAsync(TimeSpan.FromSeconds(60));
        // NodeProcess prefixes each line with the milliseconds since start; what the person saw follows it.
        var lines = node.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.IndexOf(' ', StringComparison.Ordinal) is var i and > 0 && l[..i].All(char.IsDigit) ? l[(i + 1)..] : l)
            .ToArray();
        return (exitCode, lines);
    }

    [Fact]
    public async Task An_unknown_option_exits_2_with_one_line()
    {
        var (exitCode, lines) = await RunNode(_dir, NodeBuild.FreeLoopbackPort(), "--no-such-flag");

        Assert.Equal(2, exitCode);
        Assert.Equal(["tracelet: Unrecognized command or argument '--no-such-flag'. (see --help)"], lines);
    }

    [Fact]
    public async Task A_data_directory_that_cannot_be_written_exits_2_with_one_line_naming_it()
    {
        // /proc is read-only even for root, which a chmod'ed folder is not (the suite may run as root).
        const string readOnly = "/proc/tracelet-data";

        var (exitCode, lines) = await RunNode(readOnly, NodeBuild.FreeLoopbackPort());

        Assert.Equal(2, exitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith($"tracelet: data directory {readOnly} is not writable: ", line);
        Assert.EndsWith("(set tracelet.data-dir, TRACELET_DATA_DIR or --data-dir to a writable folder)", line);
    }

    [Fact]
    public async Task A_port_another_process_holds_exits_2_with_one_line()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (exitCode, lines) = await RunNode(Path.Combine(_dir, "data"), port);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith($"tracelet: cannot listen on 127.0.0.1:{port} for the status API: ", line);
    }
}
