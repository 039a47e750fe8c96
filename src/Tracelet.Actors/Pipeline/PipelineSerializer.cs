using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Tracelet.Abstractions;
using SerializationException = System.Runtime.Serialization.SerializationException;

namespace Tracelet.Actors.Pipeline;

/// <summary>
/// Compact binary for the metric pipeline's cross-node messages (<see cref="IPipelineMessage"/>):
/// the hot path of every remote backend link, so no JSON and no CLR type names.
/// </summary>
/// <remarks>
/// <para>Manifests (append-only: never rename or reuse one; a changed layout gets a new format
/// version or a new manifest):</para>
/// <list type="table">
///   <item><term>pd1</term><description><see cref="Delivery"/> (with its <see cref="MetricBatch"/>)</description></item>
///   <item><term>pa1</term><description><see cref="DeliveryAck"/></description></item>
///   <item><term>pb1</term><description><see cref="BackendAnnouncement"/></description></item>
///   <item><term>pw1</term><description><see cref="BackendWithdrawn"/></description></item>
///   <item><term>pb2</term><description><see cref="BackendAnnouncement"/> whose routes test values (written only then, so a
///   node that reads only pb1 still understands every announcement without value tests)</description></item>
/// </list>
/// <para>Every payload starts with a format version byte (<see cref="FormatVersion"/>). Integers are
/// LEB128 varints (signed ones zigzag-encoded), strings are UTF-8 with a varint length prefix of
/// byte count + 1 (0 = null), arrays have a varint prefix of element count + 1 (0 = a default
/// <see cref="ImmutableArray{T}"/>, which therefore comes back as default, not empty).</para>
/// <para>A <see cref="Delivery"/> writes each distinct string once, in a string table before the
/// body; the body refers to strings by varint reference (table index + 1, 0 = null):</para>
/// <code>
/// version:byte  tableCount:varint  (len:varint utf8)*tableCount
/// sourceNode:ref backend:ref sequence:zigzag epoch:zigzag
/// batchPresent:byte [batch.sourceNode:ref batch.source:ref samples:count+1
///   per sample: name:ref type:byte flags:byte value:8 bytes LE (exact IEEE-754 bits, NaN kept)
///               timestampDelta:zigzag source:ref [step:zigzag if flags.0]
///               [labelCount:varint (key:ref value:ref)* unless flags.1] text:ref]
/// </code>
/// <para><see cref="EncodeBatch"/> (the durable outbox's stored form, on disk: as stable as the
/// manifests) writes a batch alone in the same layout: version, string table, then
/// <c>batch.sourceNode:ref batch.source:ref samples:count+1 sample*</c>.</para>
/// <para>The others write their strings inline:</para>
/// <code>
/// pa1: version sourceNode:str backend:str sequence:zigzag rejected:zigzag failed:zigzag
/// pw1: version backend:str node:str incarnation:zigzag
/// pb1: version backend:str node:str inboxPath:str incarnation:zigzag
///      linkPresent:byte [overflow:zigzag bufferSamples:zigzag bufferBytes:zigzag windowSamples:zigzag]
///      routes:count+1 (source:str types:varint name:str labels:count+1 (key:str value:str)*)* handledTypes:varint
/// pb2: as pb1, with each route followed by valueTest:byte a:8 bytes LE b:8 bytes LE
/// </code>
/// <para>flags: bit 0 = Step present, bit 1 = Labels is default; other bits must be zero.
/// Timestamps are normalized to UTC: the UTC ticks travel (each sample as the difference from the
/// previous sample's, the first from 0) and come back with offset zero, so a sample measured at
/// 12:00+02:00 arrives as 10:00+00:00 — the same instant, equal under DateTimeOffset equality.</para>
/// <para>An <see cref="IActorRef"/> travels as its serialized actor path (with address and uid)
/// and is resolved through the provider on arrival.</para>
/// </remarks>
public sealed class PipelineSerializer : SerializerWithStringManifest
{
    /// <summary>Our serializer id (ids up to 100 are Akka's; 7301 is the event serializer's).</summary>
    public const int SerializerId = 7302;

    /// <summary>The layout version written first in every payload.</summary>
    public const byte FormatVersion = 1;

