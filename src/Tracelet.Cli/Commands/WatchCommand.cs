using System.CommandLine;
using Tracelet.Cli.Output;

namespace Tracelet.Cli.Commands;

/// <summary><c>tracelet watch [--interval 2s] [--count N]</c>: the status table, refreshed until Ctrl-C.</summary>
internal static class WatchCommand
{
    public static Command Create(CommonOptions common)
    {
        var node = StatusCommand.NodeOption();
        var defaultInterval = TimeSpan.FromSeconds(2);
        var interval = new Option<TimeSpan?>("--interval", "-n")
        {
            Description = $"Time between refreshes, e.g. 2s, 500ms [default: {Durations.Format(defaultInterval)}]",
            CustomParser = r => CommonOptions.ParseDuration(r),
        };
        var count = new Option<int?>("--count") { Description = "Stop after this many refreshes (exit code of the last one) instead of at Ctrl-C" };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is <= 0) r.AddError("--count must be at least 1");
        });
        var command = new Command("watch", "Show the status table and refresh it every interval until Ctrl-C (which exits 0).") { node, interval, count };
        command.SetAction(async (result, ct) =>
        {
            var output = common.Environment.Out;
            var ansi = common.Ansi(result);
            var every = result.GetValue(interval) ?? defaultInterval;
            var limit = result.GetValue(count);
            var exitCode = ExitCodes.Ok;
            try
            {
                for (var refresh = 1; limit is null || refresh <= limit; refresh++)
                {
                    if (refresh > 1) await Task.Delay(every, ct);
                    string frame;
                    using (var text = new StringWriter())
                    {
                        // A node that restarts or a network hiccup shows in the frame; watching goes on.
                        try
                        {
                            var (status, _) = await StatusCommand.FetchAsync(common, result, node, ct);
                            StatusView.Write(text, status, ansi);
                            exitCode = ClusterHealth.ExitCode(status);
                        }
                        catch (CliFailureException e)
                        {
                            text.WriteLine(ansi.Red("error: " + e.Message));
                            exitCode = e.ExitCode;
                        }
                        frame = text.ToString();
                    }
                    // Built first, written at once: the screen never shows half a table.
                    if (ansi.Enabled) output.Write(ansi.ClearScreen);
                    else if (refresh > 1) output.WriteLine("----");
                    output.WriteLine($"tracelet watch: every {Durations.Format(every)}, {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss}  (Ctrl-C to stop)");
                    output.WriteLine();
                    output.Write(frame);
                    await output.FlushAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return ExitCodes.Ok;
            }
            return exitCode;
        });
        return command;
    }
}
