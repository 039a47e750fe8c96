using System.Globalization;
using System.Text.Json;

namespace Tracelet.Abstractions;

/// <summary>
/// A plugin's configuration object (the <c>config { }</c> block of its HOCON section, or its
/// entry in a JSON config file), as JSON. Typed getters return the default when a key is absent;
/// a key of the wrong type is caught earlier by the plugin's config schema.
/// </summary>
public sealed class PluginConfig
{
    /// <summary>An empty configuration object.</summary>
    public static PluginConfig Empty { get; } = Parse("{}");

    private PluginConfig(JsonElement root, string json)
    {
        Root = root;
        Json = json;
    }

    /// <summary>The configuration as a JSON object.</summary>
    public JsonElement Root { get; }

    /// <summary>The configuration as compact JSON text (what is persisted and hashed).</summary>
    public string Json { get; }

    /// <summary>Parses a JSON object. Throws <see cref="JsonException"/> when the text is not a JSON object.</summary>
    public static PluginConfig Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw new JsonException($"plugin config must be a JSON object, not {document.RootElement.ValueKind}");
        var compact = JsonSerializer.Serialize(document.RootElement);
        return new PluginConfig(JsonDocument.Parse(compact).RootElement.Clone(), compact);
    }

    /// <summary>True when the key is present.</summary>
    public bool Has(string key) => Root.TryGetProperty(key, out _);

    /// <summary>A string value, or the default.</summary>
    public string GetString(string key, string defaultValue) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : defaultValue;

    /// <summary>A boolean value, or the default.</summary>
    public bool GetBoolean(string key, bool defaultValue) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : defaultValue;

    /// <summary>A number, or the default.</summary>
    public double GetDouble(string key, double defaultValue) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : defaultValue;

    /// <summary>An integer, or the default.</summary>
    public long GetInt64(string key, long defaultValue) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : defaultValue;

    /// <summary>
    /// A duration: a number of seconds (<c>2.5</c>) or a string with a unit (<c>"500ms"</c>, <c>"2s"</c>,
    /// <c>"1m"</c>, <c>"1h"</c>), or the default. Throws <see cref="FormatException"/> naming the key for any other string.
    /// </summary>
    public TimeSpan GetDuration(string key, TimeSpan defaultValue)
    {
        if (!Root.TryGetProperty(key, out var v)) return defaultValue;
        if (v.ValueKind == JsonValueKind.Number) return TimeSpan.FromSeconds(v.GetDouble());
        if (v.ValueKind == JsonValueKind.String && DurationText.TryParse(v.GetString()!, out var d)) return d;
        throw new FormatException($"config key '{key}': '{v}' is not a duration (use seconds, or a string like \"500ms\", \"2s\", \"1m\")");
    }

    /// <inheritdoc />
    public override string ToString() => Json;
}

/// <summary>Parses the duration strings HOCON users write ("250ms", "2s", "5m", "1h", "1d").</summary>
public static class DurationText
{
    /// <summary>Parses a number followed by ms, s, m, h or d (spaces allowed, long unit names too).</summary>
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        var s = text.Trim();
        var i = 0;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0 || !double.TryParse(s[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return false;
        var unit = s[i..].Trim().ToLowerInvariant();
        double? seconds = unit switch
        {
            "ms" or "millis" or "milliseconds" => n / 1000,
            "" or "s" or "second" or "seconds" => n,
            "m" or "min" or "minute" or "minutes" => n * 60,
            "h" or "hour" or "hours" => n * 3600,
            "d" or "day" or "days" => n * 86400,
            _ => null,
        };
        if (seconds is null || seconds < 0) return false;
        value = TimeSpan.FromSeconds(seconds.Value);
        return true;
    }
}
