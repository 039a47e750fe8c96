using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using System.Text;
using Akka.Configuration;
using Tracelet.Abstractions;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Plugins;
using Tracelet.Actors.Status;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Status;

/// <summary>The cluster status view's wire format: every cross-node message bound, exact round trips, corrupt input refused.</summary>
public sealed class StatusSerializerSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly Config SystemConfig = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.port = 0
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        """).WithFallback(TraceletConfigLoader.ReferenceConfig());

    private readonly ITestOutputHelper _output;

    public StatusSerializerSpec(ITestOutputHelper output) : base(SystemConfig, "status-serializer-spec", output)
    {
        _output = output;
    }

    private (T Message, byte[] Bytes) RoundTrip<T>(T message) where T : notnull
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<StatusSerializer>(serializer);
        var bytes = serializer.ToBinary(message);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        return ((T)Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest), bytes);
    }

    /// <summary>A node as a GPU worker reports it: 40 plugins (collectors and backends) and 4 links.</summary>
    private static NodeStatusUpdate Update(int plugins = 40)
    {
        var at = new DateTimeOffset(2026, 11, 26, 17, 0, 0, 123, TimeSpan.Zero);
        return new NodeStatusUpdate("gpu-node-0042", "akka.tcp://tracelet@10.1.2.42:4055", "http://10.1.2.42:8558", ["worker", "gpu"],
            at.UtcTicks, 12345,
            [.. Enumerable.Range(0, plugins).Select(i => new PluginSummary(
                $"plugin-{i:00}", i == 9 ? null : i % 4 == 0 ? PluginType.Backend : PluginType.Collector, "1.2.0",
                i switch { 7 => PluginStatusState.Error, 8 => PluginStatusState.Retrying, _ => PluginStatusState.Active },
                i is 7 or 8 ? "NVML_ERROR_GPU_IS_LOST on GPU 3" : null, i % 3, at.AddMinutes(-i), 1_000_000L * i,
                i == 8 ? new PluginRetry(at.AddSeconds(4), 2, "NVML_ERROR_GPU_IS_LOST on GPU 3") : null,
                i == 5 ? "1.3.0 (/opt/tracelet/plugins/p5/plugin.dll)" : null,
                i == 6 ? new StuckCall("collect", at.AddSeconds(-45)) : null))],
            [.. Enumerable.Range(0, 4).Select(i => new LinkSummary(
                $"plugin-{i * 4:00}", $"store-{i}", 987_654_321, 20_000, 1_234, 100_000,
                ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [new KeyValuePair<string, long>("overflow", 17)])))]);
    }

    [Fact]
    public void A_node_status_update_comes_back_field_for_field_and_its_size_is_reported()
    {
        var update = Update();
        var (back, bytes) = RoundTrip(update);
        Assert.Equal((update.NodeId, update.Address, update.Http, update.Incarnation, update.Sequence), (back.NodeId, back.Address, back.Http, back.Incarnation, back.Sequence));
        Assert.Equal(update.Roles.ToArray(), back.Roles.ToArray());
        Assert.Equal(update.Plugins.ToArray(), back.Plugins.ToArray());
        Assert.Equal(update.Links.Length, back.Links.Length);
        for (var i = 0; i < update.Links.Length; i++)
        {
            Assert.Equal(update.Links[i] with { Dropped = ImmutableSortedDictionary<string, long>.Empty }, back.Links[i] with { Dropped = ImmutableSortedDictionary<string, long>.Empty });
            Assert.Equal(update.Links[i].Dropped, back.Links[i].Dropped);
        }
        _output.WriteLine($"NodeStatusUpdate, 40 plugins + 4 links: {bytes.Length} bytes; 1 plugin, no links: {RoundTrip(Update(1) with { Links = [] }).Bytes.Length} bytes");
    }

    [Fact]
    public void Control_messages_come_back_equal()
    {
        Assert.Equal(new ControlPlugin("gpu", PluginAction.Restart), RoundTrip(new ControlPlugin("gpu", PluginAction.Restart)).Message);
        var failed = new PluginControlResult("node-b", "gpu", false, null, "node node-b did not answer within 30s", TimedOut: true);
        Assert.Equal(failed with { Cascaded = [] }, RoundTrip(failed).Message); // no cascade comes back as an empty list
        var ok = new PluginControlResult("node-b", "gpu", true, PluginStatusState.Active, null, NotFound: false, Detail: "upgraded 1.0.0 -> 1.1.0");
        Assert.Equal(ok with { Cascaded = [] }, RoundTrip(ok).Message with { Cascaded = [] });
        Assert.Empty(RoundTrip(ok).Message.Cascaded);
        var cascaded = new PluginControlResult("node-b", "sql", true, PluginStatusState.Stopped, null, Cascaded: ["mlflow", "exporter"]);
        Assert.Equal(["mlflow", "exporter"], RoundTrip(cascaded).Message.Cascaded.ToArray());
        Assert.Equal(new ControlPlugin("gpu", PluginAction.Upgrade), RoundTrip(new ControlPlugin("gpu", PluginAction.Upgrade)).Message);
    }

    /// <summary>Version 1 as a node from before typed status wrote it: states and types as lower-case strings.</summary>
    private static byte[] Version1(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)1);
            write(w);
        }
        return stream.ToArray();
    }

    [Fact]
    public void Updates_and_results_of_a_node_not_yet_upgraded_are_still_read()
    {
        var serializer = (StatusSerializer)Sys.Serialization.FindSerializerForType(typeof(NodeStatusUpdate));
        var at = new DateTimeOffset(2026, 11, 26, 17, 0, 0, TimeSpan.Zero);
        var update = Version1(w =>
        {
            w.Write("old-node");
            w.Write("akka.tcp://tracelet@10.0.0.1:4055");
            w.Write(false); // no http
            w.Write7BitEncodedInt(0); // no roles
            w.Write7BitEncodedInt64(1);
            w.Write7BitEncodedInt64(2);
            w.Write7BitEncodedInt(2);
            foreach (var (name, type, state) in new[] { ("gpu", "collector", "error"), ("gone", "unknown", "error") })
            {
                w.Write(name);
                w.Write(type);
                w.Write("1.0.0");
                w.Write(state);
                w.Write(true);
                w.Write("NVML not available");
                w.Write7BitEncodedInt(3);
                w.Write(true);
                w.Write7BitEncodedInt64(at.UtcTicks);
                w.Write7BitEncodedInt64(42);
            }
            w.Write7BitEncodedInt(0); // no links
        });
        var back = (NodeStatusUpdate)serializer.FromBinary(update, "su1");
        Assert.Equal(
            [new PluginSummary("gpu", PluginType.Collector, "1.0.0", PluginStatusState.Error, "NVML not available", 3, at, 42),
             new PluginSummary("gone", null, "1.0.0", PluginStatusState.Error, "NVML not available", 3, at, 42)],
            back.Plugins.ToArray());

        var result = Version1(w =>
        {
            w.Write("old-node");
            w.Write("gpu");
            w.Write(true);
            w.Write(true);
            w.Write("stopped");
            w.Write(false); // no error
            w.Write((byte)0);
        });
        var read = (PluginControlResult)serializer.FromBinary(result, "sr1");
        Assert.Equal(("old-node", true, PluginStatusState.Stopped), (read.Node, read.Ok, read.State));
        var control = serializer.ToBinary(new ControlPlugin("gpu", PluginAction.Start));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([StatusSerializer.FormatVersion + 1, .. control[1..]], "sc1"));
    }

    [Fact]
    public void Truncated_or_padded_payloads_are_refused_with_a_serialization_error()
    {
        var serializer = (StatusSerializer)Sys.Serialization.FindSerializerForType(typeof(NodeStatusUpdate));
        var bytes = serializer.ToBinary(Update(3));
        for (var length = 0; length < bytes.Length; length++)
            Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes[..length], "su1"));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([.. bytes, 0], "su1"));
        Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, "zz9"));
    }

    [Fact]
    public void Every_status_message_type_is_bound_to_the_status_serializer()
    {
        var types = typeof(IStatusMessage).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IStatusMessage).IsAssignableFrom(t))
            .ToList();
        Assert.Equal(3, types.Count);
        foreach (var type in types)
        {
            var serializer = Sys.Serialization.FindSerializerForType(type);
            Assert.True(serializer is StatusSerializer, $"{type} is bound to {serializer.GetType()}, not {nameof(StatusSerializer)}");
            Assert.Matches("^s[a-z][0-9]+$", ((StatusSerializer)serializer).Manifest(RuntimeHelpers.GetUninitializedObject(type)));
        }
        Assert.Equal(StatusSerializer.SerializerId, Sys.Serialization.FindSerializerForType(typeof(NodeStatusUpdate)).Identifier);
    }

    /// <summary>A property added to a message must be added to the wire format (and to this list), or it would arrive as its default.</summary>
    [Theory]
    [InlineData(typeof(NodeStatusUpdate), "Address,Http,Incarnation,Links,NodeId,Plugins,Roles,Sequence")]
    [InlineData(typeof(PluginSummary), "Error,LastTransition,Name,Produced,Restarts,Retry,State,Stuck,Type,UpdateAvailable,Version")]
    [InlineData(typeof(StuckCall), "Call,Since")]
    [InlineData(typeof(PluginRetry), "Attempt,LastError,NextAttemptAt")]
    [InlineData(typeof(LinkSummary), "Backend,BackendNode,BufferSamples,Delivered,Dropped,InFlight,Waiting")]
    [InlineData(typeof(ControlPlugin), "Action,Plugin")]
    [InlineData(typeof(PluginControlResult), "Cascaded,Detail,Error,Node,NotFound,Ok,Plugin,State,TimedOut")]
    public void Every_message_property_is_on_the_wire(Type type, string serialized)
    {
        var settable = type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.CanWrite).Select(p => p.Name).Order(StringComparer.Ordinal);
        Assert.Equal(serialized, string.Join(",", settable));
    }
}
