namespace Tracelet.Cli;

/// <summary>The exit codes scripts rely on (docs/cli.md).</summary>
public static class ExitCodes
{
    /// <summary>Every node reachable, every enabled plugin active, every requested operation done.</summary>
    public const int Ok = 0;

    /// <summary>Some plugin in error or not yet active, some node unreachable, or some operation failed on a node.</summary>
    public const int Unhealthy = 1;

    /// <summary>Usage error or connection error: bad arguments, node URL unreachable, HTTP 401, unreadable answer.</summary>
    public const int UsageOrConnection = 2;
}

/// <summary>A failure that ends the command with a message on stderr and the given exit code.</summary>
public sealed class CliFailureException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
