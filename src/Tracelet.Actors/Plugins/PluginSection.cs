using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tracelet.Abstractions;
using Tracelet.Actors.Configuration;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// A plugin's section in the node's configuration files: <c>tracelet.plugins.&lt;name&gt; { enabled, config }</c>
/// or an entry of a JSON config file.
/// </summary>
/// <param name="Name">The plugin name.</param>
/// <param name="Enabled">Whether the node starts it (unless an operator's later stop is on record).</param>
/// <param name="Config">The config object (not yet validated against the schema).</param>
/// <param name="Source">The file it came from, for messages.</param>
public sealed record PluginSection(string Name, bool Enabled, PluginConfig Config, string Source)
{
    /// <summary>A hash of the whole section: when it changes between runs, the file wins over the journal.</summary>
    public string SectionHash => Hash($"{Enabled}|{Config.Json}");

    private static readonly Lazy<ImmutableHashSet<string>> ReferenceSections = new(() =>
        TraceletConfigLoader.ReferenceConfig().GetValue("tracelet.plugins") is { } v && v.IsObject()
            ? [.. v.GetObject().Items.Keys]
            : []);

    /// <summary>
    /// True for a section reference.conf itself defines (self): it names a plugin a host that embeds
    /// the runtime may leave out, so its absence is no operator's typo.
    /// </summary>
    internal static bool IsReferenceDefault(string name) => ReferenceSections.Value.Contains(name);

    /// <summary>A short, stable hash of a config's JSON text.</summary>
    public static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    internal static ImmutableSortedDictionary<string, PluginSection> ReadAll(LoadedConfig loaded)
    {
        var result = ImmutableSortedDictionary.CreateBuilder<string, PluginSection>(StringComparer.Ordinal);
        var root = loaded.Config.GetValue("tracelet.plugins");
        if (root is not null && root.IsObject())
        {
            foreach (var (name, value) in root.GetObject().Items)
            {
                var path = $"tracelet.plugins.{name}";
                if (!value.IsObject()) throw loaded.Error(path, "a plugin section must be an object: { enabled = on, config { ... } }");
                // A section that only sets the backend's pipeline (overflow, routes) says nothing about its lifecycle.
                var items = value.GetObject().Items;
                if (!items.ContainsKey("enabled") && !items.ContainsKey("config")) continue;
                var enabled = loaded.Bool($"{path}.enabled");
                var configValue = value.GetObject().Items.TryGetValue("config", out var cv) ? cv : null;
                var json = configValue is null ? "{}" : HoconJson.ToJsonText(configValue);
                if (configValue is not null && !configValue.IsObject()) throw loaded.Error($"{path}.config", "must be an object { ... }");
                var origin = loaded.OriginOf(path);
                result[name] = new PluginSection(name, enabled, PluginConfig.Parse(json), origin?.File ?? "configuration");
            }
        }
        foreach (var file in loaded.Config.GetStringList("tracelet.config-files"))
        {
            foreach (var section in ReadJsonFile(TraceletSettings.ExpandHome(file)))
                result[section.Name] = section;
        }
        return result.ToImmutable();
    }

    /// <summary>
    /// Reads a JSON config file (the Python Tracelet's <c>load_config</c>):
    /// <c>{ "&lt;plugin&gt;": { "enabled": true, "config": { ... } } }</c>.
    /// </summary>
    public static ImmutableArray<PluginSection> ReadJsonFile(string file)
    {
        if (!File.Exists(file)) throw new TraceletConfigException(file, null, null, null, "plugin config file not found");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new TraceletConfigException(file, (int?)e.LineNumber + 1, null, null, $"not valid JSON: {e.Message.Split(". ")[0]}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new TraceletConfigException(file, 1, null, null, "must be a JSON object keyed by plugin name");
            var sections = ImmutableArray.CreateBuilder<PluginSection>();
            foreach (var plugin in document.RootElement.EnumerateObject())
            {
                if (plugin.Value.ValueKind != JsonValueKind.Object)
                    throw new TraceletConfigException(file, null, null, plugin.Name, "a plugin entry must be an object { \"enabled\": ..., \"config\": { ... } }");
                var enabled = true;
                var config = PluginConfig.Empty;
                foreach (var property in plugin.Value.EnumerateObject())
                {
                    switch (property.Name)
                    {
                        case "enabled" when property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                            enabled = property.Value.GetBoolean();
                            break;
                        case "config" when property.Value.ValueKind == JsonValueKind.Object:
                            // Re-serialized, not the raw text: the file may hold comments and trailing commas, which PluginConfig.Parse refuses.
                            config = PluginConfig.Parse(JsonSerializer.Serialize(property.Value));
                            break;
                        case "enabled" or "config":
                            throw new TraceletConfigException(file, null, null, $"{plugin.Name}.{property.Name}",
                                property.Name == "enabled" ? "must be true or false" : "must be an object");
                        default:
                            throw new TraceletConfigException(file, null, null, $"{plugin.Name}.{property.Name}",
                                "unknown plugin setting (a plugin entry takes \"enabled\" and \"config\")");
                    }
                }
                sections.Add(new PluginSection(plugin.Name, enabled, config, file));
            }
            return sections.ToImmutable();
        }
    }
}
