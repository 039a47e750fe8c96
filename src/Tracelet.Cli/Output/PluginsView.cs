using Tracelet.Cli.Api;

namespace Tracelet.Cli.Output;

/// <summary>Plugins grouped by type, each with the nodes where it is active, in error or elsewhere.</summary>
internal static class PluginsView
{
    public sealed record PluginSpread(string Name, string Type, IReadOnlyList<string> Versions, int Nodes, int Active, int Error, int Stopped, int Other,
        IReadOnlyList<string> ErrorNodes, int Retrying);

    public static IReadOnlyList<PluginSpread> Spread(ClusterStatus status) =>
        status.Nodes
            .SelectMany(n => n.Plugins.Select(p => (Node: n.Node, Plugin: p)))
            .GroupBy(x => (x.Plugin.Type ?? "?", x.Plugin.Name))
            .Select(g => new PluginSpread(
                g.Key.Name, g.Key.Item1,
                g.Select(x => x.Plugin.Version ?? "?").Distinct().Order(StringComparer.Ordinal).ToList(),
                g.Count(),
                g.Count(x => x.Plugin.State == "active"),
                g.Count(x => x.Plugin.State == "error"),
                g.Count(x => x.Plugin.State == "stopped"),
                g.Count(x => x.Plugin.State is not ("active" or "error" or "stopped" or "retrying")),
                g.Where(x => x.Plugin.State == "error").Select(x => x.Node).Order(StringComparer.Ordinal).ToList(),
                g.Count(x => x.Plugin.State == "retrying")))
            .OrderBy(s => s.Type, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal)
            .ToList();

    public static void Write(TextWriter output, ClusterStatus status, Ansi ansi)
    {
        var spread = Spread(status);
        if (spread.Count == 0) output.WriteLine("no plugins");
        foreach (var group in spread.GroupBy(s => s.Type))
        {
            output.WriteLine(ansi.Bold(group.Key));
            var table = new TextTable("PLUGIN", "VERSION", "NODES", "ACTIVE", "ERROR", "RETRYING", "STOPPED", "OTHER", "IN ERROR ON");
            foreach (var s in group)
                table.Add(s.Name, string.Join(",", s.Versions), s.Nodes.ToString(), s.Active.ToString(),
                    s.Error > 0 ? ansi.Red(s.Error.ToString()) : "0", s.Retrying > 0 ? ansi.Yellow(s.Retrying.ToString()) : "0",
                    s.Stopped.ToString(), s.Other.ToString(), ansi.Red(string.Join(",", s.ErrorNodes)));
            table.WriteTo(output);
            output.WriteLine();
        }
    }
}
