using System.Globalization;
using Tracelet.Cli.Api;

namespace Tracelet.Cli.Output;

/// <summary>The status for people: a header line and a plugin table per node, then a summary line.</summary>
internal static class StatusView
{
    public static void Write(TextWriter output, ClusterStatus status, Ansi ansi)
    {
        foreach (var node in status.Nodes.OrderBy(n => n.Node, StringComparer.Ordinal))
        {
            output.WriteLine(Header(node, status, ansi));
            if (node.Plugins.Count == 0)
            {
                output.WriteLine("  (no plugins)");
            }
            else
            {
                var table = new TextTable("PLUGIN", "TYPE", "STATE", "RESTARTS", "DELIVERED", "DROPPED", "ERROR");
                foreach (var p in node.Plugins.OrderBy(p => p.Type, StringComparer.Ordinal).ThenBy(p => p.Name, StringComparer.Ordinal))
                    table.Add(p.Name, p.Type ?? "?", State(p, status.GeneratedAt, ansi), Number(p.Restarts), p.Delivered is { } d ? Number(d) : "-",
                        Dropped(p.Dropped), p.Error is { } e ? ansi.Red(OneLine(e)) : "");
                table.WriteTo(output);
            }
            output.WriteLine();
        }
        output.WriteLine(Summary(status, ansi));
    }

    public static string State(string? state, Ansi ansi) => state switch
    {
        null => "?",
        "active" => ansi.Green(state),
        "error" => ansi.Red(state),
        "retrying" => ansi.Yellow("RETRYING"),
        "stopped" or "discovered" => ansi.Dim(state),
        _ => ansi.Yellow(state),
    };

    /// <summary>
    /// A plugin's state cell: a retrying one says when its node tries again, counted from the time
    /// the answering node generated the view (so that this machine's clock does not matter).
    /// </summary>
    public static string State(PluginStatus plugin, DateTimeOffset? now, Ansi ansi)
    {
        if (plugin.State != "retrying" || plugin.Retry is not { } retry) return State(plugin.State, ansi);
        var seconds = Math.Max(0, (retry.NextAttemptAt - (now ?? DateTimeOffset.UtcNow)).TotalSeconds);
        var when = seconds < 0.5 ? "now" : $"in {seconds.ToString("0", CultureInfo.InvariantCulture)}s";
        return ansi.Yellow($"RETRYING (attempt {retry.Attempt}, next try {when})");
    }

    private static string Header(NodeStatus node, ClusterStatus status, Ansi ansi)
    {
        var parts = new List<string> { ansi.Bold(node.Node) };
        if (node.MemberStatus is { } member) parts.Add(member);
        parts.Add(node.Reachable ? ansi.Green("reachable") : ansi.Red($"UNREACHABLE ({LastSeen(node, status)})"));
        if (node.Roles is { Count: > 0 } roles) parts.Add("roles: " + string.Join(",", roles));
        if (node.Http is { } http) parts.Add(http);
        return string.Join("  ", parts);
    }

    private static string LastSeen(NodeStatus node, ClusterStatus status)
    {
        var seconds = node.SecondsSinceSeen
            ?? (node.LastSeen is { } seen ? ((status.GeneratedAt ?? DateTimeOffset.UtcNow) - seen).TotalSeconds : null);
        return seconds is { } s ? $"last seen {Math.Max(0, s).ToString("0", CultureInfo.InvariantCulture)} s ago" : "never seen";
    }

    private static string Summary(ClusterStatus status, Ansi ansi)
    {
        var nodes = status.Nodes.Count;
        var unreachable = status.Nodes.Count(n => !n.Reachable);
        var plugins = status.Nodes.SelectMany(n => n.Plugins).ToList();
        var errors = plugins.Count(p => p.State == "error");
        var retrying = plugins.Count(p => p.State == "retrying");
        var pending = plugins.Count(p => ClusterHealth.IsUnhealthy(p) && p.State is not ("error" or "retrying"));
        var text = $"{nodes} node{(nodes == 1 ? "" : "s")}" +
                   (unreachable > 0 ? ", " + ansi.Red($"{unreachable} unreachable") : "") +
                   $"; {plugins.Count} plugin{(plugins.Count == 1 ? "" : "s")}: {plugins.Count(p => p.State == "active")} active" +
                   (errors > 0 ? ", " + ansi.Red($"{errors} error") : ", 0 error") +
                   (retrying > 0 ? ", " + ansi.Yellow($"{retrying} retrying") : "") +
                   (pending > 0 ? ", " + ansi.Yellow($"{pending} starting") : "") +
                   $", {plugins.Count(p => p.State == "stopped")} stopped";
        return text;
    }

    private static string Dropped(IReadOnlyDictionary<string, long>? dropped)
    {
        if (dropped is null || dropped.Count == 0) return "-";
        var total = dropped.Values.Sum();
        if (total == 0) return "0";
        var reasons = dropped.Where(r => r.Value > 0).OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} {Number(r.Value)}");
        return $"{Number(total)} ({string.Join(", ", reasons)})";
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
