using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using SerializationException = System.Runtime.Serialization.SerializationException;

namespace Tracelet.Actors.Status;

/// <summary>
/// Compact binary for the cluster status view's cross-node messages (<see cref="IStatusMessage"/>):
/// every node receives every node's updates, so no JSON and no CLR type names.
/// </summary>
/// <remarks>
/// <para>Manifests (append-only: never rename or reuse one):</para>
/// <list type="table">
///   <item><term>su1</term><description><see cref="NodeStatusUpdate"/></description></item>
///   <item><term>sc1</term><description><see cref="ControlPlugin"/></description></item>
///   <item><term>sr1</term><description><see cref="PluginControlResult"/></description></item>
/// </list>
/// <para>Every payload starts with a format version byte. Integers are 7-bit varints
/// (<see cref="BinaryWriter.Write7BitEncodedInt64"/>; negative values do not occur), optional
/// values (<c>?</c>) a presence byte first, strings <see cref="BinaryWriter.Write(string)"/> (UTF-8,
/// varint length), times UTC ticks, arrays a varint count. Version 3 (written) adds a stuck call per
/// plugin; version 2 (still read) carries states and
/// types as bytes: a state is <see cref="PluginStatusState"/>'s value (0: none), a type
/// <see cref="PluginType"/>'s value plus one (0: no longer discovered):</para>
/// <code>
/// su1: version nodeId:str address:str http:str? roles:count str* incarnation seq
///      plugins:count (name type:byte version state:byte error:str? restarts lastTransition? produced
///                     retry:(nextAttemptAt attempt)? updateAvailable:str? stuck:(call:str since)?)*
///      links:count (backend backendNode delivered inFlight waiting bufferSamples dropped:count (reason count)*)*
/// sc1: version plugin:str action:byte
/// sr1: version node plugin ok:byte state:byte error:str? flags:byte (bit 0 timed out, bit 1 not found)
///      detail:str? cascaded:count str*
/// </code>
/// <para>A retry's last error is the plugin's error, sent once. Version 1 (read, so that a node
/// still reads the updates of nodes not yet upgraded) wrote type and state as lower-case strings,
/// had no retry, update and sr1 tail, and an sr1 state as an optional string.</para>
/// </remarks>
public sealed class StatusSerializer : SerializerWithStringManifest
{
    /// <summary>Our serializer id (7301 events, 7302 pipeline).</summary>
    public const int SerializerId = 7303;

    /// <summary>The layout version written first in every payload.</summary>
    public const byte FormatVersion = 3;

    /// <summary>The oldest layout still read.</summary>
    private const byte OldestReadVersion = 1;

    internal const string UpdateManifest = "su1";
    internal const string ControlManifest = "sc1";
    internal const string ResultManifest = "sr1";

