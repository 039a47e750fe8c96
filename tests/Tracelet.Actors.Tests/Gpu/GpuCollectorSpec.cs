using System.Collections.Immutable;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.Collectors.Gpu;
using Tracelet.Testing;
using Tracelet.TestPlugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests.Gpu;

/// <summary>The fake NVML's state is process-global: GPU specs run alone, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FakeNvmlCollection
{
    public const string Name = "fake-nvml";
}

/// <summary>
/// The gpu collector through the plugin runtime, against the fake libnvidia-ml.so.1 built from
/// tests/native/fake-nvml: samples, labels and status as an operator sees them, and what happens
/// when NVML is missing, a GPU is lost, a call hangs in the driver or an Xid arrives.
/// </summary>
[Collection(FakeNvmlCollection.Name)]
[Trait("Category", "FakeGpu")]
public sealed class GpuCollectorSpec : PluginManagerSpecBase
{
    private const string Gpu = "gpu";
    private const string Capture = CapturingBackend.PluginName;
    private const string Counter = CountingCollector.PluginName;
    private readonly FakeNvmlControl _fake;
    private IActorRef? _manager;

    public GpuCollectorSpec(ITestOutputHelper output)
        : base(TestNode.Create(nodeId: $"gpu-spec-{Guid.NewGuid():N}"), "gpu-collector-spec", output)
    {
        _fake = FakeNvml.Control();
        _fake.Reset();
    }

    private IActorRef StartNode(TraceletSettings? settings = null)
    {
        var manager = StartManager(settings, discover: () => Node.DiscoverWith(typeof(GpuCollector).Assembly, typeof(CapturingBackend).Assembly));
        AwaitReady(manager);
        Succeeds(manager, new StartPlugin(Capture), PluginState.Active);
        _manager = manager;
        return manager;
    }

    private static PluginConfig GpuConfig(string? libraryPath = null, bool allowFake = true) => PluginConfig.Parse($$"""
        {
          "interval": "100ms",
          "library-path": {{System.Text.Json.JsonSerializer.Serialize(libraryPath ?? FakeNvml.PathFor())}},
          "allow-fake": {{(allowFake ? "true" : "false")}},
          "collect-timeout": "300ms",
          "watchdog": "400ms",
          "lost-retry": "200ms"
        }
        """);

