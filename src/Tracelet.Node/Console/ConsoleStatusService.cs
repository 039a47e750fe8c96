using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Console;

/// <summary>
/// What the node says at the terminal: "starting…", one line with the API address and the main URLs
/// once it is ready, then (with tracelet.console.enabled) a one-line plugin status whenever it changes.
/// </summary>
internal sealed class ConsoleStatusService(
    IRequiredActor<PluginManagerActor> manager, NodeSettings settings, IHostApplicationLifetime lifetime, IServer server) : BackgroundService
{
    private const string Prefix = "[tracelet] ";

    // Until ready the manager is polled often, so the ready line follows readiness closely.
    private static readonly TimeSpan StartPoll = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Standard output is looked up at each write: the console backend may wrap it to redraw its table in place.
        await System.Console.Out.WriteLineAsync(StartingLine(settings));
        try
        {
            await WhenStartedAsync(lifetime.ApplicationStarted, stoppingToken);
            NodePluginStatus? status;
            while ((status = await TryGetStatusAsync(stoppingToken)) is not { Ready: true })
                await Task.Delay(StartPoll, stoppingToken);
            await System.Console.Out.WriteLineAsync(ReadyLine(status.NodeId, ApiUrl()));
            if (!settings.ConsoleEnabled) return;

            string? last = null;
            using var timer = new PeriodicTimer(settings.ConsoleInterval);
            do
            {
                // A busy manager (a long stop, an upgrade) is not news: the last line stays true until it answers.
                if (await TryGetStatusAsync(stoppingToken) is not { } current) continue;
                var line = Format(current, TerminalWidth(), DateTimeOffset.UtcNow);
                // Only changes are printed, so the console backend's table can be redrawn in place.
                if (Key(line) != last) await System.Console.Out.WriteLineAsync(line);
                last = Key(line);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Ctrl-C before or while waiting: the stop lines say the rest.
        }
    }

    private async Task<NodePluginStatus?> TryGetStatusAsync(CancellationToken ct)
    {
        try
        {
            var actor = await manager.GetAsync(ct);
            return (await actor.Ask<CurrentPluginStatus>(GetPluginStatus.Instance, TimeSpan.FromSeconds(2), ct)).Status;
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private static Task WhenStartedAsync(CancellationToken started, CancellationToken stopping)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        started.Register(() => tcs.TrySetResult());
        stopping.Register(() => tcs.TrySetCanceled(stopping));
        return tcs.Task;
    }

    /// <summary>The address the API really listens on: with port 0 only Kestrel knows it.</summary>
    private string ApiUrl()
    {
        if (settings.HttpPort != 0) return settings.HttpUrl;
        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return bound is null || !Uri.TryCreate(bound, UriKind.Absolute, out var uri) ? settings.HttpUrl : settings.HttpUrl.Replace(":0", ":" + uri.Port, StringComparison.Ordinal);
    }

    private static int TerminalWidth()
    {
        if (System.Console.IsOutputRedirected) return int.MaxValue;
        try
        {
            return Math.Max(40, System.Console.WindowWidth);
        }
        catch (IOException)
        {
            return int.MaxValue;
        }
    }

    /// <summary>A line without its countdowns: a retry counting down is not a change worth a line.</summary>
    private static string Key(string line) => System.Text.RegularExpressions.Regex.Replace(line, @" in \d+s\)", ")");

    public static string StartingLine(NodeSettings settings) =>
        $"{Prefix}starting… (the API will answer on {settings.HttpUrl} once the plugins are up)";

    public static string ReadyLine(string nodeId, string apiUrl) =>
        $"{Prefix}ready: node {nodeId}, API on {apiUrl} (curl {apiUrl}/status, {apiUrl}/metrics, {apiUrl}/query) · Ctrl-C stops";

    /// <summary>Printed once, before the first plugin's stop line.</summary>
    public const string StoppingLine = Prefix + "stopping: the plugins stop in reverse dependency order…";

    public static string StoppedLine(string plugin, string? error) =>
        error is null ? $"{Prefix}stopped {plugin}" : $"{Prefix}stopped {plugin} (its stop threw: {error})";

    /// <summary>
    /// The status in one line of at most <paramref name="width"/> characters: counts, plugins merely
    /// discovered as one number ("12 off"), then each other plugin and its state; what does not fit
    /// is counted ("+3 more"). Errors follow, one line each.
    /// </summary>
    public static string Format(NodePluginStatus status, int width, DateTimeOffset now)
    {
        var off = status.Plugins.Count(p => p.Value.State == PluginStatusState.Discovered);
        var sb = new StringBuilder(Prefix).Append(status.NodeId).Append(status.Ready ? " ready" : " starting…")
            .Append(" | ").Append(status.Active).Append(" active, ").Append(status.Errors).Append(status.Errors == 1 ? " error" : " errors");
        if (status.Retrying > 0) sb.Append(", ").Append(status.Retrying).Append(" retrying");
        if (off > 0) sb.Append(", ").Append(off).Append(" off");
        sb.Append(" |");
        var shown = status.Plugins.Where(p => p.Value.State != PluginStatusState.Discovered).ToList();
        for (var i = 0; i < shown.Count; i++)
        {
            var entry = " " + Entry(shown[i].Key, shown[i].Value, now);
            var more = i == shown.Count - 1 ? "" : $" +{shown.Count - i - 1} more";
            if (sb.Length + entry.Length + more.Length > width)
            {
                sb.Append(" +").Append(shown.Count - i).Append(" more");
                break;
            }
            sb.Append(entry);
        }
        var line = Fit(sb.ToString(), width);
        var errors = shown.Where(p => p.Value.Error is not null).Select(p => Fit($"{Prefix}  {p.Key}: {p.Value.Error}", width));
        return string.Join(Environment.NewLine, errors.Prepend(line));
    }

    private static string Entry(string name, PluginStatusEntry p, DateTimeOffset now)
    {
        var sb = new StringBuilder(name).Append('=').Append(p.State.ToString().ToLowerInvariant());
        if (p.Retry is { } retry)
            sb.Append("(attempt ").Append(retry.Attempt).Append(" in ").Append(Math.Max(0, (retry.NextAttemptAt - now).TotalSeconds).ToString("0", CultureInfo.InvariantCulture)).Append("s)");
        if (p.Restarts > 0) sb.Append("(restarts ").Append(p.Restarts).Append(')');
        return sb.ToString();
    }

    private static string Fit(string s, int width) => s.Length <= width ? s : string.Concat(s.AsSpan(0, Math.Max(0, width - 1)), "…");
}
