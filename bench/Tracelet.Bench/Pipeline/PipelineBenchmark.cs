using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;

namespace Tracelet.Bench.Pipeline;

/// <summary>
/// `pipeline`: samples/s through the metric pipeline, node A's <see cref="PipelineActor"/> to a
/// backend inbox on node B (two ActorSystems in this process, over loopback remoting), against
/// the raw ceiling of the same batches published with plain DistributedPubSub; the same with
/// collector and backend on one node; and the process's memory while a backend 10× slower than
/// its producer makes the link drop its oldest samples. Every link's accounting is checked.
/// </summary>
internal sealed class PipelineBenchmark : IBenchmark
{
    public const string RawSamplesPerSecond = "pipeline.raw_pubsub.samples_per_s";
    public const string RawLostSamples = "pipeline.raw_pubsub.lost_samples";
    public const string CrossNodeSamplesPerSecond = "pipeline.cross_node.samples_per_s";
    public const string Ratio = "pipeline.ratio";
    public const string InProcessSamplesPerSecond = "pipeline.in_process.samples_per_s";
    public const string SlowRssGrowthMib = "pipeline.slow_backend.rss_growth_mib";
    public const string SlowRssDriftMib = "pipeline.slow_backend.rss_drift_mib";
    public const string SlowDroppedSamples = "pipeline.slow_backend.dropped_samples";
    public const string SlowInvariantHeld = "pipeline.slow_backend.accounting_held";
    public const string UnreachableEvents = "pipeline.cluster.unreachable_events";
    public const string LostSamples = "pipeline.lost_samples";
    public const string ZeroLossShortfall = "pipeline.zero_loss.shortfall_samples";

    // The issue's targets: printed beside the figures, not asserted.
    private const double CrossNodeTarget = 1_000_000;
    private const double RatioTarget = 0.7;
    private const double InProcessTarget = 5_000_000;
    private const double RssGrowthTargetMib = 50;

    private const string SinkBackend = "bench-sink";
    private const string SlowBackend = "bench-slow";
    private const string RawTopic = "tracelet.bench.raw";
    private const string RawBackend = "raw";
    private const int AllTypes = (1 << 15) - 1;
    private const double MiB = 1024.0 * 1024.0;
    private const int PoolBatches = 512;

    private readonly Option<int> _samples = new("--samples")
    {
        Description = "Samples per timed raw and cross-node round (batches of 100)",
        DefaultValueFactory = _ => 1_000_000,
    };

    private readonly Option<int> _inProcessSamples = new("--in-process-samples")
    {
        Description = "Samples per timed in-process round (the local link is fast: more samples for a measurable time)",
        DefaultValueFactory = _ => 20_000_000,
    };

    private readonly Option<int> _rounds = new("--rounds")
    {
        Description = "Timed rounds per variant (raw and cross-node interleaved); figures are the median",
        DefaultValueFactory = _ => 5,
    };

    private readonly Option<double> _warmupSeconds = new("--warmup-seconds")
    {
        Description = "Seconds of untimed raw and cross-node rounds before measuring (half that in-process), for the JIT to reach its final code",
        DefaultValueFactory = _ => 5,
    };

    private readonly Option<double> _slowSeconds = new("--slow-seconds")
    {
        Description = "Seconds of the slow-backend run (0: skip it)",
        DefaultValueFactory = _ => 60,
    };

    private readonly Option<int> _slowRate = new("--slow-rate")
    {
        Description = "Samples/s the producer publishes in the slow-backend run; the backend writes a tenth of that",
        DefaultValueFactory = _ => 500_000,
    };

    private readonly Option<int> _windowSamples = new("--window-samples")
    {
        Description = "tracelet.pipeline.defaults.window-samples for every link (reference.conf: 20000)",
        DefaultValueFactory = _ => LinkSettings.Default.WindowSamples,
    };

    private readonly Option<int> _bufferSamples = new("--buffer-samples")
    {
        Description = "tracelet.pipeline.defaults.buffer-samples for every link (reference.conf: 100000)",
        DefaultValueFactory = _ => LinkSettings.Default.BufferSamples,
    };

    public string Name => "pipeline";

    public string Description => "Samples/s from a node's pipeline to a backend on another node (vs plain DistributedPubSub) and on the same node; memory under a 10x slower backend; accounting.";

