using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Tracelet.Abstractions;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Pipeline;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Pipeline;

/// <summary>
/// The pipeline's cross-node messages go through <see cref="PipelineSerializer"/> (never JSON)
/// and come back with the same contents: every metric type, NaN bits, null and present steps and
/// texts, default/empty/unicode labels, empty and large batches, actor refs resolved back.
/// </summary>
public sealed class PipelineSerializerSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly Config SystemConfig = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.port = 0
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        """).WithFallback(TraceletConfigLoader.ReferenceConfig());

    private static readonly DateTimeOffset T0 = new(2025, 3, 14, 15, 9, 26, 535, TimeSpan.Zero);

    public PipelineSerializerSpec(ITestOutputHelper output) : base(SystemConfig, "pipeline-serializer-spec", output)
    {
    }

    // ------------------------------------------------------------ helpers

    /// <summary>Serializes through Akka's serialization (as remoting does) and reads the bytes back.</summary>
    private (T Message, byte[] Bytes) RoundTrip<T>(T message) where T : notnull
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<PipelineSerializer>(serializer);
        Assert.Equal(PipelineSerializer.SerializerId, serializer.Identifier);
        var bytes = serializer.ToBinary(message);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        return (Assert.IsType<T>(back), bytes);
    }

    private static MetricSample Sample(
        string name,
        MetricType type = MetricType.System,
        double value = 1.5,
        long? step = null,
        ImmutableArray<MetricLabel> labels = default,
        string? text = null,
        string source = "cpu",
        DateTimeOffset? at = null) =>
        new(name, type, value, at ?? T0, source, step, labels, text);

    private static Delivery DeliveryOf(params MetricSample[] samples) =>
        new("node-a", "console", 42, new MetricBatch("node-a", "cpu", [.. samples]));

    /// <summary>MetricSample equality compares its Labels array by reference: compare contents instead (and the value's exact bits).</summary>
    private static void AssertSame(MetricSample expected, MetricSample actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Value), BitConverter.DoubleToInt64Bits(actual.Value));
        Assert.Equal(expected.Timestamp, actual.Timestamp);
        Assert.Equal(expected.Timestamp.UtcTicks, actual.Timestamp.UtcTicks);
        Assert.Equal(TimeSpan.Zero, actual.Timestamp.Offset);
        Assert.Equal(expected.Source, actual.Source);
        Assert.Equal(expected.Step, actual.Step);
        Assert.Equal(expected.Labels.IsDefault, actual.Labels.IsDefault);
        if (!expected.Labels.IsDefault) Assert.Equal(expected.Labels.AsEnumerable(), actual.Labels.AsEnumerable());
        Assert.Equal(expected.Text, actual.Text);
    }

    private static void AssertSame(Delivery expected, Delivery actual)
    {
        Assert.Equal(expected.SourceNode, actual.SourceNode);
        Assert.Equal(expected.Backend, actual.Backend);
        Assert.Equal(expected.Sequence, actual.Sequence);
        Assert.Equal(expected.Epoch, actual.Epoch);
        Assert.Equal(expected.Batch.SourceNode, actual.Batch.SourceNode);
        Assert.Equal(expected.Batch.Source, actual.Batch.Source);
        Assert.Equal(expected.Batch.Samples.IsDefault, actual.Batch.Samples.IsDefault);
        if (expected.Batch.Samples.IsDefault) return;
        Assert.Equal(expected.Batch.Samples.Length, actual.Batch.Samples.Length);
        for (var i = 0; i < expected.Batch.Samples.Length; i++) AssertSame(expected.Batch.Samples[i], actual.Batch.Samples[i]);
    }

    private Delivery RoundTripDelivery(Delivery delivery)
    {
        var (back, _) = RoundTrip(delivery);
        AssertSame(delivery, back);
        return back;
    }

    // ------------------------------------------------------------ deliveries

    [Fact]
    public void Delivery_round_trips_every_metric_type()
    {
        var samples = Enum.GetValues<MetricType>()
            .Select((type, i) => Sample($"metric.{type}", type, value: i * 0.25, step: i, at: T0.AddMilliseconds(i)))
            .ToArray();
        Assert.Equal(15, samples.Length);
        RoundTripDelivery(DeliveryOf(samples));
    }

    [Fact]
    public void Delivery_keeps_NaN_infinities_and_negative_zero_bit_for_bit()
    {
        var payloadNaN = BitConverter.Int64BitsToDouble(unchecked((long)0xFFF8_0000_0000_0123UL));
        double[] values = [double.NaN, payloadNaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, double.Epsilon, double.MaxValue, double.MinValue];
        var back = RoundTripDelivery(DeliveryOf([.. values.Select((v, i) => Sample($"v{i}", value: v))]));
        Assert.True(double.IsNaN(back.Batch.Samples[0].Value));
        Assert.Equal(unchecked((long)0xFFF8_0000_0000_0123UL), BitConverter.DoubleToInt64Bits(back.Batch.Samples[1].Value));
        Assert.True(double.IsNegative(back.Batch.Samples[4].Value));
    }

    [Fact]
    public void Delivery_keeps_null_and_present_steps_and_texts()
    {
        var back = RoundTripDelivery(DeliveryOf(
            Sample("no.step"),
            Sample("step.zero", MetricType.Scalar, step: 0),
            Sample("step.big", MetricType.Scalar, step: long.MaxValue),
            Sample("step.negative", MetricType.Scalar, step: long.MinValue),
            Sample("text", MetricType.Text, double.NaN, step: 7, text: "hello"),
            Sample("text.empty", MetricType.Text, double.NaN, text: ""),
            Sample("artifact", MetricType.Artifact, double.NaN, text: "/tmp/model.pt")));
        Assert.Null(back.Batch.Samples[0].Step);
        Assert.Null(back.Batch.Samples[0].Text);
        Assert.Equal(0L, back.Batch.Samples[1].Step);
        Assert.Equal("", back.Batch.Samples[5].Text);
    }

    [Fact]
    public void Delivery_keeps_default_labels_default_and_empty_labels_empty()
    {
        var back = RoundTripDelivery(DeliveryOf(
            Sample("default.labels"),
            Sample("empty.labels", labels: []),
            Sample("two.labels", labels: [new("gpu", "0"), new("host", "h1")])));
        Assert.True(back.Batch.Samples[0].Labels.IsDefault);
        Assert.False(back.Batch.Samples[1].Labels.IsDefault);
        Assert.Empty(back.Batch.Samples[1].Labels);
        Assert.Equal(2, back.Batch.Samples[2].Labels.Length);
    }

    [Fact]
    public void Delivery_keeps_unicode_and_long_strings()
    {
        var longText = string.Concat(Enumerable.Repeat("ünïcödé-✓-", 100));
        RoundTripDelivery(new Delivery("nœud-Ω", "后端", 1, new MetricBatch("nœud-Ω", "采集器", [
            Sample("温度.gpu", labels: [new("clé", "värde"), new("emoji", "🔥🚀"), new("", "")], text: longText, source: "采集器"),
            Sample(new string('x', 300), labels: [new("k", new string('é', 200))]),
        ])));
    }

    [Fact]
    public void Timestamps_are_normalized_to_utc_and_keep_the_instant()
    {
        var local = new DateTimeOffset(2025, 6, 1, 12, 0, 0, 123, TimeSpan.FromHours(2)).AddTicks(4567);
        var (back, _) = RoundTrip(DeliveryOf(
            Sample("offset", at: local),
            Sample("earlier", at: DateTimeOffset.MinValue),
            Sample("later", at: DateTimeOffset.MaxValue),
            Sample("then", at: T0)));
        var ts = back.Batch.Samples[0].Timestamp;
        Assert.Equal(local, ts);
        Assert.Equal(local.UtcTicks, ts.UtcTicks);
        Assert.Equal(TimeSpan.Zero, ts.Offset);
        Assert.Equal(DateTimeOffset.MinValue, back.Batch.Samples[1].Timestamp);
        Assert.Equal(DateTimeOffset.MaxValue, back.Batch.Samples[2].Timestamp);
        Assert.Equal(T0, back.Batch.Samples[3].Timestamp);
    }

    [Fact]
    public void Delivery_keeps_its_epoch()
    {
        foreach (var epoch in new[] { 0L, 1L, -1L, long.MaxValue, long.MinValue, Random.Shared.NextInt64(1, long.MaxValue) })
        {
            Assert.Equal(epoch, RoundTripDelivery(DeliveryOf(Sample("a")) with { Epoch = epoch }).Epoch);
        }
    }

    [Fact]
    public void Empty_and_default_batches_round_trip()
    {
        var empty = RoundTripDelivery(new Delivery("n", "b", 1, new MetricBatch("n", "s", [])));
        Assert.False(empty.Batch.Samples.IsDefault);
        Assert.Empty(empty.Batch.Samples);
        var none = RoundTripDelivery(new Delivery("n", "b", 2, new MetricBatch("n", "s", default)));
        Assert.True(none.Batch.Samples.IsDefault);
    }

    [Fact]
    public void A_large_batch_with_repeated_names_is_compact()
    {
        string[] names = ["system.cpu.utilization", "system.memory.used", "gpu.utilization", "gpu.memory.used", "gpu.temperature"];
        var samples = Enumerable.Range(0, 1000)
            .Select(i => new MetricSample(
                names[i % names.Length],
                MetricType.System,
                i * 1.1,
                T0.AddSeconds(i / 10),
                "gpu",
                i / 10,
                [new("node", "worker-01"), new("gpu", (i % 8).ToString()), new("uuid", $"GPU-{i % 8:0000}-abcd-ef01")]))
            .ToArray();
        var delivery = new Delivery("worker-01", "prometheus", 123_456, new MetricBatch("worker-01", "gpu", [.. samples]));
        var (back, bytes) = RoundTrip(delivery);
        AssertSame(delivery, back);

        // Spelled out, each sample would carry ~100 bytes of names and labels alone.
        var naive = samples.Sum(s => Encoding.UTF8.GetByteCount(s.Name) + s.Source.Length + s.Labels.Sum(l => l.Key.Length + l.Value.Length) + 8 + 8 + 8 + 2);
        var perSample = bytes.Length / (double)samples.Length;
        Assert.True(perSample < 40, $"{perSample:0.0} bytes per sample ({bytes.Length} in all; naive {naive})");
        Assert.True(bytes.Length * 3 < naive, $"{bytes.Length} bytes is not much smaller than naive {naive}");
    }

    [Fact]
    public void The_wire_format_is_pinned()
    {
        // version 1, "a", "b", sequence 1, rejected 2, failed -1 (zigzag varints).
        var ack = new DeliveryAck("a", "b", 1, 2, -1);
        var serializer = Sys.Serialization.FindSerializerFor(ack);
        Assert.Equal(new byte[] { 1, 2, (byte)'a', 2, (byte)'b', 2, 4, 1 }, serializer.ToBinary(ack));

        // version 1, table ["n"], refs 1 and 1, sequence 3, epoch -2, batch present, refs 1 and 1, one
        // sample: name ref 1, type 4, flags 2 (labels default), value 0.0, timestamp 0, source ref 1, text null.
        var delivery = new Delivery("n", "n", 3, new MetricBatch("n", "n", [new MetricSample("n", MetricType.System, 0, default, "n")])) { Epoch = -2 };
        Assert.Equal(
            new byte[] { 1, 1, 1, (byte)'n', 1, 1, 6, 3, 1, 1, 1, 2, 1, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 },
            Sys.Serialization.FindSerializerFor(delivery).ToBinary(delivery));
    }

    // ------------------------------------------------------------ stored batches (durable outbox)

    [Fact]
    public void A_stored_batch_round_trips()
    {
        var delivery = DeliveryOf(
            Sample("a", MetricType.Scalar, double.NaN, step: 3, labels: [new("k", "ü")], text: "t"),
            Sample("b", labels: []),
            Sample("c", at: new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.FromHours(-5))));
        var back = PipelineSerializer.DecodeBatch(PipelineSerializer.EncodeBatch(delivery.Batch));
        AssertSame(delivery, delivery with { Batch = back });
        Assert.True(PipelineSerializer.DecodeBatch(PipelineSerializer.EncodeBatch(new MetricBatch("n", "s", default))).Samples.IsDefault);
    }

    [Fact]
    public void The_stored_batch_layout_is_pinned()
    {
        // version 1, table ["n", "s"], batch refs 1 and 2, one sample: name ref 2, type 0, flags 1 (step),
        // value 1.0, timestamp 0, source ref 2, step 5, no labels, text null.
        var batch = new MetricBatch("n", "s", [new MetricSample("s", MetricType.Scalar, 1.0, default, "s", 5, [])]);
        Assert.Equal(
            new byte[] { 1, 2, 1, (byte)'n', 1, (byte)'s', 1, 2, 2, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 2, 10, 0, 0 },
            PipelineSerializer.EncodeBatch(batch));
    }

    [Fact]
    public void A_malformed_stored_batch_throws_a_serialization_exception()
    {
        var bytes = PipelineSerializer.EncodeBatch(DeliveryOf(Sample("a", labels: [new("k", "v")])).Batch);
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<SerializationException>(() => PipelineSerializer.DecodeBatch(bytes[..length]));
        }
        var newer = (byte[])bytes.Clone();
        newer[0] = 9;
        Assert.Contains("version 9", Assert.Throws<SerializationException>(() => PipelineSerializer.DecodeBatch(newer)).Message);
    }

    [Fact]
    public void Concurrent_serialization_keeps_messages_apart()
    {
        // The serializer keeps scratch buffers per thread: many threads at once must not mix them up.
        Parallel.For(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var delivery = new Delivery($"node-{i}", "b", i, new MetricBatch($"node-{i}", $"src-{i % 7}",
                [.. Enumerable.Range(0, i % 13).Select(j => Sample($"m{i}.{j}", step: j, labels: [new($"k{i}", $"v{j}")], source: $"src-{i % 7}"))]));
            var serializer = (PipelineSerializer)Sys.Serialization.FindSerializerFor(delivery);
            var back = (Delivery)serializer.FromBinary(serializer.ToBinary(delivery), serializer.Manifest(delivery));
            AssertSame(delivery, back);
            AssertSame(delivery, delivery with { Batch = PipelineSerializer.DecodeBatch(PipelineSerializer.EncodeBatch(delivery.Batch)) });
        });
    }

    // ------------------------------------------------------------ other messages

    [Fact]
    public void DeliveryAck_round_trips()
    {
        var ack = new DeliveryAck("node-a", "console", long.MaxValue, 3, int.MaxValue);
        Assert.Equal(ack, RoundTrip(ack).Message);
        var negative = new DeliveryAck("", "ü", -1, int.MinValue, 0);
        Assert.Equal(negative, RoundTrip(negative).Message);
    }

    [Fact]
    public void BackendWithdrawn_round_trips()
    {
        var withdrawn = new BackendWithdrawn("prometheus", "node-b", 17);
        Assert.Equal(withdrawn, RoundTrip(withdrawn).Message);
    }

    [Fact]
    public void BackendAnnouncement_round_trips_and_its_inbox_resolves_to_the_same_actor()
    {
        var probe = CreateTestProbe();
        var announcement = new BackendAnnouncement(
            "prometheus",
            "node-b",
            probe.Ref,
            long.MaxValue - 1,
            new LinkSettings(OverflowPolicy.Durable, 5000, 8L * 1024 * 1024 * 1024, 250),
            [
                RouteRule.All,
                new RouteRule("gpu*", RouteRule.TypeMask([MetricType.System, MetricType.Scalar]), "gpu.?tilization", [new("rank", "0"), new("ключ", "值")]),
                new RouteRule("", 1 << 31, "", default),
            ],
            RouteRule.TypeMask(Enum.GetValues<MetricType>()) | 1 << 31);

        var (back, _) = RoundTrip(announcement);

        Assert.Equal(announcement.Backend, back.Backend);
        Assert.Equal(announcement.Node, back.Node);
        Assert.Equal(announcement.Incarnation, back.Incarnation);
        Assert.Equal(announcement.Link, back.Link);
        Assert.Equal(announcement.HandledTypes, back.HandledTypes);
        Assert.Equal(probe.Ref.Path, back.Inbox.Path);
        Assert.Equal(probe.Ref.Path.Uid, back.Inbox.Path.Uid);
        Assert.Equal(probe.Ref, back.Inbox);
        Assert.Equal(announcement.Routes.Length, back.Routes.Length);
        for (var i = 0; i < announcement.Routes.Length; i++)
        {
            var (expected, actual) = (announcement.Routes[i], back.Routes[i]);
            Assert.Equal(expected.Source, actual.Source);
            Assert.Equal(expected.Types, actual.Types);
            Assert.Equal(expected.Name, actual.Name);
            Assert.Equal(expected.Labels.IsDefault, actual.Labels.IsDefault);
            if (!expected.Labels.IsDefault) Assert.Equal(expected.Labels.AsEnumerable(), actual.Labels.AsEnumerable());
        }

        // The resolved ref reaches the actor.
        back.Inbox.Tell("ping");
        probe.ExpectMsg("ping");
    }

    [Fact]
    public void Value_tests_of_routes_travel_exactly_in_a_pb2_announcement()
    {
        ImmutableArray<RouteRule> routes =
        [
            RouteRule.All,
            new RouteRule("gpu*", 0, "*", []) { Value = new(ValueTest.GreaterThan, 5, 0) },
            new RouteRule("*", 0, "loss", default) { Value = new(ValueTest.InRange, double.NegativeInfinity, 0.1) },
            new RouteRule("*", 0, "*", []) { Value = new(ValueTest.Finite, 0, 0) },
        ];
        var announcement = new BackendAnnouncement("b", "n", TestActor, 3, LinkSettings.Default, routes, 7);

        var (back, _) = RoundTrip(announcement);

        Assert.Equal(routes.Select(r => r.Value), back.Routes.Select(r => r.Value));
        Assert.Equal(routes.Select(r => (r.Source, r.Name)), back.Routes.Select(r => (r.Source, r.Name)));
        Assert.Equal(7, back.HandledTypes);
    }

    [Fact]
    public void An_announcement_without_value_tests_stays_pb1_so_older_nodes_read_it()
    {
        var announcement = new BackendAnnouncement("b", "n", TestActor, 3, LinkSettings.Default, [new RouteRule("gpu*", 0, "*", [])], 1);
        var serializer = (PipelineSerializer)Sys.Serialization.FindSerializerForType(typeof(BackendAnnouncement));

        Assert.Equal("pb1", serializer.Manifest(announcement));
        Assert.Equal(ValueFilter.Any, RoundTrip(announcement).Message.Routes.Single().Value);
    }

    [Fact]
    public void A_pb2_announcement_with_an_unknown_value_test_is_refused()
    {
        var announcement = new BackendAnnouncement("b", "n", null!, 3, LinkSettings.Default, [RouteRule.All with { Value = new(ValueTest.Finite, 0, 0) }], 1);
        var serializer = (PipelineSerializer)Sys.Serialization.FindSerializerForType(typeof(BackendAnnouncement));
        var bytes = serializer.ToBinary(announcement);
        // The value test's byte follows the route's empty label list ("*", types 0, "*", labels count 1).
        var at = Array.LastIndexOf(bytes, (byte)ValueTest.Finite);
        bytes[at] = 42;

        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(bytes, "pb2"));
    }

    [Fact]
    public void BackendAnnouncement_keeps_default_routes_default()
    {
        var announcement = new BackendAnnouncement("b", "n", TestActor, 1, LinkSettings.Default, default, 0);
        var (back, _) = RoundTrip(announcement);
        Assert.True(back.Routes.IsDefault);
        Assert.Equal(LinkSettings.Default, back.Link);
        Assert.Equal(TestActor, back.Inbox);
    }

    // ------------------------------------------------------------ failures

    [Fact]
    public void An_unknown_manifest_throws_naming_it()
    {
        var serializer = (PipelineSerializer)Sys.Serialization.FindSerializerForType(typeof(Delivery));
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary([1], "pz9"));
        Assert.Contains("'pz9'", e.Message);
    }

    [Fact]
    public void A_newer_format_version_or_a_truncated_payload_throws()
    {
        var serializer = (PipelineSerializer)Sys.Serialization.FindSerializerForType(typeof(Delivery));
        var bytes = serializer.ToBinary(DeliveryOf(Sample("a", labels: [new("k", "v")], text: "t", step: 1)));

        var newer = (byte[])bytes.Clone();
        newer[0] = 2;
        Assert.Contains("version 2", Assert.Throws<SerializationException>(() => serializer.FromBinary(newer, "pd1")).Message);

        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes[..length], "pd1"));
        }
        Assert.Throws<SerializationException>(() => serializer.FromBinary([.. bytes, 0], "pd1"));
    }

    // ------------------------------------------------------------ bindings

    [Fact]
    public void Every_pipeline_message_type_is_bound_to_the_pipeline_serializer()
    {
        var types = typeof(IPipelineMessage).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IPipelineMessage).IsAssignableFrom(t))
            .ToList();
        Assert.Contains(typeof(Delivery), types);
        Assert.Contains(typeof(DeliveryAck), types);
        Assert.Contains(typeof(BackendAnnouncement), types);
        Assert.Contains(typeof(BackendWithdrawn), types);
        foreach (var type in types)
        {
            var serializer = Sys.Serialization.FindSerializerForType(type);
            Assert.True(serializer is PipelineSerializer, $"{type} is bound to {serializer.GetType()}, not {nameof(PipelineSerializer)}");
            // Bound is not enough: the serializer must also know the type (a manifest of its own).
            var manifest = ((PipelineSerializer)serializer).Manifest(RuntimeHelpers.GetUninitializedObject(type));
            Assert.Matches("^p[a-z][0-9]+$", manifest);
        }
    }

    /// <summary>
    /// The serializer writes each message field by field: a property added to a message must be
    /// added to the wire format (and to this list), or it would silently arrive as its default.
    /// </summary>
    [Theory]
    [InlineData(typeof(Delivery), "Backend,Batch,Epoch,Sequence,SourceNode")]
    [InlineData(typeof(DeliveryAck), "Backend,Failed,Rejected,Sequence,SourceNode")]
    [InlineData(typeof(BackendAnnouncement), "Backend,HandledTypes,Inbox,Incarnation,Link,Node,Routes")]
    [InlineData(typeof(BackendWithdrawn), "Backend,Incarnation,Node")]
    [InlineData(typeof(MetricBatch), "Samples,Source,SourceNode")]
    [InlineData(typeof(MetricSample), "Labels,Name,Source,Step,Text,Timestamp,Type,Value")]
    [InlineData(typeof(LinkSettings), "BufferBytes,BufferSamples,Overflow,WindowSamples")]
    [InlineData(typeof(RouteRule), "Labels,Name,Source,Types,Value")]
    [InlineData(typeof(ValueFilter), "A,B,Test")]
    public void Every_message_property_is_on_the_wire(Type type, string serialized)
    {
        var settable = type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal);
        Assert.Equal(serialized, string.Join(",", settable));
    }

    [Fact]
    public void Manifests_are_stable()
    {
        var serializer = (PipelineSerializer)Sys.Serialization.FindSerializerForType(typeof(Delivery));
        Assert.Equal("pd1", serializer.Manifest(DeliveryOf()));
        Assert.Equal("pa1", serializer.Manifest(new DeliveryAck("n", "b", 1, 0, 0)));
        Assert.Equal("pb1", serializer.Manifest(new BackendAnnouncement("b", "n", TestActor, 1, LinkSettings.Default, [], 0)));
        Assert.Equal("pb2", serializer.Manifest(new BackendAnnouncement("b", "n", TestActor, 1, LinkSettings.Default, [RouteRule.All with { Value = new(ValueTest.Finite, 0, 0) }], 0)));
        Assert.Equal("pw1", serializer.Manifest(new BackendWithdrawn("b", "n", 1)));
        Assert.Equal(7302, serializer.Identifier);
    }
}
