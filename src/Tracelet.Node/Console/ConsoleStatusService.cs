using System.Text;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Console;

/// <summary>Prints a compact one-line status of the node's plugins every interval.</summary>
internal sealed class ConsoleStatusService(IRequiredActor<PluginManagerActor> manager, NodeSettings settings) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.ConsoleEnabled) return;
        using var timer = new PeriodicTimer(settings.ConsoleInterval);
        do
        {
            try
            {
                var actor = await manager.GetAsync(stoppingToken);
                var status = (await actor.Ask<CurrentPluginStatus>(GetPluginStatus.Instance, TimeSpan.FromSeconds(2), stoppingToken)).Status;
                await System.Console.Out.WriteLineAsync(Format(status));
            }
            catch (AskTimeoutException)
            {
                await System.Console.Out.WriteLineAsync("[tracelet] status: the PluginManager did not answer within 2s");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    public static string Format(NodePluginStatus status)
    {
        var sb = new StringBuilder("[tracelet] ").Append(status.NodeId).Append(status.Ready ? " ready" : " starting")
            .Append(" | ").Append(status.Active).Append('/').Append(status.Discovered).Append(" active, ")
            .Append(status.Errors).Append(" errors");
        if (status.Retrying > 0) sb.Append(", ").Append(status.Retrying).Append(" retrying");
        sb.Append(" |");
        var now = DateTimeOffset.UtcNow;
        foreach (var (name, p) in status.Plugins)
        {
            sb.Append(' ').Append(name).Append('=').Append(p.State.ToString().ToLowerInvariant());
            if (p.Retry is { } retry)
                sb.Append("(attempt ").Append(retry.Attempt).Append(" in ").Append(Math.Max(0, (retry.NextAttemptAt - now).TotalSeconds).ToString("0", System.Globalization.CultureInfo.InvariantCulture)).Append("s)");
            if (p.Restarts > 0) sb.Append("(restarts ").Append(p.Restarts).Append(')');
        }
        foreach (var (name, p) in status.Plugins.Where(p => p.Value.Error is not null))
            sb.AppendLine().Append("[tracelet]   ").Append(name).Append(": ").Append(p.Error);
        return sb.ToString();
    }
}