    public IReadOnlyList<Option> Options => [_samples, _inProcessSamples, _rounds, _warmupSeconds, _slowSeconds, _slowRate, _windowSamples, _bufferSamples];

    public async Task RunAsync(BenchContext context, ParseResult parse)
    {
        var window = Math.Clamp(parse.GetValue(_windowSamples), Batches.SamplesPerBatch, 10_000_000);
        var buffer = Math.Clamp(parse.GetValue(_bufferSamples), Batches.SamplesPerBatch, 100_000_000);
        var settings = new Settings(
            Math.Clamp(parse.GetValue(_samples) / Batches.SamplesPerBatch, 100, 100_000) * (long)Batches.SamplesPerBatch,
            Math.Clamp(parse.GetValue(_inProcessSamples) / Batches.SamplesPerBatch, 100, 10_000_000) * (long)Batches.SamplesPerBatch,
            Math.Clamp(parse.GetValue(_rounds), 1, 15),
            TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(_warmupSeconds), 0, 30)),
            TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(_slowSeconds), 0, 120)),
            Math.Clamp(parse.GetValue(_slowRate), 10_000, 10_000_000),
            new LinkSettings(OverflowPolicy.DropOldest, buffer, LinkSettings.Default.BufferBytes, window));
        // Published but not yet written by the backend, at most: the window plus half the buffer,
        // so that the link always has a backlog to send but drop-oldest never has to drop.
        var cap = (settings.Link.WindowSamples + settings.Link.BufferSamples / 2) / Batches.SamplesPerBatch;
        context.Log($"link: drop-oldest, window-samples {settings.Link.WindowSamples}, buffer-samples {settings.Link.BufferSamples}, buffer-bytes {settings.Link.BufferBytes}; "
            + $"{settings.Samples} samples per round ({settings.InProcessSamples} in-process), {settings.Rounds} rounds; producer at most {cap * Batches.SamplesPerBatch} samples ahead of the backend");

        var tally = new Tally();
        BenchLogger.Sink = context.Log;
        try
        {
            await CrossNodeAsync(context, settings, cap, tally);
            await InProcessAsync(context, settings, cap, tally);
        }
        finally
        {
            BenchLogger.Sink = null;
        }

        var f = context.Figures;
        Count(f, LostSamples, tally.Lost, "samples");
        Count(f, ZeroLossShortfall, tally.Shortfall, "samples");
        context.Check(tally.Lost == 0, $"{tally.Lost} samples unaccounted for (produced - delivered - dropped - waiting - in flight, over every link)");
        context.Check(tally.Shortfall == 0, $"the zero-loss runs delivered {tally.Shortfall} samples fewer than were published");
    }

    // ------------------------------------------------------------------ two nodes

    private static async Task CrossNodeAsync(BenchContext context, Settings settings, int cap, Tally tally)
    {
        var ct = context.Cancellation;
        BenchNode? a = null, b = null;
        try
        {
            var clock = Stopwatch.StartNew();
            a = BenchNode.Start("bench-a", context.CreateTempDirectory("pipeline-a"), settings.Link);
            b = BenchNode.Start("bench-b", context.CreateTempDirectory("pipeline-b"), settings.Link);
            await a.JoinAsync(null, ct);
            await b.JoinAsync(a, ct);
            var reachability = new ReachabilityWatch.Counts();
            a.System.ActorOf(ReachabilityWatch.Props(reachability), "reachability");
            b.System.ActorOf(ReachabilityWatch.Props(reachability), "reachability");
            context.Log($"cluster: {a.Cluster.SelfAddress} and {b.Cluster.SelfAddress} up in {clock.ElapsedMilliseconds} ms");

            // The baseline's subscriber on B, and the first probe that reaches it from A.
            var rawCounter = new SampleCounter();
            var probed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var subscriber = b.System.ActorOf(RawSubscriber.Props(rawCounter, probed), "raw-subscriber");
            DistributedPubSub.Get(b.System).Mediator.Tell(new Subscribe(RawTopic, subscriber));
            var mediatorA = DistributedPubSub.Get(a.System).Mediator;
            var pool = new Batches(a.NodeId).Pool(PoolBatches);
            var probe = new MetricBatch(a.NodeId, Batches.Source, pool[0].Samples[..1]);
            for (var i = 0; !probed.Task.IsCompleted; i++)
            {
                if (i > 300) throw new TimeoutException("the raw subscriber on B was never reached from A through DistributedPubSub (30 s)");
                mediatorA.Tell(new Publish(RawTopic, new Delivery(a.NodeId, RawBackend, 0, probe)));
                await Task.WhenAny(probed.Task, Task.Delay(100, ct));
            }

            // First, while the process is still small: memory under a slow backend. It then stops
            // (its link takes nothing more) and the fast backend takes its place.
            if (settings.SlowDuration > TimeSpan.Zero) await SlowBackendAsync(context, settings, cap, a, b);

            // The pipeline's fast backend on B, registered as a plugin actor registers its inbox.
            var sinkCounter = new SampleCounter();
            var sink = b.System.ActorOf(BenchInbox.Props(sinkCounter, 0), "sink");
            b.Pipeline.Tell(new RegisterBackend(SinkBackend, sink, 1, AllTypes));
            await a.WaitForLinkAsync(SinkBackend, b.NodeId, ct);
            context.Log($"link {SinkBackend}@{b.NodeId} up on {a.NodeId}");

            var sample = new Delivery(a.NodeId, SinkBackend, 1, pool[0]) { Epoch = 1 };
            var serializer = a.System.Serialization.FindSerializerFor(sample);
            context.Check(serializer is PipelineSerializer, $"Delivery is bound to {serializer.GetType().Name}, not {nameof(PipelineSerializer)}");
            context.Log($"one Delivery of {Batches.SamplesPerBatch} samples: {serializer.ToBinary(sample).Length} bytes ({serializer.GetType().Name}); "
                + $"in memory about {SampleSizeOf(pool[0])} bytes per batch");

            long rawSequence = 0, published = 0;
            // Warm-up: both variants in turn until the JIT has settled (tiered compilation, PGO);
            // rounds right after start-up measured half of what they measure later.
            var warmupSamples = Math.Min(settings.Samples, 200_000);
            var warm = Stopwatch.StartNew();
            int warmRounds = 0;
            Run w1, w2;
            do
            {
                w1 = await PublishRawAsync(context, mediatorA, a.NodeId, rawCounter, pool, warmupSamples, () => ++rawSequence);
                w2 = await DriveAsync(context, a.Pipeline, sinkCounter, pool, warmupSamples, cap);
                published += warmupSamples;
                warmRounds++;
            }
            while (warm.Elapsed < settings.Warmup);
            context.Log($"warm-up: {warmRounds} rounds of {warmupSamples} samples each in {warm.Elapsed.TotalSeconds:0.0} s; last raw {w1.Describe()}; last cross-node {w2.Describe()}");

            List<double> raw = [], cross = [];
            long rawLost = 0;
            for (var round = 0; round < settings.Rounds; round++)
            {
                // Alternate which goes first, so that drift hits both alike.
                for (var k = 0; k < 2; k++)
                {
                    if ((round + k) % 2 == 0)
                    {
                        var run = await PublishRawAsync(context, mediatorA, a.NodeId, rawCounter, pool, settings.Samples, () => ++rawSequence);
                        raw.Add(run.PerSecond);
                        rawLost += settings.Samples - run.Samples;
                        context.Log($"round {round + 1} raw pub-sub: {run.Describe()}");
                    }
                    else
                    {
                        var run = await DriveAsync(context, a.Pipeline, sinkCounter, pool, settings.Samples, cap);
                        cross.Add(run.PerSecond);
                        published += settings.Samples;
                        context.Log($"round {round + 1} cross-node: {run.Describe()}");
                    }
                }
            }
            context.Log(SerializerCost(serializer, pool, a.NodeId));
            context.Log($"cluster health so far: {reachability.Unreachable} unreachable events, {BenchLogger.HeartbeatWarnings} late-heartbeat warnings, {BenchLogger.UnreachableWarnings} 'marking unreachable' warnings");

            var f = context.Figures;
            f.Spread(RawSamplesPerSecond, raw, "samples/s");
            Count(f, RawLostSamples, rawLost, "samples");
            f.Spread(CrossNodeSamplesPerSecond, cross, "samples/s");
            Count(f, CrossNodeSamplesPerSecond + ".target", (long)CrossNodeTarget, "samples/s (issue target, not asserted)");
            f.Ratio(Ratio, Figures.Median(cross), Figures.Median(raw));
            f.Report(Ratio + ".target", RatioTarget.ToString("0.0", CultureInfo.InvariantCulture), "x (issue target, not asserted)");

            var link = await WaitIdleAsync(a, SinkBackend, b.NodeId, ct);
            context.Log($"link {SinkBackend}@{b.NodeId}: {Describe(link)}; the inbox wrote {sinkCounter.Samples} samples (checksum {sinkCounter.Checksum:0})");
            tally.Shortfall += Math.Max(published - sinkCounter.Samples, 0) + Math.Max(link.Produced - link.Delivered, 0);
            context.Check(link.Produced == published && link.Delivered == published && link.DroppedTotal == 0 && link.Resends == 0,
                $"cross-node link not lossless: published {published}, {Describe(link)}");

            Count(context.Figures, UnreachableEvents, Volatile.Read(ref reachability.Unreachable), "events");
            foreach (var node in new[] { a, b })
            {
                var status = await node.StatusAsync(ct);
                foreach (var l in status.Links) context.Log($"end: {node.NodeId} → {l.Backend}@{l.BackendNode}: {Describe(l)}");
                tally.Add(status);
            }
        }
        finally
        {
            // B first (it joined A), then A; each at most 15 s.
            if (b is not null) await b.TerminateAsync();
            if (a is not null) await a.TerminateAsync();
        }
    }

    /// <summary>
    /// The producer publishes fresh batches at <see cref="Settings.SlowRate"/> while the backend on B
    /// writes a tenth of that: the link's buffer fills, and drop-oldest must keep it (and the process)
    /// flat. Runs first, on a process that has only formed the cluster; withdraws its backend at the end.
    /// </summary>
    private static async Task SlowBackendAsync(BenchContext context, Settings settings, int cap, BenchNode a, BenchNode b)
    {
        var ct = context.Cancellation;
        var backendRate = settings.SlowRate / 10.0;
        var counter = new SampleCounter();
        var inbox = b.System.ActorOf(BenchInbox.Props(counter, backendRate), "slow-sink");
        b.Pipeline.Tell(new RegisterBackend(SlowBackend, inbox, 1, AllTypes));
        await a.WaitForLinkAsync(SlowBackend, b.NodeId, ct);
        var outbox = await a.System.ActorSelection($"/user/pipeline/{LinkActorName(SlowBackend, b.NodeId)}").ResolveOne(TimeSpan.FromSeconds(5), ct);

        // Warm-up below the backend's rate (nothing waits long, nothing is dropped), so that the
        // code on the path is compiled before memory is measured; then the link is idle.
        var warmup = await DriveAsync(context, a.Pipeline, counter, new Batches(a.NodeId).Pool(PoolBatches), (long)Math.Min(backendRate, 50_000), cap);
        await WaitIdleAsync(a, SlowBackend, b.NodeId, ct);
        context.Log($"slow backend warm-up: {warmup.Describe()}");

        // Memory at the start: the link up and empty, after a full blocking GC.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var rssStart = Environment.WorkingSet;
        var heapStart = GC.GetTotalMemory(false);
        var committedStart = GC.GetGCMemoryInfo().TotalCommittedBytes;
        var rssMax = rssStart;
        var committedMax = committedStart;
        // RSS once the buffer has long been full, and its maximum after that: does it still grow?
        var steadyFrom = TimeSpan.FromSeconds(Math.Min(10, settings.SlowDuration.TotalSeconds / 2));
        long? rssSteadyStart = null;
        var rssSteadyMax = 0L;
        context.Log($"slow backend: producer {settings.SlowRate} samples/s of new batches, backend writes {backendRate:0} samples/s, for {settings.SlowDuration.TotalSeconds:0} s; "
            + $"start RSS {rssStart / MiB:0.0} MiB (managed heap {heapStart / MiB:0.0} MiB, GC committed {committedStart / MiB:0.0} MiB)");

        var batches = new Batches(a.NodeId);
        var clock = Stopwatch.StartNew();
        var producedBatches = 0L;
        var skippedBatches = 0L;
        var producer = Task.Factory.StartNew(() =>
        {
            var perSecond = settings.SlowRate / (double)Batches.SamplesPerBatch;
            while (clock.Elapsed < settings.SlowDuration && !ct.IsCancellationRequested)
            {
                var due = (long)(clock.Elapsed.TotalSeconds * perSecond);
                if (due - producedBatches - skippedBatches > perSecond)
                {
                    // More than a second behind (the machine stalled): do not burst to catch up.
                    skippedBatches = due - producedBatches;
                }
                while (producedBatches + skippedBatches < due)
                {
                    a.Pipeline.Tell(new PublishBatch(batches.Next()));
                    producedBatches++;
                }
                Thread.Sleep(1);
            }
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        int reads = 0, held = 0, maxPipelineMailbox = 0, maxOutboxMailbox = 0;
        long maxWaiting = 0;
        LinkStatus? last = null;
        var nextStatus = TimeSpan.Zero;
        var nextLog = TimeSpan.FromSeconds(5);
        while (!producer.IsCompleted)
        {
            await Task.WhenAny(producer, Task.Delay(100, ct));
            var rss = Environment.WorkingSet;
            rssMax = Math.Max(rssMax, rss);
            if (clock.Elapsed >= steadyFrom)
            {
                rssSteadyStart ??= rss;
                rssSteadyMax = Math.Max(rssSteadyMax, rss);
            }
            committedMax = Math.Max(committedMax, GC.GetGCMemoryInfo().TotalCommittedBytes);
            maxPipelineMailbox = Math.Max(maxPipelineMailbox, BenchNode.MailboxDepth(a.Pipeline));
            maxOutboxMailbox = Math.Max(maxOutboxMailbox, BenchNode.MailboxDepth(outbox));
            if (clock.Elapsed < nextStatus) continue;
            nextStatus = clock.Elapsed + TimeSpan.FromMilliseconds(500);
            var status = await a.StatusAsync(ct);
            reads++;
            if (status.Links.All(Holds)) held++;
            else context.Log($"accounting broken at {clock.Elapsed.TotalSeconds:0.0} s: {string.Join("; ", status.Links.Where(l => !Holds(l)).Select(Describe))}");
            last = status.Links.FirstOrDefault(l => l.Backend == SlowBackend) ?? last;
            if (last is not null) maxWaiting = Math.Max(maxWaiting, last.Waiting);
            if (clock.Elapsed >= nextLog && last is not null)
            {
                nextLog += TimeSpan.FromSeconds(5);
                context.Log($"slow {clock.Elapsed.TotalSeconds,4:0} s: RSS {rss / MiB:0.0} MiB (max {rssMax / MiB:0.0}), managed heap {GC.GetTotalMemory(false) / MiB:0.0} MiB, "
                    + $"GC committed {GC.GetGCMemoryInfo().TotalCommittedBytes / MiB:0.0} MiB, mailboxes pipeline {BenchNode.MailboxDepth(a.Pipeline)} outbox {BenchNode.MailboxDepth(outbox)}; {Describe(last)}");
            }
        }
        await producer;
        var elapsed = clock.Elapsed;
        var final = await a.StatusAsync(ct);
        reads++;
        if (final.Links.All(Holds)) held++;
        var link = final.Links.First(l => l.Backend == SlowBackend);
        var liveEnd = GC.GetTotalMemory(forceFullCollection: true);
        context.Log($"slow backend done after {elapsed.TotalSeconds:0.0} s: produced {producedBatches * Batches.SamplesPerBatch / elapsed.TotalSeconds:0} samples/s"
            + (skippedBatches > 0 ? $" ({skippedBatches} batches skipped: the producer fell behind)" : "")
            + $", backend wrote {(counter.Samples - warmup.Samples) / elapsed.TotalSeconds:0} samples/s; max waiting {maxWaiting}, max mailbox pipeline {maxPipelineMailbox} outbox {maxOutboxMailbox}; "
            + $"RSS start {rssStart / MiB:0.0} max {rssMax / MiB:0.0} MiB (from {steadyFrom.TotalSeconds:0} s: {(rssSteadyStart ?? 0) / MiB:0.0} to max {rssSteadyMax / MiB:0.0}); "
            + $"GC committed start {committedStart / MiB:0.0} max {committedMax / MiB:0.0} MiB; live managed heap start {heapStart / MiB:0.0} end {liveEnd / MiB:0.0} MiB (buffer full); {Describe(link)}");

        var f = context.Figures;
        f.Report(SlowRssGrowthMib, (rssMax - rssStart) / MiB, "MiB");
        Count(f, SlowRssGrowthMib + ".target", (long)RssGrowthTargetMib, "MiB (issue target, not asserted)");
        f.Report(SlowRssDriftMib, rssSteadyStart is { } steady ? (rssSteadyMax - steady) / MiB : double.NaN, "MiB");
        Count(f, SlowDroppedSamples, link.DroppedTotal, "samples");
        f.Report(SlowInvariantHeld, $"{held}/{reads}", "status reads");
        context.Check(held == reads, $"produced = delivered + dropped + waiting + in flight held at only {held} of {reads} status reads");
        context.Check(link.DroppedTotal > 0 && link.Dropped.Keys.All(k => k == "overflow"), $"the slow link should drop its oldest samples (reason overflow): {Describe(link)}");

        // The slow backend stops: its link takes nothing more, and drops what waits (reason shutdown).
        b.Pipeline.Tell(new UnregisterBackend(SlowBackend, inbox, Withdraw: true));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((await a.StatusAsync(ct)).Links.First(l => l.Backend == SlowBackend).State == "up")
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the link to {SlowBackend} is still up 10 s after its backend was withdrawn");
            await Task.Delay(50, ct);
        }
    }

    // ------------------------------------------------------------------ one node

    private static async Task InProcessAsync(BenchContext context, Settings settings, int cap, Tally tally)
    {
        var ct = context.Cancellation;
        BenchNode? node = null;
        try
        {
            node = BenchNode.Start("bench-local", context.CreateTempDirectory("pipeline-local"), settings.Link);
            await node.JoinAsync(null, ct);
            var counter = new SampleCounter();
            var sink = node.System.ActorOf(BenchInbox.Props(counter, 0), "sink");
            node.Pipeline.Tell(new RegisterBackend(SinkBackend, sink, 1, AllTypes));
            await node.WaitForLinkAsync(SinkBackend, node.NodeId, ct);

            var pool = new Batches(node.NodeId).Pool(PoolBatches);
            long published = 0;
            var warm = Stopwatch.StartNew();
            Run warmup;
            do
            {
                warmup = await DriveAsync(context, node.Pipeline, counter, pool, Math.Min(settings.InProcessSamples, 2_000_000), cap);
                published += warmup.Samples;
            }
            while (warm.Elapsed < settings.Warmup / 2);
            context.Log($"in-process warm-up: {warm.Elapsed.TotalSeconds:0.0} s; last {warmup.Describe()}");
            List<double> rates = [];
            for (var round = 0; round < settings.Rounds; round++)
            {
                var run = await DriveAsync(context, node.Pipeline, counter, pool, settings.InProcessSamples, cap);
                rates.Add(run.PerSecond);
                published += run.Samples;
                context.Log($"round {round + 1} in-process: {run.Describe()}");
            }
            context.Figures.Spread(InProcessSamplesPerSecond, rates, "samples/s");
            Count(context.Figures, InProcessSamplesPerSecond + ".target", (long)InProcessTarget, "samples/s (issue target, not asserted)");

            var link = await WaitIdleAsync(node, SinkBackend, node.NodeId, ct);
            context.Log($"in-process link: {Describe(link)}; the inbox wrote {counter.Samples} samples");
            tally.Shortfall += Math.Max(published - counter.Samples, 0) + Math.Max(link.Produced - link.Delivered, 0);
            context.Check(link.Produced == published && link.Delivered == published && link.DroppedTotal == 0,
                $"in-process link not lossless: published {published}, {Describe(link)}");
            tally.Add(await node.StatusAsync(ct));
        }
        finally
        {
            if (node is not null) await node.TerminateAsync();
        }
    }

    // ------------------------------------------------------------------ drivers

    /// <summary>
    /// Publishes <paramref name="samples"/> to the pipeline from a dedicated thread, never more than
    /// <paramref name="capBatches"/> batches ahead of what the backend has written; timed from the
    /// first publish until the backend has written the last sample.
    /// </summary>
    private static async Task<Run> DriveAsync(BenchContext context, IActorRef pipeline, SampleCounter counter, MetricBatch[] pool, long samples, int capBatches)
    {
        var ct = context.Cancellation;
        var batches = samples / Batches.SamplesPerBatch;
        using var credit = new SemaphoreSlim(capBatches);
        counter.Arm(counter.Samples + batches * Batches.SamplesPerBatch, credit);
        var probe = Probe.Start();
        await Task.Factory.StartNew(() =>
        {
            for (var i = 0L; i < batches; i++)
            {
                if (!credit.Wait(0) && !credit.Wait(TimeSpan.FromSeconds(30), ct))
                    throw new TimeoutException($"the backend wrote nothing for 30 s ({counter.Samples} samples written so far)");
                pipeline.Tell(new PublishBatch(pool[i % pool.Length]));
            }
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var end = await counter.Reached.WaitAsync(TimeSpan.FromSeconds(60), ct);
        counter.Arm(long.MaxValue, null);
        return probe.Stop(batches * Batches.SamplesPerBatch, end);
    }

    /// <summary>
    /// The baseline: every batch in a <see cref="Delivery"/> published to the raw topic through A's
    /// mediator as fast as Tell goes, no flow control. Timed from the first publish to the last
    /// arrival: until all arrived, or until nothing more arrived for 5 s (then what arrived counts).
    /// </summary>
    private static async Task<Run> PublishRawAsync(BenchContext context, IActorRef mediator, string sourceNode, SampleCounter counter, MetricBatch[] pool, long samples, Func<long> nextSequence)
    {
        var ct = context.Cancellation;
        var before = counter.Samples;
        var batches = samples / Batches.SamplesPerBatch;
        counter.Arm(before + batches * Batches.SamplesPerBatch, null);
        var probe = Probe.Start();
        await Task.Factory.StartNew(() =>
        {
            for (var i = 0L; i < batches; i++)
                mediator.Tell(new Publish(RawTopic, new Delivery(sourceNode, RawBackend, nextSequence(), pool[i % pool.Length])));
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var seen = counter.Samples;
        var lastProgress = Stopwatch.StartNew();
        while (!counter.Reached.IsCompleted && lastProgress.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.WhenAny(counter.Reached, Task.Delay(100, ct));
            if (counter.Samples == seen) continue;
            seen = counter.Samples;
            lastProgress.Restart();
        }
        var arrived = counter.Samples - before;
        var end = counter.Reached.IsCompleted ? await counter.Reached : counter.LastArrival;
        counter.Arm(long.MaxValue, null);
        if (arrived < batches * Batches.SamplesPerBatch)
            context.Log($"raw pub-sub: only {arrived} of {batches * Batches.SamplesPerBatch} samples arrived (nothing more for 5 s)");
        return probe.Stop(arrived, end);
    }

    /// <summary>Time and bytes allocated per Delivery for our serializer alone, one thread: the wire's share of the cost.</summary>
    private static string SerializerCost(Akka.Serialization.Serializer serializer, MetricBatch[] pool, string sourceNode)
    {
        const int n = 20_000;
        var manifest = ((Akka.Serialization.SerializerWithStringManifest)serializer).Manifest(new Delivery(sourceNode, SinkBackend, 1, pool[0]));
        var payloads = new byte[pool.Length][];
        for (var i = 0; i < n; i++) payloads[i % pool.Length] = serializer.ToBinary(new Delivery(sourceNode, SinkBackend, i + 1, pool[i % pool.Length])); // warm-up
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++) payloads[i % pool.Length] = serializer.ToBinary(new Delivery(sourceNode, SinkBackend, i + 1, pool[i % pool.Length]));
        var write = (Stopwatch.GetElapsedTime(clock).TotalMicroseconds / n, (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n);
        for (var i = 0; i < n; i++) ((Akka.Serialization.SerializerWithStringManifest)serializer).FromBinary(payloads[i % pool.Length], manifest);
        allocated = GC.GetAllocatedBytesForCurrentThread();
        clock = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++) ((Akka.Serialization.SerializerWithStringManifest)serializer).FromBinary(payloads[i % pool.Length], manifest);
        var read = (Stopwatch.GetElapsedTime(clock).TotalMicroseconds / n, (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n);
        return $"after the runs, our serializer alone per Delivery of {Batches.SamplesPerBatch} samples (one thread): write {write.Item1:0.0} µs {write.Item2:0} bytes allocated, read {read.Item1:0.0} µs {read.Item2:0} bytes allocated";
    }

    /// <summary>The link once nothing is waiting or in flight on it (at most 10 s).</summary>
    private static async Task<LinkStatus> WaitIdleAsync(BenchNode node, string backend, string backendNode, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var link = (await node.StatusAsync(ct)).Links.First(l => l.Backend == backend && l.BackendNode == backendNode);
            if ((link.Waiting == 0 && link.InFlight == 0) || DateTime.UtcNow > deadline) return link;
            await Task.Delay(20, ct);
        }
    }

    private static void Count(Figures figures, string figure, long value, string unit) =>
        figures.Report(figure, value.ToString(CultureInfo.InvariantCulture), unit);

    private static bool Holds(LinkStatus l) => Gap(l) == 0;

    private static long Gap(LinkStatus l) => l.Produced - l.Delivered - l.DroppedTotal - l.Waiting - l.InFlight;

    private static string Describe(LinkStatus l) =>
        $"{l.Backend}@{l.BackendNode} {l.State}: produced {l.Produced}, delivered {l.Delivered}, dropped {l.DroppedTotal}"
        + (l.Dropped.Count > 0 ? $" ({string.Join(", ", l.Dropped.Select(d => $"{d.Key} {d.Value}"))})" : "")
        + $", waiting {l.Waiting} ({l.WaitingBytes / MiB:0.0} MiB est.), in flight {l.InFlight}, resends {l.Resends}";

    /// <summary>The outbox's actor name, as <see cref="PipelineActor"/> names it.</summary>
    private static string LinkActorName(string backend, string backendNode) =>
        "link-" + Uri.EscapeDataString($"{backend}@{backendNode}").Replace('%', '_');

    /// <summary>Bytes a batch holds on the heap: the sample array (the strings and labels are shared).</summary>
    private static long SampleSizeOf(MetricBatch batch) =>
        batch.Samples.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<MetricSample>() + 24 + 40;

    private sealed record Settings(long Samples, long InProcessSamples, int Rounds, TimeSpan Warmup, TimeSpan SlowDuration, int SlowRate, LinkSettings Link);

    /// <summary>Sums over every link of every node read at the end.</summary>
    private sealed class Tally
    {
        public long Lost { get; private set; }

        public long Shortfall { get; set; }

        public void Add(CurrentPipelineStatus status) => Lost += status.Links.Sum(Gap);
    }

    /// <summary>What the process did during one timed run: CPU time, collections, bytes allocated.</summary>
    private readonly record struct Probe(long Started, TimeSpan Cpu, int Gen0, int Gen1, int Gen2, long Allocated)
    {
        public static Probe Start()
        {
            using var process = Process.GetCurrentProcess();
            return new Probe(Stopwatch.GetTimestamp(), process.TotalProcessorTime, GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes());
        }

        public Run Stop(long samples, long end)
        {
            using var process = Process.GetCurrentProcess();
            var elapsed = Stopwatch.GetElapsedTime(Started, end);
            return new Run(samples, elapsed, (process.TotalProcessorTime - Cpu).TotalSeconds / Math.Max(elapsed.TotalSeconds, 1e-9) / Environment.ProcessorCount,
                GC.CollectionCount(0) - Gen0, GC.CollectionCount(1) - Gen1, GC.CollectionCount(2) - Gen2, (GC.GetTotalAllocatedBytes() - Allocated) / (double)Math.Max(samples, 1));
        }
    }

    private sealed record Run(long Samples, TimeSpan Elapsed, double CpuShare, int Gen0, int Gen1, int Gen2, double AllocatedPerSample)
    {
        public double PerSecond => Samples / Elapsed.TotalSeconds;

        public string Describe() =>
            $"{Samples} samples in {Elapsed.TotalMilliseconds:0} ms = {PerSecond:0} samples/s; CPU {CpuShare:P0} of {Environment.ProcessorCount} cores, "
            + $"GCs {Gen0}/{Gen1}/{Gen2}, {AllocatedPerSample:0.0} bytes allocated per sample";
    }
}
