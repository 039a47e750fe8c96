using System.Collections.Immutable;
using Akka.Configuration;
using Tracelet.Actors.Configuration;

namespace Tracelet.Actors.Status;

/// <summary>tracelet.status: how the cluster status view is replicated (reference.conf says why each value).</summary>
/// <param name="PublishInterval">How often a node reads its own plugins and links, and publishes when a state changed.</param>
/// <param name="RefreshInterval">How often a node publishes everything even when no state changed (counters; late joiners).</param>
/// <param name="StaleAfter">A reachable node not heard from for this long is flagged stale.</param>
/// <param name="ForgetAfter">A node that is gone is kept in the view (flagged) this long after it was last seen.</param>
/// <param name="ControlTimeout">How long a remote start/stop/restart may take before it counts as not answered.</param>
/// <param name="MaxNodes">The most nodes the view holds; updates from further nodes are ignored (and logged).</param>
/// <param name="MaxPlugins">The most plugins one update carries.</param>
/// <param name="MaxLinks">The most pipeline links one update carries.</param>
public sealed record StatusSettings(
    TimeSpan PublishInterval,
    TimeSpan RefreshInterval,
    TimeSpan StaleAfter,
    TimeSpan ForgetAfter,
    TimeSpan ControlTimeout,
    int MaxNodes,
    int MaxPlugins,
    int MaxLinks)
{
    /// <summary>The pub-sub topic every node's status actor publishes to and listens on.</summary>
    public const string Topic = "tracelet.status";

    /// <summary>Parses settings from a configuration without file origins (tests, code-first hosting).</summary>
    public static StatusSettings Create(Config config) =>
        Create(new LoadedConfig(config, ImmutableDictionary<string, SettingOrigin>.Empty));

    /// <summary>Parses tracelet.status; a bad value throws naming its key.</summary>
    public static StatusSettings Create(LoadedConfig loaded)
    {
        const string root = "tracelet.status";
        var settings = new StatusSettings(
            loaded.Duration($"{root}.publish-interval"),
            loaded.Duration($"{root}.refresh-interval"),
            loaded.Duration($"{root}.stale-after"),
            loaded.Duration($"{root}.forget-after"),
            loaded.Duration($"{root}.control-timeout"),
            (int)loaded.Number($"{root}.max-nodes", 1, 100_000),
            (int)loaded.Number($"{root}.max-plugins", 1, 10_000),
            (int)loaded.Number($"{root}.max-links", 1, 100_000));
        if (settings.PublishInterval <= TimeSpan.Zero) throw loaded.Error($"{root}.publish-interval", "must be greater than 0s");
        if (settings.RefreshInterval < settings.PublishInterval) throw loaded.Error($"{root}.refresh-interval", "must be at least publish-interval");
        if (settings.ControlTimeout <= TimeSpan.Zero) throw loaded.Error($"{root}.control-timeout", "must be greater than 0s");
        return settings;
    }
}
