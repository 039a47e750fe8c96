using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Http;

/// <summary>
/// The node status as JSON, in the Python Tracelet's get_status shape (discovered, loaded, active,
/// errors, plugins{name: {state, type, version, error?, status?}}) plus what the runtime adds.
/// </summary>
internal static class StatusJson
{
    public static Dictionary<string, object?> From(NodePluginStatus s, CurrentPipelineStatus? pipeline = null)
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
            ["pipeline"] = pipeline is null ? null : Pipeline(pipeline),
        };
    }

    /// <summary>
    /// Each link of this node (produced = delivered + dropped + waiting + in_flight, read at one moment per link),
    /// and per source what it published and what reached no link (published = routed + unrouted).
    /// </summary>
    public static Dictionary<string, object?> Pipeline(CurrentPipelineStatus p) => new()
    {
        ["unrouted"] = p.Unrouted,
        ["sources"] = (p.Sources.IsDefault ? [] : p.Sources).ToDictionary(s => s.Source, s => (object?)new Dictionary<string, object?>
        {
            ["published"] = s.Published,
            ["routed"] = s.Routed,
            ["unrouted"] = s.Unrouted,
            ["copies"] = s.Copies,
        }),
        ["links"] = p.Links.ToDictionary(l => $"{l.Backend}@{l.BackendNode}", l => (object?)new Dictionary<string, object?>
        {
            ["state"] = l.State,
            ["overflow"] = l.Overflow switch
            {
                OverflowPolicy.DropOldest => "drop-oldest",
                OverflowPolicy.DropNewest => "drop-newest",
                OverflowPolicy.Block => "block",
                _ => "durable",
            },
            ["produced"] = l.Produced,
            ["delivered"] = l.Delivered,
            ["dropped"] = l.Dropped,
            ["waiting"] = l.Waiting,
            ["waiting_bytes"] = l.WaitingBytes,
            ["in_flight"] = l.InFlight,
            ["window_samples"] = l.WindowSamples,
            ["buffer_samples"] = l.BufferSamples,
            ["buffer_bytes"] = l.BufferBytes,
            ["recovered"] = l.Recovered,
            ["resends"] = l.Resends,
            ["blocked_skips"] = l.BlockedSkips,
        }),
    };
}