    private void StartGpu(IActorRef manager, PluginConfig? config = null)
    {
        Succeeds(manager, new InitializePlugin(Gpu, config ?? GpuConfig()), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Gpu), PluginState.Active);
    }

    private ImmutableArray<MetricSample> Samples(string name) =>
        [.. CapturingBackend.SamplesFrom(Node.NodeId).Where(s => s.Name == name)];

    private static string Label(MetricSample sample, string key) => sample.Labels.Single(l => l.Key == key).Value;

    private static Dictionary<string, object?>[] Gpus(PluginStatusEntry entry) =>
        Assert.IsType<Dictionary<string, object?>[]>(entry.Status!["gpus"]);

    private T Eventually<T>(Func<T> read, Action<T> assert, TimeSpan? within = null)
    {
        var value = default(T)!;
        AwaitAssert(() =>
        {
            value = read();
            assert(value);
        }, Dilated(within ?? TimeSpan.FromSeconds(15)), TimeSpan.FromMilliseconds(50));
        return value;
    }

    [Fact]
    public void Four_GPUs_are_sampled_with_their_labels_through_the_plugin_runtime()
    {
        _fake.Configure("devices=4");
        var manager = StartNode();
        StartGpu(manager);

        var up = Eventually(() => Samples(GpuMetrics.Up), s => Assert.Equal(4, s.Where(x => x.Value == 1 && !x.Labels.Any(l => l.Key == GpuLabels.ParentUuid)).Select(x => Label(x, GpuLabels.Uuid)).Distinct().Count()));
        var gpu2 = up.First(s => Label(s, GpuLabels.Gpu) == "2");
        Assert.Equal(Node.NodeId, Label(gpu2, GpuLabels.Node));
        Assert.Equal("GPU-00000000-0000-4000-8000-000000000002", Label(gpu2, GpuLabels.Uuid));
        Assert.Equal("NVIDIA Fake GPU 2", Label(gpu2, GpuLabels.Model));
        Assert.Equal(Gpu, gpu2.Source);

        // Tracelet units: the first power sample of GPU i is 100 + i watts; memory in bytes; utilization a ratio.
        var power = Samples(GpuMetrics.PowerUsage).GroupBy(s => Label(s, GpuLabels.Gpu)).ToDictionary(g => g.Key, g => g.First().Value);
        Assert.Equal(102.0, power["2"]);
        Assert.All(Samples(GpuMetrics.MemoryTotal).Where(s => !s.Labels.Any(l => l.Key == GpuLabels.ParentUuid)), s => Assert.Equal(80.0 * (1 << 30), s.Value));
        Assert.All(Samples(GpuMetrics.Utilization), s => Assert.InRange(s.Value, 0, 1));
        Assert.Contains(Samples(GpuMetrics.ProcessMemoryUsed), s => Label(s, GpuLabels.Pid) == "1000" && s.Value == 1 << 30);
        // GPU 1 runs MIG: its instances are sampled for memory, labelled with their parent.
        var mig = Eventually(() => Samples(GpuMetrics.MemoryTotal).Where(s => s.Labels.Any(l => l.Key == GpuLabels.ParentUuid)).ToList(), m => Assert.NotEmpty(m));
        Assert.All(mig, s => Assert.Equal(("GPU-00000000-0000-4000-8000-000000000001", 10.0 * (1 << 30)), (Label(s, GpuLabels.ParentUuid), s.Value)));

        var entry = AwaitPlugin(manager, Gpu, e => Assert.Equal(4, Gpus(e).Length));
        Assert.Equal(("550.54.15", "12.4"), (entry.Status!["driver"], entry.Status["cuda_driver"]));
        var gpus = Gpus(entry);
        Assert.All(gpus, g => Assert.Equal("ok", g["state"]));
        // NOT_SUPPORTED switched off a metric on one device, visible in status, without noise in the samples.
        Assert.Contains("FanSpeed: Not Supported", (string[])gpus[0]["unsupported"]!);
        Assert.DoesNotContain(Samples(GpuMetrics.FanSpeed), s => Label(s, GpuLabels.Gpu) == "0");
        Assert.Contains(Samples(GpuMetrics.FanSpeed), s => Label(s, GpuLabels.Gpu) == "1");
    }

    [Fact]
    public void Without_NVML_the_plugin_says_why_and_stays_down_without_restarts()
    {
        var manager = StartNode();
        var missing = Path.Combine(Path.GetTempPath(), "tracelet-no-driver", "libnvidia-ml.so.1");
        Succeeds(manager, new InitializePlugin(Gpu, GpuConfig(missing)), PluginState.Initialized);
        Ask<PluginOperationResult>(manager, new StartPlugin(Gpu));

        var entry = AwaitState(manager, Gpu, PluginStatusState.Error);
        Assert.Equal($"start failed: PluginPermanentException: NVML not available: libnvidia-ml.so.1 not found ({missing}: no such file) (permanent fault: not restarted)", entry.Error);
        Assert.Equal(0, entry.Restarts);
        Assert.Equal(PluginStatusState.Active, Status(manager).Plugins[Capture].State);
    }

    [Fact]
    public void A_driver_that_is_not_loaded_is_reported_by_name()
    {
        _fake.SetInitResult(9);
        var manager = StartNode();
        Succeeds(manager, new InitializePlugin(Gpu, GpuConfig()), PluginState.Initialized);
        Ask<PluginOperationResult>(manager, new StartPlugin(Gpu));

        var entry = AwaitState(manager, Gpu, PluginStatusState.Error);
        Assert.EndsWith("NVML not available: nvmlInit_v2 returned 9 (Driver Not Loaded) (permanent fault: not restarted)", entry.Error);
        Assert.Equal(0, entry.Restarts);
    }

    [Fact]
    public void The_test_fake_is_refused_unless_allowed()
    {
        var manager = StartNode();
        Succeeds(manager, new InitializePlugin(Gpu, GpuConfig(allowFake: false)), PluginState.Initialized);
        Ask<PluginOperationResult>(manager, new StartPlugin(Gpu));

        var entry = AwaitState(manager, Gpu, PluginStatusState.Error);
        Assert.Contains("is Tracelet's test fake", entry.Error);
        Assert.Equal(0, _fake.RefCount);
    }

    [Fact]
    public void A_GPU_lost_mid_run_is_marked_lost_and_the_other_keeps_flowing()
    {
        var manager = StartNode();
        StartGpu(manager);
        Eventually(() => Samples(GpuMetrics.PowerUsage), s => Assert.Contains(s, x => Label(x, GpuLabels.Gpu) == "1"));

        _fake.SetGpuLost(1, 0);

        var entry = AwaitPlugin(manager, Gpu, e => Assert.Equal("lost", Gpus(e)[1]["state"]));
        Assert.Equal(("ok", "GPU lost: 15 (GPU is lost)"), (Gpus(entry)[0]["state"], Gpus(entry)[1]["error"]));
        Eventually(() => Samples(GpuMetrics.Up), s => Assert.Contains(s, x => Label(x, GpuLabels.Gpu) == "1" && x.Value == 0));
        var before = Samples(GpuMetrics.PowerUsage).Count(s => Label(s, GpuLabels.Gpu) == "0");
        Eventually(() => Samples(GpuMetrics.PowerUsage).Count(s => Label(s, GpuLabels.Gpu) == "0"), n => Assert.True(n > before + 3, "GPU 0 stopped being sampled"));
        Assert.Equal((PluginStatusState.Active, 0), (Status(manager).Plugins[Gpu].State, Status(manager).Plugins[Gpu].Restarts));
    }

    [Fact]
    public void A_lost_GPU_that_comes_back_is_sampled_again_with_its_MIG_devices_found_anew()
    {
        var manager = StartNode();
        StartGpu(manager);
        Eventually(() => Samples(GpuMetrics.Up), s => Assert.Contains(s, x => Label(x, GpuLabels.Gpu) == "1"));
        _fake.SetGpuLost(1, 0);
        AwaitPlugin(manager, Gpu, e => Assert.Equal("lost", Gpus(e)[1]["state"]));
        var migBefore = MigMemorySamples();

        _fake.SetGpuLost(1, -1); // back on the bus (a reset, in real life)

        var entry = AwaitPlugin(manager, Gpu, e => Assert.Equal("ok", Gpus(e)[1]["state"]));
        Assert.Equal(2, Gpus(entry)[1]["mig_devices"]);
        Eventually(MigMemorySamples, n => Assert.True(n > migBefore + 2, "MIG devices are not sampled again"));
        Assert.Equal(0, Status(manager).Plugins[Gpu].Restarts);
    }

    private int MigMemorySamples() => Samples(GpuMetrics.MemoryTotal).Count(s => s.Labels.Any(l => l.Key == GpuLabels.ParentUuid));

    [Fact]
    public void When_NVML_itself_fails_the_plugin_restarts_with_a_new_session()
    {
        // A slow backoff, so the failed instance has let go of NVML before the next one starts.
        var manager = StartNode(Node.CreateSettings("tracelet.plugin-manager.supervision { min-backoff = 1s, max-backoff = 2s }"));
        StartGpu(manager);
        Eventually(() => Samples(GpuMetrics.Up), s => Assert.NotEmpty(s));

        _fake.Reset(); // every call of this session now answers UNINITIALIZED, as after a driver upgrade

        var entry = AwaitPlugin(manager, Gpu, e =>
        {
            Assert.Equal((PluginStatusState.Active, 1), (e.State, e.Restarts));
            Assert.All(Gpus(e), g => Assert.Equal("ok", g["state"]));
        }, within: TimeSpan.FromSeconds(20));
        Assert.Equal(2, Gpus(entry).Length);
        var up = Samples(GpuMetrics.Up).Count(s => s.Value == 1);
        Eventually(() => Samples(GpuMetrics.Up).Count(s => s.Value == 1), n => Assert.True(n > up + 2, "no samples after the restart"));
    }

    [Fact]
    public void A_call_hanging_in_the_driver_is_flagged_and_freezes_nothing_else()
    {
        var manager = StartNode();
        Succeeds(manager, new InitializePlugin(Counter, PluginConfig.Parse("""{ "interval": "50ms", "value": 1 }""")), PluginState.Initialized);
        Succeeds(manager, new StartPlugin(Counter), PluginState.Active);
        StartGpu(manager);
        Eventually(() => Samples(GpuMetrics.Up), s => Assert.Contains(s, x => Label(x, GpuLabels.Gpu) == "1"));

        _fake.SetHang(1, 2000);
        try
        {
            var entry = AwaitPlugin(manager, Gpu, e => Assert.Equal("stalled", Gpus(e)[1]["state"]));
            Assert.Equal("ok", Gpus(entry)[0]["state"]);
            // While GPU 1's thread is stuck, GPU 0 and the other plugins keep producing.
            var gpu0 = Samples(GpuMetrics.Up).Count(s => Label(s, GpuLabels.Gpu) == "0");
            var counted = CapturingBackend.SamplesFrom(Node.NodeId).Count(s => s.Source == Counter);
            Eventually(() => (Samples(GpuMetrics.Up).Count(s => Label(s, GpuLabels.Gpu) == "0"), CapturingBackend.SamplesFrom(Node.NodeId).Count(s => s.Source == Counter)),
                n => Assert.True(n.Item1 > gpu0 + 3 && n.Item2 > counted + 3, "sampling stopped while one GPU hung"));
        }
        finally
        {
            _fake.SetHang(1, 0);
        }
        AwaitPlugin(manager, Gpu, e => Assert.Equal("ok", Gpus(e)[1]["state"]));
    }

    [Fact]
    public void An_Xid_becomes_a_sample_and_a_status_entry()
    {
        var manager = StartNode();
        StartGpu(manager);
        AwaitPlugin(manager, Gpu, e => Assert.Equal("watching 2 GPU(s)", e.Status!["events"]));

        _fake.InjectXid(0, 79);

        var xid = Eventually(() => Samples(GpuMetrics.Xid), s => Assert.NotEmpty(s)).Single();
        Assert.Equal((79.0, "0", "79"), (xid.Value, Label(xid, GpuLabels.Gpu), Label(xid, GpuLabels.Code)));
        var entry = AwaitPlugin(manager, Gpu, e => Assert.Equal(1L, Gpus(e)[0]["xid_count"]));
        Assert.Equal(79ul, Gpus(entry)[0]["last_xid"]);
        Eventually(() => Samples(GpuMetrics.XidErrors), s => Assert.Contains(s, x => Label(x, GpuLabels.Gpu) == "0" && x.Value == 1));
    }

    [Fact]
    public void Stopping_the_plugin_shuts_NVML_down_once_everything_let_go()
    {
        var manager = StartNode();
        StartGpu(manager);
        Eventually(() => Samples(GpuMetrics.Up), s => Assert.NotEmpty(s));
        Assert.Equal(1, _fake.RefCount);

        Succeeds(manager, new StopPlugin(Gpu), PluginState.Stopped);

        // The event watcher's thread lets go within one wait slice.
        Eventually(() => _fake.RefCount, n => Assert.Equal(0, n));
        Assert.Equal(_fake.CallCount("nvmlEventSetCreate"), _fake.CallCount("nvmlEventSetFree"));
    }

    protected override void Dispose(bool disposing)
    {
        _fake.SetHang(1, 0);
        if (disposing && _manager is not null)
        {
            // Shut down as a node does, so no thread of this test still holds NVML when the next one resets the fake.
            Ask<AllPluginsStopped>(_manager, StopAllPlugins.Instance);
            AwaitAssert(() => Assert.Equal(0, _fake.RefCount), Dilated(TimeSpan.FromSeconds(10)), TimeSpan.FromMilliseconds(50));
        }
        base.Dispose(disposing);
        CapturingBackend.Clear(Node.NodeId);
    }
}
