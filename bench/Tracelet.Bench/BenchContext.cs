using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Tracelet.Testing;

namespace Tracelet.Bench;

/// <summary>
/// What a running benchmark gets: where to report figures and progress, its cancellation (time
/// limit or Ctrl+C), and registries for what it starts — child processes are killed and temp
/// folders deleted when the context is disposed, whether the benchmark succeeded or not.
/// </summary>
internal sealed class BenchContext : IAsyncDisposable
{
    private readonly TextWriter _log;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<string> _tempDirectories = [];

    public BenchContext(TextWriter figures, TextWriter log, CancellationToken cancellation)
    {
        _log = log;
        Figures = new Figures(figures);
        Cancellation = cancellation;
    }

    public Figures Figures { get; }

    public ChildProcesses Children { get; } = new();

    public CancellationToken Cancellation { get; }

    /// <summary>True once a correctness check failed (the program then exits 3).</summary>
    public bool ChecksFailed { get; private set; }

    /// <summary>Progress and diagnostics, on stderr so that stdout holds only figures.</summary>
    public void Log(string message)
    {
        lock (_log) _log.WriteLine($"# {_clock.Elapsed.TotalSeconds,6:0.0}s {message}");
    }

    /// <summary>Records a correctness check; a failed one is logged and makes the exit code 3.</summary>
    public bool Check(bool ok, string what)
    {
        if (!ok)
        {
            ChecksFailed = true;
            Log($"CHECK FAILED: {what}");
        }
        return ok;
    }

    /// <summary>A new empty folder under the system temp folder, deleted when the benchmark ends.</summary>
    public string CreateTempDirectory(string purpose)
    {
        var path = Directory.CreateTempSubdirectory($"tracelet-bench-{purpose}-").FullName;
        lock (_tempDirectories) _tempDirectories.Add(path);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        Children.Dispose();
        // Pooled connections keep the benchmark's SQLite files open.
        SqliteConnection.ClearAllPools();
        foreach (var dir in _tempDirectories)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                    break;
                }
                catch (IOException) when (attempt < 5)
                {
                    await Task.Delay(200);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Log($"could not delete {dir}: {e.Message}");
                    break;
                }
            }
        }
    }
}
