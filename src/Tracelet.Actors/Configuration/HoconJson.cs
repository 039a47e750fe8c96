using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Configuration.Hocon;

namespace Tracelet.Actors.Configuration;

/// <summary>
/// Turns a HOCON value into JSON so that a plugin's <c>config { }</c> block can be validated
/// against its JSON Schema. Akka's HOCON keeps no literal types, so a literal that reads as a JSON
/// number becomes a number, true/false become booleans, null becomes null and the rest strings.
/// </summary>
internal static class HoconJson
{
    public static JsonNode? ToJson(HoconValue value)
    {
        if (value.IsObject())
        {
            var obj = new JsonObject();
            foreach (var (key, child) in value.GetObject().Items.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                obj[key] = ToJson(child);
            return obj;
        }
        if (value.IsArray())
        {
            var array = new JsonArray();
            foreach (var item in value.GetArray()) array.Add(ToJson(item));
            return array;
        }
        var text = value.GetString();
        if (text is null || text == "null") return null;
        if (text == "true") return JsonValue.Create(true);
        if (text == "false") return JsonValue.Create(false);
        if (LooksNumeric(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
        {
            return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)
                ? JsonValue.Create(l)
                : JsonValue.Create(n);
        }
        return JsonValue.Create(text);
    }

    public static string ToJsonText(HoconValue value) =>
        ToJson(value)?.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) ?? "null";

    private static bool LooksNumeric(string s) =>
        s.Length > 0 && (char.IsDigit(s[0]) || (s[0] == '-' && s.Length > 1 && char.IsDigit(s[1]))) &&
        s.All(c => char.IsDigit(c) || c is '.' or 'e' or 'E' or '-' or '+');
}
