using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Tracelet.Abstractions;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// Writes the PluginManager's events and snapshots as JSON under short manifests of our own
/// ("pt1", "pc1", "ps1"), through transfer records whose JSON names are fixed: renaming or moving
/// a C# type never breaks recovery, and no CLR type name ever reaches the journal.
/// Manifests and field names are append-only: never rename or reuse one.
/// </summary>
public sealed class TraceletEventSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Our serializer id (ids up to 100 are Akka's).</summary>
    public const int SerializerId = 7301;

    internal const string TransitionedManifest = "pt1";
    internal const string ConfiguredManifest = "pc1";
    internal const string SnapshotManifest = "ps1";

    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        PluginTransitioned => TransitionedManifest,
        PluginConfigured => ConfiguredManifest,
        PluginManagerSnapshot => SnapshotManifest,
        _ => throw new ArgumentException($"{nameof(TraceletEventSerializer)} cannot serialize {o.GetType()}"),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => obj switch
    {
        PluginTransitioned t => JsonSerializer.SerializeToUtf8Bytes(TransitionDto.Of(t), Options),
        PluginConfigured c => JsonSerializer.SerializeToUtf8Bytes(ConfiguredDto.From(c), Options),
        PluginManagerSnapshot s => JsonSerializer.SerializeToUtf8Bytes(new SnapshotDto([.. s.Plugins.Select(RecordDto.From)]), Options),
        _ => throw new ArgumentException($"{nameof(TraceletEventSerializer)} cannot serialize {obj.GetType()}"),
    };

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest) => manifest switch
    {
        TransitionedManifest => Read<TransitionDto>(bytes, manifest).ToEvent(),
        ConfiguredManifest => Read<ConfiguredDto>(bytes, manifest).ToEvent(),
        SnapshotManifest => new PluginManagerSnapshot([.. Read<SnapshotDto>(bytes, manifest).Plugins.Select(r => r.ToRecord())]),
        _ => throw new System.Runtime.Serialization.SerializationException($"unknown manifest '{manifest}' for {nameof(TraceletEventSerializer)}: written by a newer Tracelet?"),
    };

    private static T Read<T>(byte[] bytes, string manifest) =>
        JsonSerializer.Deserialize<T>(bytes, Options) ?? throw new System.Runtime.Serialization.SerializationException($"empty payload for manifest '{manifest}'");

    private sealed record TransitionDto(
        [property: JsonPropertyName("at")] DateTimeOffset At,
        [property: JsonPropertyName("node")] string Node,
        [property: JsonPropertyName("plugin")] string Plugin,
        [property: JsonPropertyName("from")] int From,
        [property: JsonPropertyName("to")] int To,
        [property: JsonPropertyName("want_active")] bool WantActive,
        [property: JsonPropertyName("config_hash")] string? ConfigHash,
        [property: JsonPropertyName("error")] string? Error,
        [property: JsonPropertyName("restarts")] int Restarts,
        [property: JsonPropertyName("desired_by")] int? DesiredBy = null)
    {
        public static TransitionDto Of(PluginTransitioned e) =>
            new(e.At, e.NodeId, e.Plugin, (int)e.From, (int)e.To, e.WantActive, e.ConfigHash, e.Error, e.Restarts, (int?)e.DesiredBy);

        public PluginTransitioned ToEvent() =>
            new(At, Node, Plugin, (PluginState)From, (PluginState)To, WantActive, ConfigHash, Error, Restarts, (Plugins.Lifecycle.DesireSource?)DesiredBy);
    }

    private sealed record ConfiguredDto(
        [property: JsonPropertyName("at")] DateTimeOffset At,
        [property: JsonPropertyName("node")] string Node,
        [property: JsonPropertyName("plugin")] string Plugin,
        [property: JsonPropertyName("config")] string ConfigJson,
        [property: JsonPropertyName("config_hash")] string ConfigHash,
        [property: JsonPropertyName("file_section_hash")] string? FileSectionHash)
    {
        public static ConfiguredDto From(PluginConfigured e) => new(e.At, e.NodeId, e.Plugin, e.ConfigJson, e.ConfigHash, e.FileSectionHash);

        public PluginConfigured ToEvent() => new(At, Node, Plugin, ConfigJson, ConfigHash, FileSectionHash);
    }

    private sealed record RecordDto(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("state")] int State,
        [property: JsonPropertyName("want_active")] bool WantActive,
        [property: JsonPropertyName("error")] string? Error,
        [property: JsonPropertyName("config")] string? ConfigJson,
        [property: JsonPropertyName("config_hash")] string? ConfigHash,
        [property: JsonPropertyName("file_section_hash")] string? FileSectionHash,
        [property: JsonPropertyName("restarts")] int Restarts,
        [property: JsonPropertyName("last_transition")] DateTimeOffset? LastTransition,
        [property: JsonPropertyName("desired_by")] int? DesiredBy = null)
    {
        public static RecordDto From(PluginRecord r) =>
            new(r.Name, (int)r.State, r.WantActive, r.Error, r.ConfigJson, r.ConfigHash, r.FileSectionHash, r.Restarts, r.LastTransition, (int)r.DesiredBy);

        public PluginRecord ToRecord() =>
            new(Name, (PluginState)State, WantActive, Error, ConfigJson, ConfigHash, FileSectionHash, Restarts, LastTransition,
                (Plugins.Lifecycle.DesireSource)(DesiredBy ?? 0));
    }

    private sealed record SnapshotDto([property: JsonPropertyName("plugins")] ImmutableArray<RecordDto> Plugins);
}
