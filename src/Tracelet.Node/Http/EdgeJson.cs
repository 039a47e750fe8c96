using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Http;

/// <summary>
/// How the status records become the API's JSON: properties snake_case, enums lower case
/// ("active", "retrying", "collector"), dictionary keys (plugin, node and backend names, a plugin's
/// own status) as they are. A field added to a status record appears without a change here; only a
/// name that snake_case does not give, a new runtime counter type, or a field omitted when null
/// takes a line below.
/// </summary>
/// <remarks>
/// Reflection-based System.Text.Json rather than source generation: a plugin's own status
/// (<see cref="PluginStatusEntry.Status"/>) holds values of types only the plugin knows.
/// </remarks>
internal static class EdgeJson
{
    /// <summary>Names snake_case would spell otherwise.</summary>
    private static readonly Dictionary<(Type, string), string> Renamed = new()
    {
        [(typeof(CollectorRuntime), nameof(CollectorRuntime.IntervalSeconds))] = "interval_s",
    };

    /// <summary>GET /status leaves these out while they are null, as the Python Tracelet's get_status does.</summary>
    private static readonly HashSet<(Type, string)> OmittedWhenNull =
    [
        (typeof(PluginStatusEntry), nameof(PluginStatusEntry.Error)),
        (typeof(PluginStatusEntry), nameof(PluginStatusEntry.Status)),
        (typeof(PluginStatusEntry), nameof(PluginStatusEntry.Runtime)),
        (typeof(PluginStatusEntry), nameof(PluginStatusEntry.Retry)),
        (typeof(PluginStatusEntry), nameof(PluginStatusEntry.UpdateAvailable)),
    ];

    /// <summary>The node's own status (GET /status): times as recorded (ISO 8601 with offset).</summary>
    public static JsonSerializerOptions Node { get; } = Create(utcTimes: false);

    /// <summary>The cluster contract (GET /status/cluster, routed commands): times in UTC with Z, every field present.</summary>
    public static JsonSerializerOptions Cluster { get; } = Create(utcTimes: true);

    private static JsonSerializerOptions Create(bool utcTimes)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DictionaryKeyPolicy = null,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { Modify } },
        };
        options.Converters.Add(new PluginTypeConverter());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        if (utcTimes) options.Converters.Add(new UtcTimeConverter());
        options.MakeReadOnly();
        return options;
    }

    private static void Modify(JsonTypeInfo info)
    {
        if (info.Type == typeof(PluginRuntime))
        {
            // Serialization only, no discriminator: the counters' own fields say what they are.
            info.PolymorphismOptions = new JsonPolymorphismOptions
            {
                DerivedTypes = { new JsonDerivedType(typeof(CollectorRuntime)), new JsonDerivedType(typeof(BackendRuntime)) },
            };
        }
        if (info.Kind != JsonTypeInfoKind.Object) return;
        foreach (var property in info.Properties)
        {
            if (property.AttributeProvider is not System.Reflection.MemberInfo member) continue;
            if (Renamed.TryGetValue((info.Type, member.Name), out var name)) property.Name = name;
            if (OmittedWhenNull.Contains((info.Type, member.Name))) property.ShouldSerialize = static (_, value) => value is not null;
        }
    }

    /// <summary>A plugin no longer discovered has no type: shown as "unknown", as before types were typed.</summary>
    private sealed class PluginTypeConverter : JsonConverter<PluginType?>
    {
        public override bool HandleNull => true;

        public override PluginType? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Enum.TryParse<PluginType>(reader.GetString(), ignoreCase: true, out var type) ? type : null;

        public override void Write(Utf8JsonWriter writer, PluginType? value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value is { } type ? JsonNamingPolicy.SnakeCaseLower.ConvertName(type.ToString()) : "unknown");
    }

    private sealed class UtcTimeConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value.UtcDateTime);
    }
}
