using System.Text.Json;
using Json.Schema;

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