    internal const string DeliveryManifest = "pd1";
    internal const string DeliveryAckManifest = "pa1";
    internal const string AnnouncementManifest = "pb1";
    internal const string WithdrawnManifest = "pw1";
    internal const string AnnouncementWithValuesManifest = "pb2";

    private const byte FlagStep = 1;
    private const byte FlagLabelsDefault = 2;
    private const byte KnownFlags = FlagStep | FlagLabelsDefault;

    /// <summary>Thread-local scratch buffers and string table: remoting serializes on several threads at once.</summary>
    [ThreadStatic] private static WriteState? t_writeState;

    public PipelineSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        Delivery => DeliveryManifest,
        DeliveryAck => DeliveryAckManifest,
        BackendAnnouncement b => TestsValues(b) ? AnnouncementWithValuesManifest : AnnouncementManifest,
        BackendWithdrawn => WithdrawnManifest,
        _ => throw new ArgumentException($"{nameof(PipelineSerializer)} cannot serialize {o.GetType()}"),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        var state = t_writeState ??= new WriteState();
        try
        {
            return obj switch
            {
                Delivery d => WriteDelivery(d, state),
                DeliveryAck a => WriteAck(a, state.Head),
                BackendAnnouncement b => WriteAnnouncement(b, state.Head, TestsValues(b)),
                BackendWithdrawn w => WriteWithdrawn(w, state.Head),
                _ => throw new ArgumentException($"{nameof(PipelineSerializer)} cannot serialize {obj.GetType()}"),
            };
        }
        finally
        {
            state.Recycle();
        }
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest is not (DeliveryManifest or DeliveryAckManifest or AnnouncementManifest or AnnouncementWithValuesManifest or WithdrawnManifest))
        {
            throw new SerializationException($"unknown manifest '{manifest}' for {nameof(PipelineSerializer)}: written by a newer Tracelet?");
        }
        try
        {
            var reader = new Reader(bytes, manifest);
            var version = reader.ReadByte();
            if (version != FormatVersion)
            {
                throw new SerializationException($"unsupported format version {version} for manifest '{manifest}' (this node reads {FormatVersion}): written by a newer Tracelet?");
            }
            object result = manifest switch
            {
                DeliveryManifest => ReadDelivery(ref reader),
                DeliveryAckManifest => new DeliveryAck(reader.ReadString()!, reader.ReadString()!, reader.ReadSigned(), reader.ReadInt32(), reader.ReadInt32()),
                AnnouncementManifest => ReadAnnouncement(ref reader, withValues: false),
                AnnouncementWithValuesManifest => ReadAnnouncement(ref reader, withValues: true),
                _ => new BackendWithdrawn(reader.ReadString()!, reader.ReadString()!, reader.ReadSigned()),
            };
            reader.ExpectEnd();
            return result;
        }
        catch (Exception e) when (e is ArgumentException or OverflowException or IndexOutOfRangeException or DecoderFallbackException)
        {
            throw new SerializationException($"malformed '{manifest}' payload for {nameof(PipelineSerializer)}: {e.Message}", e);
        }
    }

    /// <summary>
    /// A batch alone, as a <see cref="Delivery"/> carries it (format version, string table, batch):
    /// the durable outbox's stored form. Thread-safe.
    /// </summary>
    public static byte[] EncodeBatch(MetricBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var state = t_writeState ??= new WriteState();
        try
        {
            WriteBatch(batch, state);
            return Finish(state);
        }
        finally
        {
            state.Recycle();
        }
    }

    /// <summary>Reads what <see cref="EncodeBatch"/> wrote.</summary>
    /// <exception cref="SerializationException">The bytes are not such a batch, or were written by a newer format version.</exception>
    public static MetricBatch DecodeBatch(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        const string what = "batch";
        try
        {
            var reader = new Reader(bytes, what);
            var version = reader.ReadByte();
            if (version != FormatVersion)
            {
                throw new SerializationException($"unsupported format version {version} for a stored batch (this node reads {FormatVersion}): written by a newer Tracelet?");
            }
            var strings = ReadTable(ref reader);
            var batch = ReadBatch(ref reader, strings);
            reader.ExpectEnd();
            return batch;
        }
        catch (Exception e) when (e is ArgumentException or OverflowException or IndexOutOfRangeException or DecoderFallbackException)
        {
            throw new SerializationException($"malformed stored batch for {nameof(PipelineSerializer)}: {e.Message}", e);
        }
    }

    // ---------------------------------------------------------------- writing

    private static byte[] WriteDelivery(Delivery d, WriteState state)
    {
        var body = state.Body;
        body.WriteRef(state.Intern(d.SourceNode));
        body.WriteRef(state.Intern(d.Backend));
        body.WriteSigned(d.Sequence);
        body.WriteSigned(d.Epoch);
        if (d.Batch is null)
        {
            body.WriteByte(0);
        }
        else
        {
            body.WriteByte(1);
            WriteBatch(d.Batch, state);
        }
        return Finish(state);
    }

    private static void WriteBatch(MetricBatch batch, WriteState state)
    {
        state.Body.WriteRef(state.Intern(batch.SourceNode));
        state.Body.WriteRef(state.Intern(batch.Source));
        WriteSamples(batch.Samples, state);
    }

    /// <summary>The payload: version and string table (in <see cref="WriteState.Head"/>), then the body that refers to the table.</summary>
    private static byte[] Finish(WriteState state)
    {
        var body = state.Body;
        var head = state.Head;
        head.WriteByte(FormatVersion);
        var strings = state.Strings;
        head.WriteVarUInt((uint)strings.Count);
        foreach (var s in strings) head.WriteUtf8(s, nullable: false);

        var result = GC.AllocateUninitializedArray<byte>(head.Position + body.Position);
        head.Written.CopyTo(result);
        body.Written.CopyTo(result.AsSpan(head.Position));
        return result;
    }

    private static void WriteSamples(ImmutableArray<MetricSample> samples, WriteState state)
    {
        var body = state.Body;
        if (samples.IsDefault)
        {
            body.WriteVarUInt(0);
            return;
        }
        body.WriteVarUInt((uint)samples.Length + 1);
        var previousTicks = 0L;
        foreach (ref readonly var s in samples.AsSpan())
        {
            var type = (int)s.Type;
            if ((uint)type > byte.MaxValue) throw new ArgumentException($"metric type {type} of '{s.Name}' does not fit the wire format");
            var labels = s.Labels;
            var flags = (byte)((s.Step.HasValue ? FlagStep : 0) | (labels.IsDefault ? FlagLabelsDefault : 0));
            var ticks = s.Timestamp.UtcTicks;

            body.Ensure(MaxFixedSampleBytes);
            body.WriteRefUnchecked(state.Intern(s.Name, WriteState.NameSlot));
            body.WriteByteUnchecked((byte)type);
            body.WriteByteUnchecked(flags);
            body.WriteDoubleUnchecked(s.Value);
            body.WriteSignedUnchecked(unchecked(ticks - previousTicks));
            previousTicks = ticks;
            body.WriteRefUnchecked(state.Intern(s.Source, WriteState.SourceSlot));
            if (s.Step is { } step) body.WriteSignedUnchecked(step);
            if (!labels.IsDefault)
            {
                body.WriteVarUIntUnchecked((uint)labels.Length);
                var span = labels.AsSpan();
                for (var j = 0; j < span.Length; j++)
                {
                    var slot = WriteState.LabelKeySlot(j);
                    body.Ensure(2 * MaxVarInt32Bytes);
                    body.WriteRefUnchecked(state.Intern(span[j].Key, slot));
                    body.WriteRefUnchecked(state.Intern(span[j].Value, slot + 1));
                }
                body.Ensure(MaxVarInt32Bytes);
            }
            body.WriteRefUnchecked(state.Intern(s.Text, WriteState.TextSlot));
        }
    }

    /// <summary>name, type, flags, value, timestamp, source, step, label count, text: an upper bound.</summary>
    private const int MaxFixedSampleBytes = 5 + 1 + 1 + 8 + 10 + 5 + 10 + 5 + 5;

    private const int MaxVarInt32Bytes = 5;

    private static byte[] WriteAck(DeliveryAck a, Buffer w)
    {
        w.WriteByte(FormatVersion);
        w.WriteUtf8(a.SourceNode, nullable: true);
        w.WriteUtf8(a.Backend, nullable: true);
        w.WriteSigned(a.Sequence);
        w.WriteSigned(a.Rejected);
        w.WriteSigned(a.Failed);
        return w.Written.ToArray();
    }

    private static byte[] WriteWithdrawn(BackendWithdrawn b, Buffer w)
    {
        w.WriteByte(FormatVersion);
        w.WriteUtf8(b.Backend, nullable: true);
        w.WriteUtf8(b.Node, nullable: true);
        w.WriteSigned(b.Incarnation);
        return w.Written.ToArray();
    }

    private static bool TestsValues(BackendAnnouncement b)
    {
        if (b.Routes.IsDefault) return false;
        foreach (var rule in b.Routes)
        {
            if (rule is not null && rule.Value.Test != ValueTest.Any) return true;
        }
        return false;
    }

    private static byte[] WriteAnnouncement(BackendAnnouncement b, Buffer w, bool withValues)
    {
        w.WriteByte(FormatVersion);
        w.WriteUtf8(b.Backend, nullable: true);
        w.WriteUtf8(b.Node, nullable: true);
        w.WriteUtf8(b.Inbox is null ? null : Akka.Serialization.Serialization.SerializedActorPath(b.Inbox), nullable: true);
        w.WriteSigned(b.Incarnation);
        if (b.Link is { } link)
        {
            w.WriteByte(1);
            w.WriteSigned((int)link.Overflow);
            w.WriteSigned(link.BufferSamples);
            w.WriteSigned(link.BufferBytes);
            w.WriteSigned(link.WindowSamples);
        }
        else
        {
            w.WriteByte(0);
        }
        if (b.Routes.IsDefault)
        {
            w.WriteVarUInt(0);
        }
        else
        {
            w.WriteVarUInt((uint)b.Routes.Length + 1);
            foreach (var rule in b.Routes)
            {
                if (rule is null) throw new ArgumentException($"{nameof(BackendAnnouncement)} of '{b.Backend}' has a null route");
                w.WriteUtf8(rule.Source, nullable: true);
                w.WriteVarUInt((uint)rule.Types);
                w.WriteUtf8(rule.Name, nullable: true);
                if (rule.Labels.IsDefault)
                {
                    w.WriteVarUInt(0);
                }
                else
                {
                    w.WriteVarUInt((uint)rule.Labels.Length + 1);
                    foreach (var (key, value) in rule.Labels)
                    {
                        w.WriteUtf8(key, nullable: true);
                        w.WriteUtf8(value, nullable: true);
                    }
                }
                if (withValues)
                {
                    w.Ensure(17);
                    w.WriteByte((byte)rule.Value.Test);
                    w.WriteDoubleUnchecked(rule.Value.A);
                    w.WriteDoubleUnchecked(rule.Value.B);
                }
            }
        }
        w.WriteVarUInt((uint)b.HandledTypes);
        return w.Written.ToArray();
    }

    // ---------------------------------------------------------------- reading

    private static string[] ReadTable(ref Reader reader)
    {
        var tableCount = reader.ReadCount();
        var strings = tableCount == 0 ? [] : new string[tableCount];
        for (var i = 0; i < strings.Length; i++) strings[i] = reader.ReadTableString();
        return strings;
    }

    private static MetricBatch ReadBatch(ref Reader reader, string[] strings)
    {
        var batchNode = reader.ReadRef(strings);
        var batchSource = reader.ReadRef(strings);
        return new MetricBatch(batchNode!, batchSource!, ReadSamples(ref reader, strings));
    }

    private static Delivery ReadDelivery(ref Reader reader)
    {
        var strings = ReadTable(ref reader);
        var sourceNode = reader.ReadRef(strings);
        var backend = reader.ReadRef(strings);
        var sequence = reader.ReadSigned();
        var epoch = reader.ReadSigned();
        MetricBatch? batch = null;
        var batchPresent = reader.ReadByte();
        if (batchPresent > 1) throw reader.Malformed($"batch marker {batchPresent}");
        if (batchPresent == 1) batch = ReadBatch(ref reader, strings);
        return new Delivery(sourceNode!, backend!, sequence, batch!) { Epoch = epoch };
    }

    private static ImmutableArray<MetricSample> ReadSamples(ref Reader reader, string[] strings)
    {
        var prefix = reader.ReadCountPrefix();
        if (prefix < 0) return default;
        if (prefix == 0) return [];
        var samples = new MetricSample[prefix];
        var ticks = 0L;
        for (var i = 0; i < samples.Length; i++)
        {
            var name = reader.ReadRef(strings);
            var type = (MetricType)reader.ReadByte();
            var flags = reader.ReadByte();
            if ((flags & ~KnownFlags) != 0) throw reader.Malformed($"unknown sample flags 0x{flags:x2}");
            var value = reader.ReadDouble();
            ticks = unchecked(ticks + reader.ReadSigned());
            var source = reader.ReadRef(strings);
            long? step = (flags & FlagStep) != 0 ? reader.ReadSigned() : null;
            ImmutableArray<MetricLabel> labels = default;
            if ((flags & FlagLabelsDefault) == 0)
            {
                var count = reader.ReadCount();
                if (count == 0)
                {
                    labels = [];
                }
                else
                {
                    var array = new MetricLabel[count];
                    for (var j = 0; j < array.Length; j++) array[j] = new MetricLabel(reader.ReadRef(strings)!, reader.ReadRef(strings)!);
                    labels = ImmutableCollectionsMarshal.AsImmutableArray(array);
                }
            }
            var text = reader.ReadRef(strings);
            samples[i] = new MetricSample(name!, type, value, new DateTimeOffset(ticks, TimeSpan.Zero), source!, step, labels, text);
        }
        return ImmutableCollectionsMarshal.AsImmutableArray(samples);
    }

    private BackendAnnouncement ReadAnnouncement(ref Reader reader, bool withValues)
    {
        var backend = reader.ReadString();
        var node = reader.ReadString();
        var path = reader.ReadString();
        var inbox = path is null ? null : system.Provider.ResolveActorRef(path);
        var incarnation = reader.ReadSigned();
        LinkSettings? link = null;
        var linkPresent = reader.ReadByte();
        if (linkPresent > 1) throw reader.Malformed($"link marker {linkPresent}");
        if (linkPresent == 1)
        {
            link = new LinkSettings((OverflowPolicy)reader.ReadInt32(), reader.ReadInt32(), reader.ReadSigned(), reader.ReadInt32());
        }
        ImmutableArray<RouteRule> routes = default;
        var routeCount = reader.ReadCountPrefix();
        if (routeCount >= 0)
        {
            var array = new RouteRule[routeCount];
            for (var i = 0; i < array.Length; i++)
            {
                var source = reader.ReadString();
                var types = (int)reader.ReadVarUInt32();
                var name = reader.ReadString();
                ImmutableArray<KeyValuePair<string, string>> labels = default;
                var labelCount = reader.ReadCountPrefix();
                if (labelCount >= 0)
                {
                    var pairs = new KeyValuePair<string, string>[labelCount];
                    for (var j = 0; j < pairs.Length; j++) pairs[j] = new(reader.ReadString()!, reader.ReadString()!);
                    labels = ImmutableCollectionsMarshal.AsImmutableArray(pairs);
                }
                var filter = ValueFilter.Any;
                if (withValues)
                {
                    var test = reader.ReadByte();
                    if (test > (byte)ValueTest.Finite) throw reader.Malformed($"value test {test}");
                    filter = new ValueFilter((ValueTest)test, reader.ReadDouble(), reader.ReadDouble());
                }
                array[i] = new RouteRule(source!, types, name!, labels) { Value = filter };
            }
            routes = ImmutableCollectionsMarshal.AsImmutableArray(array);
        }
        var handled = (int)reader.ReadVarUInt32();
        return new BackendAnnouncement(backend!, node!, inbox!, incarnation, link!, routes, handled);
    }

    // ---------------------------------------------------------------- buffers

    private sealed class WriteState
    {
        /// <summary>Scratch buffers bigger than this are dropped after use instead of being kept by the thread.</summary>
        private const int KeepBytes = 1 << 20;

        private const int KeepStrings = 4096;

        public Buffer Head = new(256);
        public Buffer Body = new(4096);
        public Dictionary<string, int> Index = new(StringComparer.Ordinal);
        public readonly List<string> Strings = [];

        /// <summary>
        /// One-entry caches in front of the dictionary, one per field (name, source, text, label
        /// key and value by position): consecutive samples mostly repeat the same string instances there.
        /// </summary>
        private readonly CacheEntry[] _cache = new CacheEntry[CacheSlots];

        public const int NameSlot = 0;
        public const int SourceSlot = 1;
        public const int TextSlot = 2;
        public const int LabelSlot = 3;
        private const int CacheSlots = LabelSlot + 2 * 8;

        /// <summary>The cache slot of a label's key (its value's is the next one); labels past the eighth share the last pair.</summary>
        public static int LabelKeySlot(int position) => LabelSlot + 2 * Math.Min(position, 7);

        /// <summary>The reference to <paramref name="s"/> in this message's string table (index + 1; 0 = null), adding it when new.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Intern(string? s, int slot)
        {
            if (s is null) return 0;
            ref var entry = ref _cache[slot];
            if (ReferenceEquals(s, entry.Value)) return entry.Reference;
            var reference = Intern(s);
            entry.Value = s;
            entry.Reference = reference;
            return reference;
        }

        public int Intern(string? s)
        {
            if (s is null) return 0;
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(Index, s, out var exists);
            if (!exists)
            {
                Strings.Add(s);
                slot = Strings.Count;
            }
            return slot;
        }

        public void Recycle()
        {
            if (Head.Capacity > KeepBytes) Head = new Buffer(256);
            if (Body.Capacity > KeepBytes) Body = new Buffer(4096);
            Head.Position = 0;
            Body.Position = 0;
            if (Strings.Count > KeepStrings) Index = new Dictionary<string, int>(StringComparer.Ordinal);
            else if (Strings.Count > 0) Index.Clear();
            Strings.Clear();
            Array.Clear(_cache);
        }
    }

    private struct CacheEntry
    {
        public string? Value;
        public int Reference;
    }

    /// <summary>A growable byte buffer; the <c>Unchecked</c> writes assume the caller called <see cref="Ensure"/>.</summary>
    private sealed class Buffer(int capacity)
    {
        private byte[] _bytes = new byte[capacity];

        public int Position;

        public int Capacity => _bytes.Length;

        public ReadOnlySpan<byte> Written => _bytes.AsSpan(0, Position);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Ensure(int count)
        {
            if (_bytes.Length - Position < count) Grow(count);
        }

        private void Grow(int count)
        {
            var size = Math.Max(checked(Position + count), checked(_bytes.Length * 2));
            Array.Resize(ref _bytes, size);
        }

        public void WriteByte(byte value)
        {
            Ensure(1);
            _bytes[Position++] = value;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void WriteByteUnchecked(byte value) => _bytes[Position++] = value;

        public void WriteVarUInt(uint value)
        {
            Ensure(MaxVarInt32Bytes);
            WriteVarUIntUnchecked(value);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void WriteVarUIntUnchecked(uint value)
        {
            var bytes = _bytes;
            var p = Position;
            while (value >= 0x80)
            {
                bytes[p++] = (byte)(value | 0x80);
                value >>= 7;
            }
            bytes[p++] = (byte)value;
            Position = p;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void WriteRefUnchecked(int reference) => WriteVarUIntUnchecked((uint)reference);

        public void WriteRef(int reference) => WriteVarUInt((uint)reference);

        public void WriteSigned(long value)
        {
            Ensure(10);
            WriteSignedUnchecked(value);
        }

        /// <summary>Zigzag, then LEB128: small magnitudes of either sign take few bytes.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void WriteSignedUnchecked(long value)
        {
            var zigzag = (ulong)((value << 1) ^ (value >> 63));
            var bytes = _bytes;
            var p = Position;
            while (zigzag >= 0x80)
            {
                bytes[p++] = (byte)(zigzag | 0x80);
                zigzag >>= 7;
            }
            bytes[p++] = (byte)zigzag;
            Position = p;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void WriteDoubleUnchecked(double value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_bytes.AsSpan(Position, 8), BitConverter.DoubleToInt64Bits(value));
            Position += 8;
        }

        /// <summary>UTF-8 with a varint byte-count prefix; when <paramref name="nullable"/>, the prefix is count + 1 and 0 means null.</summary>
        public void WriteUtf8(string? s, bool nullable)
        {
            if (s is null)
            {
                if (!nullable) throw new ArgumentException("null string where none is allowed");
                WriteVarUInt(0);
                return;
            }
            var bias = nullable ? 1 : 0;
            var max = Encoding.UTF8.GetMaxByteCount(s.Length);
            if (max + bias < 0x80)
            {
                // Short string: the prefix surely takes one byte, so encode straight after it.
                Ensure(1 + max);
                var n = Encoding.UTF8.GetBytes(s, _bytes.AsSpan(Position + 1));
                _bytes[Position] = (byte)(n + bias);
                Position += 1 + n;
            }
            else
            {
                var n = Encoding.UTF8.GetByteCount(s);
                WriteVarUInt((uint)(n + bias));
                Ensure(n);
                Position += Encoding.UTF8.GetBytes(s, _bytes.AsSpan(Position));
            }
        }
    }

    private ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly string _manifest;
        private int _position;

        public Reader(ReadOnlySpan<byte> data, string manifest)
        {
            _data = data;
            _manifest = manifest;
            _position = 0;
        }

        public readonly SerializationException Malformed(string what) =>
            new($"malformed '{_manifest}' payload for {nameof(PipelineSerializer)} at byte {_position}: {what}");

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public byte ReadByte()
        {
            if ((uint)_position >= (uint)_data.Length) throw Malformed("truncated");
            return _data[_position++];
        }

        public ulong ReadVarUInt64()
        {
            ulong result = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = ReadByte();
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
            throw Malformed("varint longer than 10 bytes");
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public uint ReadVarUInt32()
        {
            // Fast path: most varints here (references, counts) are one byte.
            if ((uint)_position < (uint)_data.Length && _data[_position] < 0x80) return _data[_position++];
            var value = ReadVarUInt64();
            if (value > uint.MaxValue) throw Malformed($"{value} does not fit 32 bits");
            return (uint)value;
        }

        public long ReadSigned()
        {
            var zigzag = ReadVarUInt64();
            return (long)(zigzag >> 1) ^ -(long)(zigzag & 1);
        }

        public int ReadInt32()
        {
            var value = ReadSigned();
            if (value is < int.MinValue or > int.MaxValue) throw Malformed($"{value} does not fit 32 bits");
            return (int)value;
        }

        public double ReadDouble()
        {
            if (_data.Length - _position < 8) throw Malformed("truncated");
            var bits = BinaryPrimitives.ReadInt64LittleEndian(_data.Slice(_position, 8));
            _position += 8;
            return BitConverter.Int64BitsToDouble(bits);
        }

        /// <summary>A count of elements that each take at least one byte: refused when more than the bytes left.</summary>
        public int ReadCount()
        {
            var count = ReadVarUInt32();
            if (count > (uint)(_data.Length - _position)) throw Malformed($"count {count} exceeds the {_data.Length - _position} bytes left");
            return (int)count;
        }

        /// <summary>An array prefix (count + 1): -1 for a default array, else the count.</summary>
        public int ReadCountPrefix()
        {
            var prefix = ReadVarUInt32();
            if (prefix == 0) return -1;
            var count = prefix - 1;
            if (count > (uint)(_data.Length - _position)) throw Malformed($"count {count} exceeds the {_data.Length - _position} bytes left");
            return (int)count;
        }

        private string ReadUtf8(int length)
        {
            if ((uint)length > (uint)(_data.Length - _position)) throw Malformed($"string of {length} bytes exceeds the {_data.Length - _position} bytes left");
            var s = length == 0 ? "" : Encoding.UTF8.GetString(_data.Slice(_position, length));
            _position += length;
            return s;
        }

        /// <summary>A nullable string (prefix byte count + 1, 0 = null).</summary>
        public string? ReadString()
        {
            var prefix = ReadVarUInt32();
            return prefix == 0 ? null : ReadUtf8(checked((int)(prefix - 1)));
        }

        /// <summary>A string-table entry (prefix = byte count; never null).</summary>
        public string ReadTableString() => ReadUtf8(checked((int)ReadVarUInt32()));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public string? ReadRef(string[] strings)
        {
            var reference = ReadVarUInt32();
            if (reference == 0) return null;
            if (reference > (uint)strings.Length) throw Malformed($"string reference {reference} beyond the table of {strings.Length}");
            return strings[reference - 1];
        }

        public readonly void ExpectEnd()
        {
            if (_position != _data.Length) throw Malformed($"{_data.Length - _position} trailing bytes");
        }
    }
}
