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
/// <para>Reflection-based System.Text.Json rather than source generation: a plugin's own status
/// (<see cref="PluginStatusEntry.Status"/>) holds values of types only the plugin knows.</para>
/// <para>No value a plugin returns may fail the whole answer. NaN and infinities are written as the
/// strings "NaN", "Infinity" and "-Infinity" rather than null: null would read as "no value", while
/// a plugin that reports an infinite rate or an undefined ratio means something a person should see,
/// and System.Text.Json reads these strings back as numbers with the same option. Any other value of
/// a plugin's own status that cannot be written (a cycle, a getter that throws, an unsupported type)
/// becomes a string naming its type and why, so only that value is lost, never the node's status.</para>
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
        (typeof(PluginRuntime), nameof(PluginRuntime.Stuck)),
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
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
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
            if (OmittedWhenNull.Contains((info.Type, member.Name)) || OmittedWhenNull.Contains((member.DeclaringType!, member.Name)))
                property.ShouldSerialize = static (_, value) => value is not null;
            if (info.Type == typeof(PluginStatusEntry) && member.Name == nameof(PluginStatusEntry.Status)) property.CustomConverter = PluginOwnStatusConverter.Instance;
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

    /// <summary>
    /// A plugin's own status, value by value: each is written to a buffer first, so that one that
    /// throws half-way leaves nothing behind and is replaced by a string saying what it was.
    /// </summary>
    private sealed class PluginOwnStatusConverter : JsonConverter<IReadOnlyDictionary<string, object?>>
    {
        public static readonly PluginOwnStatusConverter Instance = new();

        public override IReadOnlyDictionary<string, object?>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            JsonSerializer.Deserialize<Dictionary<string, object?>>(ref reader, options);

        public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?> value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            foreach (var (key, item) in value)
            {
                writer.WritePropertyName(key);
                if (item is null)
                {
                    writer.WriteNullValue();
                    continue;
                }
                byte[] json;
                try
                {
                    json = JsonSerializer.SerializeToUtf8Bytes(item, item.GetType(), options);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    writer.WriteStringValue(Unwritable(item, e));
                    continue;
                }
                writer.WriteRawValue(json, skipInputValidation: true);
            }
            writer.WriteEndObject();
        }

        private static string Unwritable(object item, Exception e)
        {
            var cause = e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : e;
            return $"unserialisable {item.GetType().FullName}: {cause.GetType().Name}: {cause.Message}";
        }
    }

    private sealed class UtcTimeConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value.UtcDateTime);
    }
}
