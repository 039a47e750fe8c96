using Akka.Actor;
using Tracelet.Actors.Pipeline;
using Tracelet.Actors.Plugins;
using Xunit;

namespace Tracelet.Cluster.Tests;

/// <summary>
/// The metric pipeline across real nodes: several ActorSystems in this process, on 127.0.0.1
/// with ports the OS picks, joined into one cluster over loopback remoting.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class ClusterPipelineSpec : IAsyncLifetime
{
    private readonly List<ClusterNode> _nodes = [];
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in Enumerable.Reverse(_nodes)) await node.DisposeAsync();
        foreach (var node in _nodes)
        {
            RecordingBackend.Forget(node.NodeId);
            node.DeleteData();
        }
    }

    private async Task<ClusterNode[]> StartCluster(params (string Name, string? Hocon)[] nodes)
    {
        var started = new List<ClusterNode>();
        foreach (var (name, hocon) in nodes)
        {
            var node = ClusterNode.Start($"{name}-{_run}", hocon);
            _nodes.Add(node);
            await node.JoinAsync(started.FirstOrDefault());
            started.Add(node);
        }
        return [.. started];
    }

    private static LinkStatus Link(CurrentPipelineStatus status, string backend, ClusterNode node) =>
        status.Links.Single(l => l.Backend == backend && l.BackendNode == node.NodeId);

    /// <summary>produced = delivered + dropped + waiting + in flight, on every link, every time it is read.</summary>
    private static void AssertAccounted(CurrentPipelineStatus status)
    {
        foreach (var l in status.Links)
            Assert.True(l.Produced == l.Delivered + l.DroppedTotal + l.Waiting + l.InFlight,
                $"{l.SourceNode} -> {l.Backend}@{l.BackendNode}: produced {l.Produced} != delivered {l.Delivered} + dropped {l.DroppedTotal} + waiting {l.Waiting} + in flight {l.InFlight}");
    }

    private static void AssertInOrderOnce(IEnumerable<double> values, long expected)
    {
        var list = values.ToList();
        Assert.Equal(expected, list.Count);
        for (var i = 0; i < list.Count; i++) Assert.Equal(i + 1, list[i]);
    }

    [Fact]
    public async Task Samples_from_two_collector_nodes_reach_backends_on_two_nodes_all_accounted_in_order()
    {
        var (a, b, c) = await Three();
        const int Limit = 3000;
        await b.StartPluginAsync(RecordingBackend.PluginName);
        await c.StartPluginAsync(RecordingBackend.PluginName);
        await WaitForBackends(a, (RecordingBackend.PluginName, b), (RecordingBackend.PluginName, c));
        await WaitForBackends(b, (RecordingBackend.PluginName, b), (RecordingBackend.PluginName, c));
        await a.StartPluginAsync(SequenceCollector.PluginName, $$"""{ "count": 100, "limit": {{Limit}}, "interval": "20ms" }""");
        await b.StartPluginAsync(SequenceCollector.PluginName, $$"""{ "count": 100, "limit": {{Limit}}, "interval": "20ms" }""");

        foreach (var producer in new[] { a, b })
        {
            var status = await Eventually.Holds(producer.PipelineStatusAsync, s =>
            {
                AssertAccounted(s);
                Assert.All(s.Links, l => Assert.Equal((Limit, Limit), (l.Produced, l.Delivered)));
            });
            Assert.Equal(2, status.Links.Length);
        }
        foreach (var backend in new[] { b, c })
        {
            var written = RecordingBackend.Written(backend.NodeId);
            // Per (source node, backend): every sample once, in the order it was produced.
            AssertInOrderOnce(written.Where(w => w.SourceNode == a.NodeId).Select(w => w.Sample.Value), Limit);
            AssertInOrderOnce(written.Where(w => w.SourceNode == b.NodeId).Select(w => w.Sample.Value), Limit);
        }
    }

    [Fact]
    public async Task A_slow_backend_fills_only_its_own_bounded_buffer_while_a_fast_one_gets_everything()
    {
        var hocon = """
            tracelet.plugins.rec2.pipeline { overflow = drop-oldest, buffer-samples = 2000, window-samples = 500 }
            """;
        var (a, b) = await Two(hocon);
        const int Limit = 20_000;
        await b.StartPluginAsync(RecordingBackend.PluginName);
        await b.StartPluginAsync(SecondRecordingBackend.SecondName, """{ "delay-ms": 100 }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b), (SecondRecordingBackend.SecondName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, $$"""{ "count": 500, "limit": {{Limit}}, "interval": "10ms" }""");

        var final = await Eventually.Holds(a.PipelineStatusAsync, s =>
        {
            AssertAccounted(s);
            var slow = Link(s, SecondRecordingBackend.SecondName, b);
            Assert.True(slow.Waiting <= 2000, $"the slow link holds {slow.Waiting} samples, over its bound of 2000");
            Assert.True(slow.InFlight <= 500 + 500, $"the slow link has {slow.InFlight} in flight");
            var fast = Link(s, RecordingBackend.PluginName, b);
            Assert.Equal((Limit, Limit), (fast.Produced, fast.Delivered));
            Assert.Equal(0, slow.Waiting + slow.InFlight);
        }, TimeSpan.FromSeconds(60));
        var slowLink = Link(final, SecondRecordingBackend.SecondName, b);
        Assert.True(slowLink.Dropped.GetValueOrDefault(DropReason.Overflow) > 0, "the slow backend should have lost samples to its bound");
        Assert.Equal(Limit, slowLink.Delivered + slowLink.Dropped[DropReason.Overflow]);
        // drop-oldest: the newest samples are the ones that reached the slow backend.
        Assert.Equal(Limit, RecordingBackend.Written(b.NodeId, SecondRecordingBackend.SecondName).Max(w => w.Sample.Value));
        AssertInOrderOnce(RecordingBackend.Written(b.NodeId).Select(w => w.Sample.Value), Limit);
    }

    [Fact]
    public async Task Block_policy_makes_collectors_skip_instead_of_dropping_in_the_link()
    {
        var (a, b) = await Two("tracelet.plugins.rec.pipeline { overflow = block, buffer-samples = 1000, window-samples = 200 }");
        await b.StartPluginAsync(RecordingBackend.PluginName, """{ "delay-ms": 50 }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 200, "interval": "10ms" }""");

        var status = await Eventually.Holds(a.StatusAsync, s => Assert.True(((CollectorRuntime)s.Plugins[SequenceCollector.PluginName].Runtime!).BlockedTicks > 5));
        var pipeline = await a.PipelineStatusAsync();
        AssertAccounted(pipeline);
        var link = Link(pipeline, RecordingBackend.PluginName, b);
        Assert.True(link.Waiting <= 1000);
        Assert.Equal(link.Produced, link.Delivered + link.DroppedTotal + link.Waiting + link.InFlight);
        Assert.True(link.Dropped.GetValueOrDefault(DropReason.Overflow) == 0, "block never drops for overflow");
        Assert.True(((CollectorRuntime)status.Plugins[SequenceCollector.PluginName].Runtime!).SkippedTicks > 0);
    }

    [Fact]
    public async Task Durable_delivers_everything_once_across_a_stop_of_the_backend_node()
    {
        var hocon = "tracelet.plugins.rec.pipeline { overflow = durable, window-samples = 300 }";
        var (a, b) = await Two(hocon);
        const int Limit = 4000;
        // A backend that takes its time: acknowledgements are still on their way when its node stops.
        await b.StartPluginAsync(RecordingBackend.PluginName, """{ "delay-ms": 10 }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, $$"""{ "count": 50, "limit": {{Limit}}, "interval": "20ms" }""");
        await Eventually.Holds(() => Task.FromResult(RecordingBackend.Written(b.NodeId).Length), n => Assert.True(n > 200));

        // The backend's node goes away (as Ctrl-C does) while the collector keeps producing.
        var bNodeId = b.NodeId;
        var bData = b.DataDirectory;
        await b.StopAsync();
        await b.DisposeAsync();
        await Eventually.Holds(a.PipelineStatusAsync, s =>
        {
            var link = s.Links.Single(l => l.Backend == RecordingBackend.PluginName);
            Assert.True(link.Waiting > 500, $"the durable store holds {link.Waiting} samples");
        });

        var b2 = ClusterNode.Start(bNodeId, hocon, bData);
        _nodes.Add(b2);
        await b2.JoinAsync(a);
        // Its journal brings the backend back as it was (active); nobody starts it by hand.
        await Eventually.Holds(b2.StatusAsync, s => Assert.Equal(PluginStatusState.Active, s.Plugins[RecordingBackend.PluginName].State));

        await Eventually.Holds(a.PipelineStatusAsync, s =>
        {
            AssertAccounted(s);
            var link = s.Links.Single(l => l.Backend == RecordingBackend.PluginName);
            Assert.Equal((Limit, Limit, 0L), (link.Produced, link.Delivered, link.DroppedTotal));
        }, TimeSpan.FromSeconds(60));
        AssertInOrderOnce(RecordingBackend.Written(bNodeId).Select(w => w.Sample.Value), Limit);
    }

    [Fact]
    public async Task Durable_keeps_what_a_producer_stored_across_its_own_restart()
    {
        var hocon = "tracelet.plugins.rec.pipeline { overflow = durable, window-samples = 300 }";
        var (a, b) = await Two(hocon);
        await b.StartPluginAsync(RecordingBackend.PluginName);
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        // The backend stops (an operator's stop): the producer stores for it from now on.
        await b.AskAsync<Tracelet.Actors.Plugins.PluginOperationResult>(new Tracelet.Actors.Plugins.StopPlugin(RecordingBackend.PluginName));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 50, "limit": 1000, "interval": "10ms" }""");
        await Eventually.Holds(a.PipelineStatusAsync, s => Assert.Equal(1000, s.Links.Single().Waiting));

        // The producer's node restarts on the same data directory: its collector resumes (and counts
        // from 1 again), and the durable backlog comes back from its SQLite store.
        var (aNodeId, aData) = (a.NodeId, a.DataDirectory);
        await a.StopAsync();
        await a.DisposeAsync();
        var a2 = ClusterNode.Start(aNodeId, hocon, aData);
        _nodes.Add(a2);
        await a2.JoinAsync(b);
        var recovered = await Eventually.Holds(a2.PipelineStatusAsync, s => Assert.Equal(1000, s.Links.Single().Recovered));
        Assert.Equal(RecordingBackend.PluginName, recovered.Links.Single().Backend);

        await b.AskAsync<Tracelet.Actors.Plugins.PluginOperationResult>(new Tracelet.Actors.Plugins.StartPlugin(RecordingBackend.PluginName));

        // The first run's 1000 arrive, then the second run's (its counter restarted with the collector): none lost, none twice.
        var written = await Eventually.Holds(() => Task.FromResult(RecordingBackend.Written(b.NodeId)), w => Assert.Equal(2000, w.Length), TimeSpan.FromSeconds(60));
        AssertInOrderOnce(written.Take(1000).Select(w => w.Sample.Value), 1000);
        AssertInOrderOnce(written.Skip(1000).Select(w => w.Sample.Value), 1000);
        AssertAccounted(await a2.PipelineStatusAsync());
    }

    [Fact]
    public async Task The_links_counters_travel_as_the_nodes_self_telemetry()
    {
        var (a, b) = await Two("tracelet.pipeline.self-telemetry-interval = 300ms");
        await b.StartPluginAsync(RecordingBackend.PluginName);
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 10, "limit": 100, "interval": "10ms" }""");

        var telemetry = await Eventually.Holds(
            () => Task.FromResult(RecordingBackend.Written(b.NodeId).Where(w => w.Sample.Source == PipelineMetrics.Source && w.SourceNode == a.NodeId).ToList()),
            w => Assert.Contains(w, x => x.Sample.Name == PipelineMetrics.Delivered && x.Sample.Value >= 100)); // 100 collected, plus the telemetry batches themselves
        var delivered = telemetry.Last(x => x.Sample.Name == PipelineMetrics.Delivered).Sample;
        Assert.Contains(new Abstractions.MetricLabel("backend", RecordingBackend.PluginName), delivered.Labels);
        Assert.Contains(new Abstractions.MetricLabel("backend_node", b.NodeId), delivered.Labels);
    }

    [Fact]
    public async Task A_collection_larger_than_one_delivery_is_split_and_arrives_in_order()
    {
        var (a, b) = await Two("tracelet.pipeline.max-batch-samples = 30");
        await b.StartPluginAsync(RecordingBackend.PluginName);
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 100, "limit": 1000, "interval": "10ms" }""");

        await Eventually.Holds(a.PipelineStatusAsync, s => Assert.Equal(1000, Link(s, RecordingBackend.PluginName, b).Delivered));
        AssertInOrderOnce(RecordingBackend.Written(b.NodeId).Select(w => w.Sample.Value), 1000);
        // The backend's runtime status is refreshed after its calls: wait for the last ones to show.
        await Eventually.Holds(b.StatusAsync, s => Assert.True(((BackendRuntime)s.Plugins[RecordingBackend.PluginName].Runtime!).BatchesWritten >= 40,
            "100-sample collections should arrive as deliveries of at most 30"));
    }

    [Fact]
    public async Task Stopping_a_backend_counts_what_it_wrote_as_delivered_and_only_the_rest_as_dropped()
    {
        var (a, b) = await Two("tracelet.plugins.rec.pipeline { window-samples = 400 }");
        await b.StartPluginAsync(RecordingBackend.PluginName, """{ "delay-ms": 30 }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 100, "limit": 3000, "interval": "10ms" }""");
        await Eventually.Holds(() => Task.FromResult(RecordingBackend.Written(b.NodeId).Length), n => Assert.True(n > 300));

        // An operator stops the backend while batches are in flight to it and more wait behind.
        await b.AskAsync<Tracelet.Actors.Plugins.PluginOperationResult>(new Tracelet.Actors.Plugins.StopPlugin(RecordingBackend.PluginName));

        // Once the backend has drained what it accepted, nothing is left in flight.
        var link = await Eventually.Holds(a.PipelineStatusAsync, s => Assert.Equal(0, Link(s, RecordingBackend.PluginName, b).InFlight), TimeSpan.FromSeconds(60));
        var final = Link(link, RecordingBackend.PluginName, b);
        var written = RecordingBackend.Written(b.NodeId).Count(w => w.SourceNode == a.NodeId);
        // What the backend wrote is exactly what the producer counts as delivered; what it never got is
        // dropped with reason "shutdown"; after the stop nothing more is routed to it.
        Assert.Equal(written, final.Delivered);
        Assert.True(final.Dropped.GetValueOrDefault(DropReason.Shutdown) > 0, "samples waiting behind the window are dropped at the stop");
        Assert.Equal(final.Produced - written, final.Dropped[DropReason.Shutdown] + final.Waiting);
        Assert.True(final.Produced < 3000, "samples produced after the stop are not routed to a stopped backend");
        AssertInOrderOnce(RecordingBackend.Written(b.NodeId).Select(w => w.Sample.Value), written);
    }

    [Fact]
    public async Task A_backend_that_starts_late_receives_from_then_on()
    {
        var (a, b) = await Two(null);
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 10, "interval": "20ms" }""");
        await Eventually.Holds(a.StatusAsync, s => Assert.True(((CollectorRuntime)s.Plugins[SequenceCollector.PluginName].Runtime!).SamplesProduced > 200));

        await b.StartPluginAsync(RecordingBackend.PluginName);

        var written = await Eventually.Holds(() => Task.FromResult(RecordingBackend.Written(b.NodeId)), w => Assert.True(w.Length > 200));
        var values = written.Select(w => w.Sample.Value).ToList();
        Assert.True(values[0] > 1, "samples from before the backend existed are not promised to a drop-oldest backend");
        for (var i = 1; i < values.Count; i++) Assert.Equal(values[i - 1] + 1, values[i]); // from then on: no gap
        AssertAccounted(await a.PipelineStatusAsync());
    }

    [Fact]
    public async Task Routing_by_source_and_type_and_a_failing_backend_leave_the_others_whole()
    {
        var hocon = """
            tracelet.plugins.rec.pipeline { routes = [{ source = "s?q", types = [system], labels { kind = "even" } }] }
            """;
        var (a, b) = await Two(hocon);
        await b.StartPluginAsync(RecordingBackend.PluginName);
        await b.StartPluginAsync(ScalarsOnlyBackend.ScalarsName);
        await b.StartPluginAsync(SecondRecordingBackend.SecondName, """{ "fail": true }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b), (ScalarsOnlyBackend.ScalarsName, b), (SecondRecordingBackend.SecondName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 10, "limit": 1000, "interval": "10ms" }""");
        await a.StartPluginAsync(OtherCollector.PluginName, """{ "interval": "10ms" }""");

        await Eventually.Holds(() => Task.FromResult(RecordingBackend.Written(b.NodeId)), w => Assert.Equal(500, w.Length));
        var rec = RecordingBackend.Written(b.NodeId);
        // A real glob on the source, the type set, and the label filter: only seq's even samples.
        Assert.All(rec, w => Assert.Equal(("seq", "even"), (w.Sample.Source, w.Sample.Labels.Single(l => l.Key == "kind").Value)));
        // CanHandle: the scalars-only backend gets the other collector's scalars and nothing else.
        var scalars = await Eventually.Holds(() => Task.FromResult(RecordingBackend.Written(b.NodeId, ScalarsOnlyBackend.ScalarsName)), w => Assert.True(w.Length > 20));
        Assert.All(scalars, w => Assert.Equal(Abstractions.MetricType.Scalar, w.Sample.Type));
        // The failing backend's samples are counted as lost to its errors, and it is supervised (restarted).
        var status = await Eventually.Holds(a.PipelineStatusAsync, s =>
        {
            AssertAccounted(s);
            Assert.True(Link(s, SecondRecordingBackend.SecondName, b).Dropped.GetValueOrDefault(DropReason.BackendError) > 0);
        });
        Assert.Empty(RecordingBackend.Written(b.NodeId, SecondRecordingBackend.SecondName));
        var failing = (await b.StatusAsync()).Plugins[SecondRecordingBackend.SecondName];
        Assert.True(failing.Restarts > 0 || failing.State == PluginStatusState.Error, $"the failing backend is {failing.State} with {failing.Restarts} restarts");
    }

    [Fact]
    public async Task A_durable_backend_whose_writes_fail_gets_every_sample_once_after_it_recovers()
    {
        // The store is down for the first two writes: the backend fails and is restarted by its supervisor;
        // the unacknowledged batches are sent again to the new incarnation instead of being counted as lost.
        var (a, b) = await Two("tracelet.plugins.rec.pipeline { overflow = durable }");
        const int Limit = 600;
        await b.StartPluginAsync(RecordingBackend.PluginName, """{ "fail-writes": 2 }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, $$"""{ "count": 20, "limit": {{Limit}}, "interval": "10ms" }""");

        var status = await Eventually.Holds(a.PipelineStatusAsync, s =>
        {
            AssertAccounted(s);
            Assert.Equal(Limit, Link(s, RecordingBackend.PluginName, b).Delivered);
        }, TimeSpan.FromSeconds(40));
        Assert.Empty(Link(status, RecordingBackend.PluginName, b).Dropped);
        AssertInOrderOnce(RecordingBackend.Written(b.NodeId).Select(w => w.Sample.Value), Limit);
        Assert.True((await b.StatusAsync()).Plugins[RecordingBackend.PluginName].Restarts >= 1, "the failing backend was restarted");
    }

    [Fact]
    public async Task At_shutdown_buffered_samples_reach_a_backend_that_is_up()
    {
        var (a, b) = await Two(null);
        await b.StartPluginAsync(RecordingBackend.PluginName, """{ "delay-ms": 20 }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 200, "limit": 4000, "interval": "10ms" }""");
        await Eventually.Holds(a.StatusAsync, s => Assert.True(((CollectorRuntime)s.Plugins[SequenceCollector.PluginName].Runtime!).SamplesProduced >= 4000));

        var flushed = await a.Pipeline.Ask<PipelineFlushed>(new FlushPipeline(TimeSpan.FromSeconds(20)), TimeSpan.FromSeconds(30));

        Assert.Equal((0L, 0L), (flushed.Kept, flushed.Dropped));
        var link = Link(await a.PipelineStatusAsync(), RecordingBackend.PluginName, b);
        Assert.Equal((4000L, 4000L), (link.Produced, link.Delivered));
        AssertInOrderOnce(RecordingBackend.Written(b.NodeId).Select(w => w.Sample.Value), 4000);
    }

    [Fact]
    public async Task A_backend_restarted_under_load_loses_nothing_its_producers_keep_their_buffers()
    {
        var (a, b) = await Two("tracelet.plugins.rec.pipeline { overflow = drop-oldest, buffer-samples = 100000, window-samples = 200 }");
        const int Limit = 6000;
        await b.StartPluginAsync(RecordingBackend.PluginName, """{ "delay-ms": 30 }""");
        await WaitForBackends(a, (RecordingBackend.PluginName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, $$"""{ "count": 100, "limit": {{Limit}}, "interval": "10ms" }""");
        // The backend is behind: samples wait for it in the producer's buffer.
        await Eventually.Holds(a.PipelineStatusAsync, s => Assert.True(Link(s, RecordingBackend.PluginName, b).Waiting > 500));

        var restart = await b.AskAsync<Tracelet.Actors.Plugins.PluginOperationResult>(new Tracelet.Actors.Plugins.RestartPlugin(RecordingBackend.PluginName));
        Assert.IsType<Tracelet.Actors.Plugins.PluginOperationSucceeded>(restart);

        // A restart pauses the link: nothing is dropped, the new incarnation gets everything, once, in order.
        var final = await Eventually.Holds(a.PipelineStatusAsync, s =>
        {
            AssertAccounted(s);
            var link = Link(s, RecordingBackend.PluginName, b);
            Assert.Equal((Limit, Limit, 0L), (link.Produced, link.Delivered, link.DroppedTotal));
        }, TimeSpan.FromSeconds(60));
        Assert.Empty(Link(final, RecordingBackend.PluginName, b).Dropped);
        AssertInOrderOnce(RecordingBackend.Written(b.NodeId).Select(w => w.Sample.Value), Limit);
    }

    [Fact]
    public async Task A_full_block_policy_backend_pauses_only_the_collectors_whose_samples_go_to_it()
    {
        var hocon = """
            tracelet.plugins.rec.pipeline { overflow = block, buffer-samples = 300, window-samples = 100, routes = [{ source = "seq" }] }
            tracelet.plugins.rec2.pipeline { routes = [{ source = "other" }] }
            """;
        var (a, b) = await Two(hocon);
        await b.StartPluginAsync(RecordingBackend.PluginName, """{ "delay-ms": 500 }""");
        await b.StartPluginAsync(SecondRecordingBackend.SecondName);
        await WaitForBackends(a, (RecordingBackend.PluginName, b), (SecondRecordingBackend.SecondName, b));
        await a.StartPluginAsync(SequenceCollector.PluginName, """{ "count": 100, "interval": "10ms" }""");
        await a.StartPluginAsync(OtherCollector.PluginName, """{ "interval": "10ms" }""");

        var before = await Eventually.Holds(a.StatusAsync, s => Assert.True(Counter(s, SequenceCollector.PluginName, "blocked_ticks") > 10));
        var after = await Eventually.Holds(a.StatusAsync, s =>
            Assert.True(Counter(s, SequenceCollector.PluginName, "blocked_ticks") >= Counter(before, SequenceCollector.PluginName, "blocked_ticks") + 50));

        // Over the same ticks, the collector routed only to the healthy backend was never blocked and kept collecting.
        var blocked = Counter(after, SequenceCollector.PluginName, "blocked_ticks") - Counter(before, SequenceCollector.PluginName, "blocked_ticks");
        var collected = Counter(after, OtherCollector.PluginName, "collections") - Counter(before, OtherCollector.PluginName, "collections");
        Assert.Equal(0, Counter(after, OtherCollector.PluginName, "blocked_ticks"));
        Assert.True(collected >= blocked / 2, $"the healthy collector collected {collected} times while the blocked one skipped {blocked} ticks");
        // The skips are counted on the blocking backend's link, and only there.
        var pipeline = await Eventually.Holds(a.PipelineStatusAsync, s => Assert.True(Link(s, RecordingBackend.PluginName, b).BlockedSkips >= blocked));
        AssertAccounted(pipeline);
        Assert.Equal(0, Link(pipeline, SecondRecordingBackend.SecondName, b).BlockedSkips);
        Assert.True(Link(pipeline, SecondRecordingBackend.SecondName, b).Delivered >= collected);
    }

    [Fact]
    public async Task Samples_produced_before_any_backend_exists_are_counted_unrouted_and_the_node_adds_up()
    {
        var (a, b) = await Two(null);
        const int Limit = 5000;
        await a.StartPluginAsync(SequenceCollector.PluginName, $$"""{ "count": 10, "limit": {{Limit}}, "interval": "10ms" }""");
        await Eventually.Holds(a.StatusAsync, s => Assert.True(Counter(s, SequenceCollector.PluginName, "samples_produced") >= 300));

        await b.StartPluginAsync(RecordingBackend.PluginName);

        var status = await Eventually.Holds(a.PipelineStatusAsync, s =>
        {
            Assert.Equal(Limit, s.Sources.Single(x => x.Source == SequenceCollector.PluginName).Published);
            var l = Link(s, RecordingBackend.PluginName, b);
            Assert.Equal(0, l.Waiting + l.InFlight);
        }, TimeSpan.FromSeconds(60));
        var source = status.Sources.Single(x => x.Source == SequenceCollector.PluginName);
        var link = Link(status, RecordingBackend.PluginName, b);
        AssertAccounted(status);
        Assert.True(source.Unrouted >= 300, $"{source.Unrouted} unrouted: the samples produced before the backend existed are counted");
        // The node: what its collectors produced = unrouted + routed; with one link, routed is what the link counts as produced.
        Assert.Equal(((CollectorRuntime)(await a.StatusAsync()).Plugins[SequenceCollector.PluginName].Runtime!).SamplesProduced, source.Published);
        Assert.Equal(Limit, source.Unrouted + link.Produced);
        Assert.Equal(Limit, source.Unrouted + link.Delivered + link.DroppedTotal + link.Waiting + link.InFlight);
        Assert.Equal((link.Produced, link.Produced), (source.Routed, source.Copies));
        Assert.Equal(source.Unrouted, status.Unrouted);
        Assert.Equal(link.Delivered, RecordingBackend.Written(b.NodeId).Length);
    }

    private static long Counter(Tracelet.Actors.Plugins.NodePluginStatus status, string plugin, string key)
    {
        var runtime = Assert.IsType<CollectorRuntime>(status.Plugins[plugin].Runtime);
        return key switch
        {
            "blocked_ticks" => runtime.BlockedTicks,
            "collections" => runtime.Collections,
            "samples_produced" => runtime.SamplesProduced,
            _ => throw new ArgumentException($"no collector counter '{key}'", nameof(key)),
        };
    }

    private async Task<(ClusterNode, ClusterNode, ClusterNode)> Three()
    {
        var nodes = await StartCluster(("a", null), ("b", null), ("c", null));
        return (nodes[0], nodes[1], nodes[2]);
    }

    private async Task<(ClusterNode, ClusterNode)> Two(string? hocon)
    {
        var nodes = await StartCluster(("a", hocon), ("b", hocon));
        return (nodes[0], nodes[1]);
    }

    /// <summary>Waits until <paramref name="producer"/> knows each backend (announcements spread by gossip).</summary>
    private static Task WaitForBackends(ClusterNode producer, params (string Backend, ClusterNode Node)[] backends) =>
        Eventually.Holds(producer.PipelineStatusAsync, s =>
        {
            foreach (var (backend, node) in backends)
                Assert.Contains(s.Links, l => l.Backend == backend && l.BackendNode == node.NodeId && l.State == "up");
        });
}
