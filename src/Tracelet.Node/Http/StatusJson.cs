using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Http;

/// <summary>
/// The node status as JSON, in the Python Tracelet's get_status shape (discovered, loaded, active,
/// errors, plugins{name: {state, type, version, error?, status?}}) plus what the runtime adds.
/// </summary>
internal static class StatusJson
{
    public static Dictionary<string, object?> From(NodePluginStatus s)
    {
        var plugins = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, p) in s.Plugins)
        {
            var entry = new Dictionary<string, object?>
            {
                ["state"] = p.State,
                ["type"] = p.Type,
                ["version"] = p.Version,
            };
            if (p.Error is not null) entry["error"] = p.Error;
            if (p.Status is not null) entry["status"] = p.Status;
            if (p.Runtime is not null) entry["runtime"] = p.Runtime;
            entry["restarts"] = p.Restarts;
            entry["last_transition"] = p.LastTransition;
            entry["origin"] = p.Origin;
            plugins[name] = entry;
        }
        return new Dictionary<string, object?>
        {
            ["node"] = s.NodeId,
            ["ready"] = s.Ready,
            ["discovered"] = s.Discovered,
            ["loaded"] = s.Loaded,
            ["active"] = s.Active,
            ["errors"] = s.Errors,
            ["plugins"] = plugins,
            ["discovery_errors"] = s.DiscoveryErrors,
        };
    }
}
