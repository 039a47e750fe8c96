using System.Collections.Immutable;
using System.Text.Json;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.Node.Http;
using Xunit;

namespace Tracelet.Node.Tests;

/// <summary>GET /status's JSON survives whatever a plugin's GetStatus returns.</summary>
public sealed class StatusJsonSpec
{
    [Fact]
    public void Status_writes_NaN_and_infinities_from_a_plugin_as_strings_instead_of_failing_the_node()
    {
        var json = StatusJson.From(NodeWith(new Dictionary<string, object?>
        {
            ["ratio"] = double.NaN,
            ["rate_per_s"] = double.PositiveInfinity,
            ["floor"] = float.NegativeInfinity,
            ["nested"] = new Dictionary<string, object?> { ["mean"] = double.NaN, ["count"] = 3 },
            ["ok"] = 1.5,
        }));

        var status = json.GetProperty("plugins").GetProperty("odd").GetProperty("status");
        Assert.Equal("NaN", status.GetProperty("ratio").GetString());
        Assert.Equal("Infinity", status.GetProperty("rate_per_s").GetString());
        Assert.Equal("-Infinity", status.GetProperty("floor").GetString());
        Assert.Equal("NaN", status.GetProperty("nested").GetProperty("mean").GetString());
        Assert.Equal(3, status.GetProperty("nested").GetProperty("count").GetInt32());
        Assert.Equal(1.5, status.GetProperty("ok").GetDouble());
        Assert.Equal(1, json.GetProperty("active").GetInt32());
    }

    [Fact]
    public void Status_replaces_a_value_that_cannot_be_written_by_a_string_naming_it_and_keeps_the_rest()
    {
        var cycle = new Node();
        cycle.Next = cycle;
        var json = StatusJson.From(NodeWith(new Dictionary<string, object?>
        {
            ["cycle"] = cycle,
            ["throws"] = new ThrowingGetter(),
            ["pointer"] = typeof(string),
            ["fine"] = "yes",
        }));

        var status = json.GetProperty("plugins").GetProperty("odd").GetProperty("status");
        Assert.StartsWith($"unserialisable {typeof(Node).FullName}: JsonException:", status.GetProperty("cycle").GetString());
        Assert.Equal($"unserialisable {typeof(ThrowingGetter).FullName}: InvalidOperationException: sensor gone", status.GetProperty("throws").GetString());
        Assert.StartsWith("unserialisable System.RuntimeType:", status.GetProperty("pointer").GetString());
        Assert.Equal("yes", status.GetProperty("fine").GetString());
        // The rest of the node's answer is intact and parses.
        Assert.Equal("active", json.GetProperty("plugins").GetProperty("odd").GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(json.GetRawText()).RootElement.ValueKind);
    }

    [Fact]
    public void Status_shows_a_stuck_call_under_runtime_and_counts_it()
    {
        var since = new DateTimeOffset(2026, 12, 3, 17, 0, 0, TimeSpan.Zero);
        var runtime = new CollectorRuntime(1, 0, 0, 4, 0, ImmutableSortedDictionary<string, long>.Empty) { Stuck = new StuckCall("collect", since), StuckCalls = 1 };
        var json = StatusJson.From(NodeWith(new Dictionary<string, object?>(), runtime));

        Assert.Equal(1, json.GetProperty("stuck").GetInt32());
        var rt = json.GetProperty("plugins").GetProperty("odd").GetProperty("runtime");
        Assert.Equal("collect", rt.GetProperty("stuck").GetProperty("call").GetString());
        Assert.Equal(since, rt.GetProperty("stuck").GetProperty("since").GetDateTimeOffset());
        Assert.Equal(1, rt.GetProperty("stuck_calls").GetInt64());
        Assert.Equal(4, rt.GetProperty("skipped_ticks").GetInt64());
    }

    private static NodePluginStatus NodeWith(IReadOnlyDictionary<string, object?> pluginStatus, PluginRuntime? runtime = null) =>
        NodePluginStatus.Create("node-a", true, ImmutableSortedDictionary<string, PluginStatusEntry>.Empty.Add("odd",
            new PluginStatusEntry(PluginStatusState.Active, PluginType.Collector, "1.0.0", null, pluginStatus,
                runtime ?? new CollectorRuntime(1, 0, 0, 0, 0, ImmutableSortedDictionary<string, long>.Empty), 0, DateTimeOffset.UnixEpoch, "built-in")), []);

    private sealed class Node
    {
        public Node? Next { get; set; }
    }

    private sealed class ThrowingGetter
    {
        public int Value => throw new InvalidOperationException("sensor gone");
    }
}
