using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Tracelet.Actors.Status;
using SerializationException = System.Runtime.Serialization.SerializationException;

namespace Tracelet.Actors.Serialization;

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
/// (<see cref="BinaryWriter.Write7BitEncodedInt64"/>; negative values do not occur), strings a
/// presence byte then <see cref="BinaryWriter.Write(string)"/> (UTF-8, varint length), times UTC
/// ticks, arrays a varint count:</para>
/// <code>
/// su1: version nodeId:str address:str http:str? roles:count str* incarnation seq
///      plugins:count (name type version state error? restarts lastTransition? produced)*
///      links:count (backend backendNode delivered inFlight waiting bufferSamples dropped:count (reason count)*)*
/// sc1: version plugin:str action:byte
/// sr1: version node plugin ok:byte state? error? flags:byte (bit 0 timed out, bit 1 not found)
/// </code>
/// </remarks>
public sealed class StatusSerializer : SerializerWithStringManifest
{
    /// <summary>Our serializer id (7301 events, 7302 pipeline).</summary>
    public const int SerializerId = 7303;

    /// <summary>The layout version written first in every payload.</summary>
    public const byte FormatVersion = 1;

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
                    WriteOptional(w, r.State);
                    WriteOptional(w, r.Error);
                    w.Write((byte)((r.TimedOut ? 1 : 0) | (r.NotFound ? 2 : 0)));
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
            if (version != FormatVersion) throw new SerializationException($"{nameof(StatusSerializer)}: format version {version} of '{manifest}' is not supported (expected {FormatVersion})");
            object result = manifest switch
            {
                UpdateManifest => ReadUpdate(r),
                ControlManifest => new ControlPlugin(r.ReadString(), ReadAction(r.ReadByte())),
                _ => ReadResult(r),
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
            w.Write(p.Type);
            w.Write(p.Version);
            w.Write(p.State);
            WriteOptional(w, p.Error);
            w.Write7BitEncodedInt(p.Restarts);
            w.Write(p.LastTransition.HasValue);
            if (p.LastTransition is { } at) w.Write7BitEncodedInt64(at.UtcTicks);
            w.Write7BitEncodedInt64(p.Produced);
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

    private static NodeStatusUpdate ReadUpdate(BinaryReader r)
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
            var type = r.ReadString();
            var version = r.ReadString();
            var state = r.ReadString();
            var error = ReadOptional(r);
            var restarts = r.Read7BitEncodedInt();
            DateTimeOffset? last = r.ReadBoolean() ? new DateTimeOffset(r.Read7BitEncodedInt64(), TimeSpan.Zero) : null;
            plugins.Add(new PluginSummary(name, type, version, state, error, restarts, last, r.Read7BitEncodedInt64()));
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

    private static PluginControlResult ReadResult(BinaryReader r)
    {
        var node = r.ReadString();
        var plugin = r.ReadString();
        var ok = r.ReadBoolean();
        var state = ReadOptional(r);
        var error = ReadOptional(r);
        var flags = r.ReadByte();
        if ((flags & ~3) != 0) throw new SerializationException($"{nameof(StatusSerializer)}: unknown result flags {flags}");
        return new PluginControlResult(node, plugin, ok, state, error, (flags & 1) != 0, (flags & 2) != 0);
    }

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
