using System.Collections.Immutable;
using System.Net;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;

namespace Tracelet.Node;

/// <summary>The node executable's own settings: tracelet.http, tracelet.console, tracelet.cluster.</summary>
internal sealed record NodeSettings(
    string HttpHostname,
    int HttpPort,
    string HttpToken,
    bool ConsoleEnabled,
    TimeSpan ConsoleInterval,
    string ClusterHostname,
    int ClusterPort,
    ImmutableArray<string> SeedNodes,
    ImmutableArray<string> Roles)
{
    /// <summary>True when the HTTP API listens on loopback only.</summary>
    public bool HttpIsLoopback =>
        HttpHostname is "localhost" || (IPAddress.TryParse(HttpHostname, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>The status API as other nodes' operators reach it: a wildcard listen address is shown as the cluster hostname.</summary>
    public string HttpUrl =>
        $"http://{(HttpHostname is "0.0.0.0" or "::" or "*" or "+" ? ClusterHostname : HttpHostname)}:{HttpPort}";

    public static NodeSettings Create(LoadedConfig loaded)
    {
        var c = loaded.Config;
        var settings = new NodeSettings(
            loaded.Text("tracelet.http.hostname"),
            (int)loaded.Integer("tracelet.http.port", 0, 65535),
            loaded.Text("tracelet.http.token"),
            loaded.Bool("tracelet.console.enabled"),
            loaded.Duration("tracelet.console.interval"),
            loaded.Text("tracelet.cluster.hostname"),
            (int)loaded.Integer("tracelet.cluster.port", 0, 65535),
            [.. c.GetStringList("tracelet.cluster.seed-nodes")],
            [.. c.GetStringList("tracelet.cluster.roles")]);
        if (!settings.HttpIsLoopback && string.IsNullOrEmpty(settings.HttpToken))
            throw loaded.Error("tracelet.http.hostname",
                $"the status API would listen on {settings.HttpHostname} without a token: set tracelet.http.token (or TRACELET_HTTP_TOKEN), or listen on 127.0.0.1");
        return settings;
    }
}
