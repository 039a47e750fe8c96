using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// Validates a plugin's config against its JSON Schema (JsonSchema.Net, draft 2020-12) and turns
/// the first failures into a message that names the key and the reason.
/// </summary>
public static class PluginConfigValidator
{
    /// <summary>Parses a schema; null when the text is not a usable JSON Schema, with the reason in <paramref name="error"/>.</summary>
    public static JsonSchema? ParseSchema(string schemaText, out string? error)
    {
        try
        {
            error = null;
            return JsonSchema.FromText(schemaText);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException or RefResolutionException or JsonSchemaException)
        {
            error = $"config schema is not a valid JSON Schema: {e.Message}";
            return null;
        }
    }

    /// <summary>Null when <paramref name="config"/> satisfies the schema, else "config key 'x': reason; ...".</summary>
    public static string? Validate(JsonSchema schema, JsonElement config)
    {
        var results = schema.Evaluate(config, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid) return null;
        var messages = new List<string>();
        foreach (var detail in (results.Details ?? []).Prepend(results))
        {
            if (detail.Errors is null) continue;
            foreach (var (keyword, message) in detail.Errors)
            {
                var key = KeyOf(detail.InstanceLocation.ToString());
                var text = keyword == "required"
                    ? $"{message}{(key.Length == 0 ? "" : $" in '{key}'")}"
                    : $"config key '{(key.Length == 0 ? "(root)" : key)}': {message}";
                if (!messages.Contains(text)) messages.Add(text);
            }
        }
        return messages.Count == 0 ? "config does not match the plugin's schema" : string.Join("; ", messages.Take(5));
    }

    /// <summary>
    /// Gives HOCON literals the type the schema asks for. Akka's HOCON keeps no literal types, so
    /// <c>gzip = on</c> arrives as the string "on" and <c>interval = 10s</c> as "10s": where the
    /// schema wants a boolean, on/off/yes/no become one; where it wants a number (and not a string),
    /// a duration becomes its seconds (what <see cref="PluginConfig.GetDuration"/> reads); where it
    /// wants only a string, a number or boolean becomes its text. Anything else is left for the
    /// schema to refuse. Both the validation and the plugin see the typed config.
    /// </summary>
    public static PluginConfig Typed(string? schemaText, PluginConfig config)
    {
        if (schemaText is null) return config;
        JsonNode? schema;
        try
        {
            schema = JsonNode.Parse(schemaText);
        }
        catch (JsonException)
        {
            return config; // ParseSchema reports it
        }
        var root = JsonNode.Parse(config.Json);
        var typed = TypeNode(root, schema);
        var json = typed?.ToJsonString() ?? "{}";
        return json == config.Json ? config : PluginConfig.Parse(json);
    }

    private static JsonNode? TypeNode(JsonNode? value, JsonNode? schema)
    {
        if (schema is not JsonObject s) return value;
        switch (value)
        {
            case JsonObject obj when s["properties"] is JsonObject properties:
                foreach (var key in obj.Select(kv => kv.Key).ToList())
                {
                    if (properties[key] is not JsonObject child) continue;
                    var old = obj[key];
                    obj[key] = null;
                    var typed = TypeNode(old?.DeepClone(), child);
                    obj[key] = typed;
                }
                return obj;
            case JsonArray array when s["items"] is JsonObject items:
                for (var i = 0; i < array.Count; i++)
                    array[i] = TypeNode(array[i]?.DeepClone(), items);
                return array;
            case JsonValue scalar:
                return TypeScalar(scalar, TypesOf(s));
            default:
                return value;
        }
    }

    private static JsonNode TypeScalar(JsonValue value, HashSet<string> types)
    {
        if (types.Count == 0) return value;
        var kind = value.GetValueKind();
        if (kind == JsonValueKind.String)
        {
            if (types.Contains("string")) return value;
            var text = value.GetValue<string>().Trim();
            if (types.Contains("boolean"))
            {
                switch (text.ToLowerInvariant())
                {
                    case "on" or "yes" or "true": return JsonValue.Create(true);
                    case "off" or "no" or "false": return JsonValue.Create(false);
                }
            }
            if ((types.Contains("number") || types.Contains("integer")) && DurationText.TryParse(text, out var d))
            {
                var seconds = d.TotalSeconds;
                return seconds == Math.Floor(seconds) && Math.Abs(seconds) < long.MaxValue ? JsonValue.Create((long)seconds) : JsonValue.Create(seconds);
            }
            return value;
        }
        if (kind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False && types.SetEquals(["string"]))
        {
            return JsonValue.Create(kind == JsonValueKind.Number
                ? value.ToJsonString()
                : (kind == JsonValueKind.True ? "true" : "false"));
        }
        return value;
    }

    /// <summary>The types a schema allows: its "type" and those of its anyOf/oneOf branches (empty: any).</summary>
    private static HashSet<string> TypesOf(JsonObject schema)
    {
        var types = new HashSet<string>(StringComparer.Ordinal);
        switch (schema["type"])
        {
            case JsonValue t when t.GetValueKind() == JsonValueKind.String:
                types.Add(t.GetValue<string>());
                break;
            case JsonArray a:
                foreach (var t in a.OfType<JsonValue>().Where(t => t.GetValueKind() == JsonValueKind.String)) types.Add(t.GetValue<string>());
                break;
        }
        foreach (var branch in new[] { "anyOf", "oneOf" })
        {
            if (schema[branch] is not JsonArray branches) continue;
            foreach (var b in branches.OfType<JsonObject>())
            {
                var inner = TypesOf(b);
                if (inner.Count == 0) return []; // a branch that allows anything: leave the value alone
                types.UnionWith(inner);
            }
        }
        return types;
    }

    /// <summary>"/a/b/0" → "a.b[0]".</summary>
    private static string KeyOf(string pointer)
    {
        var parts = pointer.Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
        var key = "";
        foreach (var part in parts)
            key += part.All(char.IsDigit) ? $"[{part}]" : key.Length == 0 ? part : "." + part;
        return key;
    }
}
