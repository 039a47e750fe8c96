using System.Collections.Immutable;
using Akka.Configuration;
using Tracelet.Abstractions;
using Tracelet.Actors.Configuration;

namespace Tracelet.Actors.Pipeline;

/// <summary>tracelet.pipeline, and each backend's <c>tracelet.plugins.&lt;name&gt;.pipeline</c> section.</summary>
/// <param name="AnnounceInterval">How often each backend announces itself to every node.</param>
/// <param name="BackendTimeout">A backend not heard from for this long is unreachable: its links stop sending (and buffer).</param>
/// <param name="AckTimeout">Deliveries unacknowledged for this long are sent again (the inbox drops duplicates).</param>
/// <param name="FlushTimeout">At shutdown, how long buffered samples may take to reach backends that are up.</param>
/// <param name="MaxBatchSamples">A collector batch larger than this travels in several deliveries (remoting's frame size).</param>
/// <param name="DurableMaxBytes">The most the durable store may hold on disk, over all links.</param>
/// <param name="SelfTelemetryInterval">How often the links' counters are published as samples; zero: never.</param>
/// <param name="Defaults">Link settings for a backend whose section does not say.</param>
/// <param name="Backends">Per backend: its link settings and routes.</param>
public sealed record PipelineSettings(
    TimeSpan AnnounceInterval,
    TimeSpan BackendTimeout,
    TimeSpan AckTimeout,
    TimeSpan FlushTimeout,
    int MaxBatchSamples,
    long DurableMaxBytes,
    TimeSpan SelfTelemetryInterval,
    LinkSettings Defaults,
    ImmutableDictionary<string, BackendPipelineSettings> Backends)
{
    /// <summary>The topic every node's pipeline listens on for backend announcements.</summary>
    public const string ControlTopic = "tracelet.pipeline.backends";

    /// <summary>The settings of one backend (its section, or the defaults with every sample routed).</summary>
    public BackendPipelineSettings For(string backend) =>
        Backends.TryGetValue(backend, out var settings) ? settings : new BackendPipelineSettings(Defaults, []);

    public static PipelineSettings Create(LoadedConfig loaded)
    {
        const string root = "tracelet.pipeline";
        var defaults = ReadLink(loaded, $"{root}.defaults", null);
        var backends = ImmutableDictionary.CreateBuilder<string, BackendPipelineSettings>(StringComparer.Ordinal);
        var plugins = loaded.Config.GetValue("tracelet.plugins");
        if (plugins is not null && plugins.IsObject())
        {
            foreach (var (name, value) in plugins.GetObject().Items)
            {
                if (!value.IsObject() || !value.GetObject().Items.TryGetValue("pipeline", out var section)) continue;
                var path = $"tracelet.plugins.{name}.pipeline";
                if (!section.IsObject()) throw loaded.Error(path, "must be an object { overflow = durable, routes = [...] }");
                foreach (var key in section.GetObject().Items.Keys)
                {
                    if (key is not ("overflow" or "buffer-samples" or "buffer-bytes" or "window-samples" or "routes"))
                        throw loaded.Error($"{path}.{key}", "unknown pipeline setting (use overflow, buffer-samples, buffer-bytes, window-samples, routes)");
                }
                backends[name] = new BackendPipelineSettings(ReadLink(loaded, path, defaults), ReadRoutes(loaded, path));
            }
        }
        return new PipelineSettings(
            loaded.Duration($"{root}.announce-interval"),
            loaded.Duration($"{root}.backend-timeout"),
            loaded.Duration($"{root}.ack-timeout"),
            loaded.Duration($"{root}.flush-timeout"),
            (int)loaded.Number($"{root}.max-batch-samples", 1, 100_000),
            loaded.Bytes($"{root}.durable-max-bytes", 1024 * 1024),
            loaded.Duration($"{root}.self-telemetry-interval"),
            defaults,
            backends.ToImmutable());
    }

    private static LinkSettings ReadLink(LoadedConfig loaded, string path, LinkSettings? fallback)
    {
        var c = loaded.Config;
        OverflowPolicy policy;
        if (c.HasPath($"{path}.overflow") || fallback is null)
        {
            var text = loaded.Text($"{path}.overflow");
            policy = text switch
            {
                "drop-oldest" => OverflowPolicy.DropOldest,
                "drop-newest" => OverflowPolicy.DropNewest,
                "block" => OverflowPolicy.Block,
                "durable" => OverflowPolicy.Durable,
                _ => throw loaded.Error($"{path}.overflow", $"'{text}' is not an overflow policy (use drop-oldest, drop-newest, block or durable)"),
            };
        }
        else policy = fallback.Overflow;
        var samples = c.HasPath($"{path}.buffer-samples") || fallback is null ? (int)loaded.Number($"{path}.buffer-samples", 1, 100_000_000) : fallback.BufferSamples;
        var bytes = c.HasPath($"{path}.buffer-bytes") || fallback is null ? loaded.Bytes($"{path}.buffer-bytes", 1024) : fallback.BufferBytes;
        var window = c.HasPath($"{path}.window-samples") || fallback is null ? (int)loaded.Number($"{path}.window-samples", 1, 10_000_000) : fallback.WindowSamples;
        return new LinkSettings(policy, samples, bytes, window);
    }

    private static ImmutableArray<RouteRule> ReadRoutes(LoadedConfig loaded, string path)
    {
        var c = loaded.Config;
        if (!c.HasPath($"{path}.routes")) return [];
        var rules = ImmutableArray.CreateBuilder<RouteRule>();
        var list = c.GetValue($"{path}.routes");
        IList<Akka.Configuration.Hocon.HoconValue>? items = null;
        try
        {
            // Akka's IsArray() says false for an empty list: read it as a list and see.
            items = list.GetArray();
        }
        catch (Exception e) when (e is not TraceletConfigException)
        {
        }
        if (items is null || list.IsString() || (items.Count > 0 && !list.IsArray())) throw loaded.Error($"{path}.routes", "must be a list of { source, types, name, labels, value } objects");
        var i = 0;
        foreach (var item in items)
        {
            var at = $"{path}.routes[{i++}]";
            if (!item.IsObject()) throw loaded.Error($"{path}.routes", $"{at} must be an object {{ source = \"gpu*\", types = [system] }}");
            foreach (var key in item.GetObject().Items.Keys)
            {
                if (key is not ("source" or "types" or "name" or "labels" or "value"))
                    throw loaded.Error($"{path}.routes", $"{at}: unknown route setting '{key}' (use source, types, name, labels, value)");
            }
            var rule = new Config(new Akka.Configuration.Hocon.HoconRoot(item));
            var types = 0;
            if (rule.HasPath("types"))
            {
                var value = rule.GetValue("types");
                IEnumerable<string> names = value.IsArray() ? rule.GetStringList("types") : value.IsEmpty ? [] : [value.GetString()];
                foreach (var name in names)
                {
                    // Names only: Enum.TryParse would also take numbers and comma lists.
                    var type = Enum.GetValues<MetricType>().Where(t => string.Equals(t.ToString(), name?.Trim(), StringComparison.OrdinalIgnoreCase)).Cast<MetricType?>().FirstOrDefault();
                    if (type is null)
                        throw loaded.Error($"{path}.routes", $"{at}.types: '{name}' is not a metric type ({string.Join(", ", Enum.GetNames<MetricType>().Select(n => n.ToLowerInvariant()))})");
                    types |= 1 << (int)type.Value;
                }
            }
            var labels = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
            if (rule.HasPath("labels"))
            {
                var value = rule.GetValue("labels");
                if (!value.IsObject()) throw loaded.Error($"{path}.routes", $"{at}.labels must be an object {{ rank = \"0\" }}");
                foreach (var (key, label) in value.GetObject().Items) labels.Add(new(key, label.GetString()));
            }
            var filter = ValueFilter.Any;
            if (rule.HasPath("value"))
            {
                var value = rule.GetValue("value");
                var text = value.IsString() ? value.GetString() : null;
                if (text is null) throw loaded.Error($"{path}.routes", $"{at}.value must be a quoted test such as \"> 5\", \"in [0, 100]\" or \"finite\"");
                if (!ValueFilter.TryParse(text, out filter, out var problem)) throw loaded.Error($"{path}.routes", $"{at}.value: {problem}");
            }
            rules.Add(new RouteRule(rule.GetString("source", "*"), types, rule.GetString("name", "*"), labels.ToImmutable()) { Value = filter });
        }
        return rules.ToImmutable();
    }
}

/// <summary>One backend's pipeline section: how producers treat its link, and what it wants.</summary>
public sealed record BackendPipelineSettings(LinkSettings Link, ImmutableArray<RouteRule> Routes);
