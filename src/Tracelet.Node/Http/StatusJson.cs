using System.Text.Json;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Http;

/// <summary>
/// The node status as JSON, in the Python Tracelet's get_status shape (discovered, loaded, active,
/// errors, plugins{name: {state, type, version, error?, status?}}) plus what the runtime adds. Each
/// plugin entry is its <see cref="PluginStatusEntry"/> as <see cref="EdgeJson.Node"/> writes it.
/// </summary>
internal static class StatusJson
{
    public static JsonElement From(NodePluginStatus s, CurrentPipelineStatus? pipeline = null) =>
        JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["node"] = s.NodeId,
            ["ready"] = s.Ready,
            ["discovered"] = s.Discovered,
            ["loaded"] = s.Loaded,
            ["active"] = s.Active,
            ["errors"] = s.Errors,
            ["retrying"] = s.Retrying,
            ["stuck"] = s.Stuck,
            ["plugins"] = s.Plugins,
            ["discovery_errors"] = s.DiscoveryErrors,
            ["pipeline"] = pipeline is null ? null : Pipeline(pipeline),
        }, EdgeJson.Node);

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
