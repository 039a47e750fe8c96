using System.Diagnostics;

namespace Tracelet.Testing;

/// <summary>
/// Every process a benchmark starts, so that none outlives it: disposing kills those still
/// running, and so does the process-exit hook when the bench itself is stopped.
/// </summary>
public sealed class ChildProcesses : IDisposable
{
    private readonly List<Process> _processes = [];

    public ChildProcesses() => AppDomain.CurrentDomain.ProcessExit += OnProcessExit;

    public Process Start(ProcessStartInfo info)
    {
        lock (_processes)
        {
            var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
            _processes.Add(process);
            return process;
        }
    }

    /// <summary>SIGKILL on Linux (Process.Kill), then waits for the exit to be reaped.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (process.HasExited) return;
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or never started.
        }
    }

    public void KillAll()
    {
        lock (_processes)
        {
            foreach (var process in _processes) Kill(process);
        }
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        lock (_processes)
        {
            foreach (var process in _processes)
            {
                Kill(process);
                process.Dispose();
            }
            _processes.Clear();
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => KillAll();
}
