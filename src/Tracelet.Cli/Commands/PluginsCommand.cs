using System.CommandLine;
using System.Text.Json;
using Tracelet.Cli.Output;

namespace Tracelet.Cli.Commands;

/// <summary><c>tracelet plugins [--json]</c>: plugins by type, with on how many nodes each is active or in error.</summary>
internal static class PluginsCommand
{
    public static Command Create(CommonOptions common)
    {
        var command = new Command("plugins", "List the plugins of the cluster by type (collector, backend, ...), with on how many nodes each is active, in error or stopped.")
        {
            common.Json,
        };
        command.SetAction(async (result, ct) =>
        {
            using var client = common.Client(result);
            var (status, _) = await client.GetClusterStatusAsync(ct);
            var output = common.Environment.Out;
            if (result.GetValue(common.Json)) WriteJson(output, status);
            else PluginsView.Write(output, status, common.Ansi(result));
            return ClusterHealth.ExitCode(status);
        });
        return command;
    }

    private static void WriteJson(TextWriter output, Api.ClusterStatus status) => JsonOutput.Write(output, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("plugins");
            foreach (var s in PluginsView.Spread(status))
            {
                json.WriteStartObject();
                json.WriteString("name", s.Name);
                json.WriteString("type", s.Type);
                json.WriteStartArray("versions");
                foreach (var v in s.Versions) json.WriteStringValue(v);
                json.WriteEndArray();
                json.WriteNumber("nodes", s.Nodes);
                json.WriteNumber("active", s.Active);
                json.WriteNumber("error", s.Error);
                json.WriteNumber("retrying", s.Retrying);
                json.WriteNumber("stopped", s.Stopped);
                json.WriteNumber("other", s.Other);
                json.WriteStartArray("error_nodes");
                foreach (var n in s.ErrorNodes) json.WriteStringValue(n);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
}