    public StatusSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        NodeStatusUpdate => UpdateManifest,
        ControlPlugin => ControlManifest,
        PluginControlResult => ResultManifest,
        _ => throw new ArgumentException($"{nameof(StatusSerializer)} cannot serialize {o.GetType()}"),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        using var stream = new MemoryStream(256);
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(FormatVersion);
            switch (obj)
            {
                case NodeStatusUpdate u: WriteUpdate(w, u); break;
                case ControlPlugin c:
                    w.Write(c.Plugin);
                    w.Write((byte)c.Action);
                    break;
                case PluginControlResult r:
                    w.Write(r.Node);
                    w.Write(r.Plugin);
                    w.Write(r.Ok);
                    w.Write((byte)(r.State ?? 0));
                    WriteOptional(w, r.Error);
                    w.Write((byte)((r.TimedOut ? 1 : 0) | (r.NotFound ? 2 : 0)));
                    WriteOptional(w, r.Detail);
                    var cascaded = r.Cascaded.IsDefault ? [] : r.Cascaded;
                    w.Write7BitEncodedInt(cascaded.Length);
                    foreach (var name in cascaded) w.Write(name);
                    break;
                default: throw new ArgumentException($"{nameof(StatusSerializer)} cannot serialize {obj.GetType()}");
            }
        }
        return stream.ToArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest is not (UpdateManifest or ControlManifest or ResultManifest))
            throw new SerializationException($"{nameof(StatusSerializer)}: unknown manifest '{manifest}'");
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
            var version = r.ReadByte();
            if (version is < OldestReadVersion or > FormatVersion)
                throw new SerializationException($"{nameof(StatusSerializer)}: format version {version} of '{manifest}' is not supported (expected {OldestReadVersion} to {FormatVersion})");
            object result = manifest switch
            {
                UpdateManifest => ReadUpdate(r, version),
                ControlManifest => new ControlPlugin(r.ReadString(), ReadAction(r.ReadByte())),
                _ => ReadResult(r, version),
            };
            if (r.BaseStream.Position != bytes.Length) throw new SerializationException($"{nameof(StatusSerializer)}: {bytes.Length - r.BaseStream.Position} trailing bytes after '{manifest}'");
            return result;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or ArgumentException or OverflowException)
        {
            throw new SerializationException($"{nameof(StatusSerializer)}: '{manifest}' payload is corrupt: {e.Message}", e);
        }
    }

    private static void WriteUpdate(BinaryWriter w, NodeStatusUpdate u)
    {
        w.Write(u.NodeId);
        w.Write(u.Address);
        WriteOptional(w, u.Http);
        var roles = u.Roles.IsDefault ? [] : u.Roles;
        w.Write7BitEncodedInt(roles.Length);
        foreach (var role in roles) w.Write(role);
        w.Write7BitEncodedInt64(u.Incarnation);
        w.Write7BitEncodedInt64(u.Sequence);
        var plugins = u.Plugins.IsDefault ? [] : u.Plugins;
        w.Write7BitEncodedInt(plugins.Length);
        foreach (var p in plugins)
        {
            w.Write(p.Name);
            w.Write((byte)(p.Type is { } type ? (int)type + 1 : 0));
            w.Write(p.Version);
            w.Write((byte)p.State);
            WriteOptional(w, p.Error);
            w.Write7BitEncodedInt(p.Restarts);
            w.Write(p.LastTransition.HasValue);
            if (p.LastTransition is { } at) w.Write7BitEncodedInt64(at.UtcTicks);
            w.Write7BitEncodedInt64(p.Produced);
            w.Write(p.Retry is not null);
            if (p.Retry is { } retry)
            {
                w.Write7BitEncodedInt64(retry.NextAttemptAt.UtcTicks);
                w.Write7BitEncodedInt(retry.Attempt);
            }
            WriteOptional(w, p.UpdateAvailable);
            w.Write(p.Stuck is not null);
            if (p.Stuck is { } stuck)
            {
                w.Write(stuck.Call);
                w.Write7BitEncodedInt64(stuck.Since.UtcTicks);
            }
        }
        var links = u.Links.IsDefault ? [] : u.Links;
        w.Write7BitEncodedInt(links.Length);
        foreach (var l in links)
        {
            w.Write(l.Backend);
            w.Write(l.BackendNode);
            w.Write7BitEncodedInt64(l.Delivered);
            w.Write7BitEncodedInt64(l.InFlight);
            w.Write7BitEncodedInt64(l.Waiting);
            w.Write7BitEncodedInt(l.BufferSamples);
            w.Write7BitEncodedInt(l.Dropped.Count);
            foreach (var (reason, count) in l.Dropped)
            {
                w.Write(reason);
                w.Write7BitEncodedInt64(count);
            }
        }
    }

    private static NodeStatusUpdate ReadUpdate(BinaryReader r, byte version)
    {
        var nodeId = r.ReadString();
        var address = r.ReadString();
        var http = ReadOptional(r);
        var roles = ImmutableArray.CreateBuilder<string>(ReadCount(r));
        for (var i = roles.Capacity; i > 0; i--) roles.Add(r.ReadString());
        var incarnation = r.Read7BitEncodedInt64();
        var sequence = r.Read7BitEncodedInt64();
        var plugins = ImmutableArray.CreateBuilder<PluginSummary>(ReadCount(r));
        for (var i = plugins.Capacity; i > 0; i--)
        {
            var name = r.ReadString();
            var type = version == 1 ? ReadTypeName(r.ReadString()) : ReadType(r.ReadByte());
            var pluginVersion = r.ReadString();
            var state = version == 1 ? ReadStateName(r.ReadString()) : ReadState(r.ReadByte());
            var error = ReadOptional(r);
            var restarts = r.Read7BitEncodedInt();
            DateTimeOffset? last = r.ReadBoolean() ? ReadTime(r) : null;
            var produced = r.Read7BitEncodedInt64();
            PluginRetry? retry = null;
            string? update = null;
            StuckCall? stuck = null;
            if (version >= 2)
            {
                if (r.ReadBoolean()) retry = new PluginRetry(ReadTime(r), r.Read7BitEncodedInt(), error ?? "");
                update = ReadOptional(r);
            }
            if (version >= 3 && r.ReadBoolean()) stuck = new StuckCall(r.ReadString(), ReadTime(r));
            plugins.Add(new PluginSummary(name, type, pluginVersion, state, error, restarts, last, produced, retry, update, stuck));
        }
        var links = ImmutableArray.CreateBuilder<LinkSummary>(ReadCount(r));
        for (var i = links.Capacity; i > 0; i--)
        {
            var backend = r.ReadString();
            var backendNode = r.ReadString();
            var delivered = r.Read7BitEncodedInt64();
            var inFlight = r.Read7BitEncodedInt64();
            var waiting = r.Read7BitEncodedInt64();
            var buffer = r.Read7BitEncodedInt();
            var dropped = ImmutableSortedDictionary.CreateBuilder<string, long>(StringComparer.Ordinal);
            for (var j = ReadCount(r); j > 0; j--) dropped[r.ReadString()] = r.Read7BitEncodedInt64();
            links.Add(new LinkSummary(backend, backendNode, delivered, inFlight, waiting, buffer, dropped.ToImmutable()));
        }
        return new NodeStatusUpdate(nodeId, address, http, roles.MoveToImmutable(), incarnation, sequence, plugins.MoveToImmutable(), links.MoveToImmutable());
    }

    private static PluginControlResult ReadResult(BinaryReader r, byte version)
    {
        var node = r.ReadString();
        var plugin = r.ReadString();
        var ok = r.ReadBoolean();
        PluginStatusState? state = version == 1
            ? ReadOptional(r) is { } name ? ReadStateName(name) : null
            : r.ReadByte() is var value and not 0 ? ReadState(value) : null;
        var error = ReadOptional(r);
        var flags = r.ReadByte();
        if ((flags & ~3) != 0) throw new SerializationException($"{nameof(StatusSerializer)}: unknown result flags {flags}");
        string? detail = null;
        var cascaded = ImmutableArray<string>.Empty;
        if (version >= 2)
        {
            detail = ReadOptional(r);
            var names = ImmutableArray.CreateBuilder<string>(ReadCount(r));
            for (var i = names.Capacity; i > 0; i--) names.Add(r.ReadString());
            cascaded = names.Count == 0 ? [] : names.MoveToImmutable();
        }
        return new PluginControlResult(node, plugin, ok, state, error, (flags & 1) != 0, (flags & 2) != 0, detail, cascaded);
    }

    private static DateTimeOffset ReadTime(BinaryReader r) => new(r.Read7BitEncodedInt64(), TimeSpan.Zero);

    private static PluginStatusState ReadState(byte value) =>
        Enum.IsDefined((PluginStatusState)value) ? (PluginStatusState)value : throw new SerializationException($"{nameof(StatusSerializer)}: unknown plugin state {value}");

    private static PluginType? ReadType(byte value) => value switch
    {
        0 => null,
        _ when Enum.IsDefined((PluginType)(value - 1)) => (PluginType)(value - 1),
        _ => throw new SerializationException($"{nameof(StatusSerializer)}: unknown plugin type {value}"),
    };

    /// <summary>Version 1's lower-case state name.</summary>
    private static PluginStatusState ReadStateName(string name) =>
        Enum.TryParse<PluginStatusState>(name, ignoreCase: true, out var state) && Enum.IsDefined(state) && !char.IsDigit(name[0])
            ? state
            : throw new SerializationException($"{nameof(StatusSerializer)}: unknown plugin state '{name}'");

    /// <summary>Version 1's lower-case type name; "unknown" was a plugin no longer discovered.</summary>
    private static PluginType? ReadTypeName(string name) =>
        name == "unknown" ? null
        : Enum.TryParse<PluginType>(name, ignoreCase: true, out var type) && Enum.IsDefined(type) && !char.IsDigit(name[0]) ? type
        : throw new SerializationException($"{nameof(StatusSerializer)}: unknown plugin type '{name}'");

    private static PluginAction ReadAction(byte value) =>
        Enum.IsDefined((PluginAction)value) ? (PluginAction)value : throw new SerializationException($"{nameof(StatusSerializer)}: unknown plugin action {value}");

    /// <summary>A count no larger than what is left to read (each element takes at least one byte): a corrupt count must not allocate gigabytes.</summary>
    private static int ReadCount(BinaryReader r)
    {
        var count = r.Read7BitEncodedInt();
        if (count < 0 || count > r.BaseStream.Length - r.BaseStream.Position)
            throw new SerializationException($"{nameof(StatusSerializer)}: element count {count} exceeds the payload");
        return count;
    }

    private static void WriteOptional(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null) w.Write(value);
    }

    private static string? ReadOptional(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;
}
