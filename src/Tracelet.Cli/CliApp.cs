using System.CommandLine;
using System.CommandLine.Help;
using Tracelet.Cli.Commands;

namespace Tracelet.Cli;

/// <summary>
/// The whole CLI behind one call, so that tests (and a test against a live cluster) run it in process:
/// arguments, writers and environment in, exit code out.
/// </summary>
public static class CliApp
{
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string>? variables = null,
        CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliEnvironment(output, error, variables ?? new Dictionary<string, string>(), OutputIsTerminal: false), cancellationToken);

    public static async Task<int> RunAsync(string[] args, CliEnvironment environment, CancellationToken cancellationToken = default)
    {
        var common = new CommonOptions(environment);
        var root = new RootCommand(
            "tracelet: the plugins of every node of a Tracelet cluster, over the nodes' HTTP API.\n" +
            "Exit codes: 0 all nodes reachable and enabled plugins active; 1 some plugin in error or node unreachable, or an operation failed; 2 usage or connection error.")
        {
            common.Url, common.Token, common.Timeout,
        };
        root.Subcommands.Add(StatusCommand.Create(common));
        root.Subcommands.Add(PluginsCommand.Create(common));
        root.Subcommands.Add(PluginActionCommand.Create(common));
        root.Subcommands.Add(WatchCommand.Create(common));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not HelpAction)
        {
            foreach (var e in parsed.Errors) await environment.Error.WriteLineAsync("error: " + e.Message);
            var command = CommandPath(parsed.CommandResult.Command);
            await environment.Error.WriteLineAsync("usage: " + Usage(parsed.CommandResult.Command, command));
            await environment.Error.WriteLineAsync($"Run '{command} --help' for the options.");
            return ExitCodes.UsageOrConnection;
        }
        try
        {
            // Ctrl-C is the caller's cancellation token (Program.cs), not System.CommandLine's handler: tests run many in one process.
            return await parsed.InvokeAsync(new InvocationConfiguration
            {
                Output = environment.Out,
                Error = environment.Error,
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
            }, cancellationToken);
        }
        catch (CliFailureException e)
        {
            await environment.Error.WriteLineAsync("error: " + e.Message);
            return e.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await environment.Error.WriteLineAsync("interrupted");
            return ExitCodes.UsageOrConnection;
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or ArgumentException or IOException or System.Text.Json.JsonException or KeyNotFoundException)
        {
            // An answer of an unexpected shape (or cut off): a connection-level problem for scripts, never a crash.
            await environment.Error.WriteLineAsync($"error: the node's answer could not be read: {e.Message}");
            return ExitCodes.UsageOrConnection;
        }
    }

    /// <summary>"tracelet plugin stop": the words that led to the command the error is about.</summary>
    private static string CommandPath(Command command)
    {
        var words = new List<string>();
        for (Command? c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
            words.Insert(0, c is RootCommand ? "tracelet" : c.Name);
        return string.Join(' ', words);
    }

    /// <summary>The command's usage line, as its --help starts: arguments, then subcommands or options.</summary>
    private static string Usage(Command command, string path)
    {
        var parts = new List<string> { path };
        parts.AddRange(command.Arguments.Select(a => $"<{a.Name}>"));
        if (command.Subcommands.Count > 0) parts.Add("<command>");
        parts.Add("[options]");
        return string.Join(' ', parts);
    }
}
