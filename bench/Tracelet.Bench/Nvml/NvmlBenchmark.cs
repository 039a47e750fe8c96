using System.Collections.Immutable;
using System.CommandLine;
using System.Diagnostics;
using Tracelet.Abstractions;
using Tracelet.Collectors.Gpu;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;
using Tracelet.Testing;

namespace Tracelet.Bench.Nvml;

/// <summary>
/// `nvml`: the cost of one full sample of 8 GPUs with every default metric, through our NVML
/// binding (<see cref="NvmlDeviceSampler"/>) and the gpu collector's conversion to samples
/// (<see cref="GpuSampleConverter"/>), on the fake libnvidia-ml.so.1. Baseline: the same NVML
/// calls made directly through the raw <see cref="NvmlLibrary"/> methods (<see cref="RawNvmlCalls"/>).
/// The fake answers in well under a microsecond, so these figures are our overhead; on a real
/// GPU the driver's own time per call dominates (reference/nvml.md §2.7).
/// </summary>
internal sealed class NvmlBenchmark : IBenchmark
{
    public const string SampleMicroseconds = "nvml.sample_8gpu_us";
    public const string BindingSampleMicroseconds = "nvml.binding_sample_8gpu_us";
    public const string RawCallsMicroseconds = "nvml.raw_calls_8gpu_us";
    public const string Ratio = "nvml.ratio";
    public const string BindingRatio = "nvml.binding_ratio";
    public const string CallsPerSample = "nvml.calls_per_sample";
    public const string RawNanosecondsPerCall = "nvml.raw_ns_per_call";
    public const string MetricSamplesPerSample = "nvml.metric_samples_per_sample";
    public const string AllocatedBytesPerSample = "nvml.allocated_bytes_per_sample";
    public const string CollectorAllocatedBytesPerSample = "nvml.collector_allocated_bytes_per_sample";
    public const string TelegrafReference = "nvml.reference.telegraf_nvidia_smi_8gpu_us";

    /// <summary>
    /// `time nvidia-smi -q -x` on an 8-GPU machine: 0.588 s, which Telegraf's nvidia_smi input
    /// runs once per sample (influxdata/telegraf#8534). Published, not measured here.
    /// </summary>
    private const double TelegrafNvidiaSmi8GpuMicroseconds = 590_000;

    private const int Gpus = 8;
    private const string FakeSettings = "devices=8;mig_device=-1";
    private const string NodeId = "bench";
    private const string Source = "gpu";

    private readonly Option<int> _rounds = new("--rounds")
    {
        Description = "Timed rounds per variant (raw calls, binding, binding + conversion); figures are the median over rounds",
        DefaultValueFactory = _ => 15,
    };

    private readonly Option<int> _samples = new("--samples")
    {
        Description = "Full 8-GPU samples per round and variant (also the count for the allocation and call figures)",
        DefaultValueFactory = _ => 5000,
    };

    private readonly Option<double> _warmupSeconds = new("--warmup-seconds")
    {
        Description = "Seconds of untimed samples (all three variants) before measuring, for the JIT to reach its final code",
        DefaultValueFactory = _ => 3,
    };

    public string Name => "nvml";

    public string Description => "One full sample of 8 fake GPUs (every default metric) through our NVML binding and the gpu collector's conversion, vs the same NVML calls made raw.";

    public IReadOnlyList<Option> Options => [_rounds, _samples, _warmupSeconds];

    public async Task RunAsync(BenchContext context, ParseResult parse)
    {
        var settings = new Settings(
            Math.Clamp(parse.GetValue(_rounds), 3, 101),
            Math.Clamp(parse.GetValue(_samples), 10, 100_000),
            TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(_warmupSeconds), 0.1, 30)));
        // One dedicated thread, as the collector's device actors each get one (the native-calls
        // dispatcher); the allocation figures count this thread's allocations only.
        await Task.Factory.StartNew(() => Run(context, settings), context.Cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static void Run(BenchContext context, Settings settings)
    {
        var ct = context.Cancellation;
        var path = FakeNvml.PathFor();
        var control = FakeNvml.Control();
        control.Reset();
        control.Configure(FakeSettings);
        control.SetLatencyMicroseconds(0);
        var counts = new FakeCallCounts(control);

        var loaded = NvmlLibrary.Load(path);
        var lib = loaded.Library ?? throw new InvalidOperationException($"could not load the fake NVML: {loaded.Error}");
        if (!context.Check(lib.IsFake, $"{lib.Path} is not the fake NVML")) return;
        var session = NvmlSession.Open(lib);
        try
        {
            var inventory = session.Discover();
            context.Log($"fake NVML {lib.Path} ({FakeSettings}, latency 0): driver {inventory.DriverVersion}, {inventory.Gpus.Count} GPUs, memory API {lib.MemoryVersion}");
            context.Check(inventory.Gpus.Count == Gpus && inventory.Failures.Count == 0, $"discovery found {inventory.Gpus.Count} GPUs and {inventory.Failures.Count} failures, not {Gpus} and 0");
            context.Check(inventory.Gpus.All(g => g.MigDevices.Count == 0), "a GPU has MIG devices although the fake was configured without MIG");

            // Each device as the collector's GpuDeviceActor sets it up with the default settings
            // (processes, PCIe throughput and job labels on). Job labels read /proc/<pid>/environ;
            // here they read an empty folder, so the fake's pids never touch real processes.
            var procRoot = context.CreateTempDirectory("nvml-proc");
            var options = new GpuSamplerOptions(Processes: true, PcieThroughput: true);
            var binding = inventory.Gpus.Select(g => new BindingDevice(new NvmlDeviceSampler(lib, g.Handle, options), new GpuReading())).ToArray();
            var collector = inventory.Gpus.Select(g =>
            {
                var jobLabels = new ProcessJobLabels(procRoot);
                return new CollectorDevice(
                    new NvmlDeviceSampler(lib, g.Handle, options), new GpuReading(),
                    new GpuSampleConverter(Source, GpuDeviceActor.DeviceLabels(NodeId, g), jobLabels), jobLabels);
            }).ToArray();
            var bench = new Variants(binding, collector);

            // The first sample switches off what a device does not answer and reads the max clocks once;
            // the raw plan copies what stays on.
            bench.Binding();
            bench.Collector();
            var raw = new RawNvmlCalls(lib, inventory.Gpus.Select((g, i) => (g.Handle, binding[i].Sampler)).ToArray());
            bench.Raw = raw;
            foreach (var (gpu, device) in inventory.Gpus.Zip(binding))
            {
                var off = device.Sampler.Unsupported.Select(u => u.Metric).ToArray();
                context.Log($"gpu {gpu.Index}: {device.Reading.PresentCount} fields, {device.Reading.ProcessCount} processes{(off.Length > 0 ? $", unsupported: {string.Join(", ", off)}" : "")}");
            }

            // Warm-up: every variant, until the JIT has settled (tiered compilation, PGO).
            var warm = Stopwatch.StartNew();
            long warmSamples = 0;
            while (warm.Elapsed < settings.Warmup)
            {
                ct.ThrowIfCancellationRequested();
                for (var i = 0; i < 50; i++)
                {
                    bench.Raw.SampleAll();
                    bench.Binding();
                    bench.Collector();
                }
                warmSamples += 50;
            }
            context.Log($"warm-up: {warmSamples} samples per variant in {warm.Elapsed.TotalSeconds:0.0}s");

            // Calls per sample, counted by the fake, for the binding and for the raw loop: they must match.
            var n = settings.Samples;
            var before = counts.Snapshot();
            for (var i = 0; i < n; i++) bench.Binding();
            var bindingCalls = FakeCallCounts.Difference(before, counts.Snapshot());
            before = counts.Snapshot();
            for (var i = 0; i < n; i++) bench.Raw.SampleAll();
            var rawCalls = FakeCallCounts.Difference(before, counts.Snapshot());
            var callsPerSample = bindingCalls.Values.Sum(v => (double)v) / n;
            var rawCallsPerSample = rawCalls.Values.Sum(v => (double)v) / n;
            context.Log($"NVML calls per {Gpus}-GPU sample (binding): {string.Join(", ", bindingCalls.OrderByDescending(c => c.Value).Select(c => $"{c.Key} {c.Value / (double)n:0.##}"))}");
            context.Check(bindingCalls.Count == rawCalls.Count && bindingCalls.All(c => rawCalls.GetValueOrDefault(c.Key) == c.Value),
                $"the raw loop does not make the binding's calls: binding {callsPerSample:0.##} per sample, raw {rawCallsPerSample:0.##} per sample; raw: {string.Join(", ", rawCalls.Select(c => $"{c.Key} {c.Value / (double)n:0.##}"))}");

            // Timed rounds, the variants interleaved (and their order rotated) so that drift hits all three alike.
            List<double> rawUs = [], bindingUs = [], collectorUs = [];
            var order = new (List<double> Into, Action Sample)[] { (rawUs, bench.Raw.SampleAll), (bindingUs, bench.Binding), (collectorUs, bench.Collector) };
            for (var round = 0; round < settings.Rounds; round++)
            {
                for (var k = 0; k < order.Length; k++)
                {
                    ct.ThrowIfCancellationRequested();
                    var (into, sample) = order[(round + k) % order.Length];
                    var clock = Stopwatch.GetTimestamp();
                    for (var i = 0; i < n; i++) sample();
                    into.Add(Stopwatch.GetElapsedTime(clock).TotalMicroseconds / n);
                }
            }

            // Allocations on this thread per sample, after warm-up (the binding's promise is zero).
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < n; i++) bench.Binding();
            var bindingBytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n;
            allocated = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < n; i++) bench.Collector();
            var collectorBytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n;
            allocated = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < n; i++) bench.Raw.SampleAll();
            var rawBytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)n;
            context.Log($"allocated per sample: raw {rawBytes:0.#} B, binding {bindingBytes:0.#} B, binding + conversion {collectorBytes:0.#} B; {bench.MetricSamples / (double)bench.CollectorSamples:0.#} metric samples per sample");

            context.Check(bench.Failures == 0 && raw.Failures == 0, $"failed NVML answers: {bench.Failures} in the samplers, {raw.Failures} in the raw loop");
            context.Check(bindingBytes == 0, $"the binding allocated {bindingBytes:0.#} bytes per {Gpus}-GPU sample; it must allocate nothing per tick");

            var f = context.Figures;
            f.Spread(SampleMicroseconds, collectorUs, "us");
            f.Spread(BindingSampleMicroseconds, bindingUs, "us");
            f.Spread(RawCallsMicroseconds, rawUs, "us");
            var median = (Collector: Figures.Median(collectorUs), Binding: Figures.Median(bindingUs), Raw: Figures.Median(rawUs));
            f.Ratio(Ratio, median.Collector, median.Raw);
            f.Ratio(BindingRatio, median.Binding, median.Raw);
            f.Report(CallsPerSample, callsPerSample, "calls");
            f.Report(RawNanosecondsPerCall, median.Raw * 1000 / rawCallsPerSample, "ns");
            f.Report(MetricSamplesPerSample, bench.MetricSamples / (double)bench.CollectorSamples, "samples");
            f.Report(AllocatedBytesPerSample, bindingBytes, "bytes");
            f.Report(CollectorAllocatedBytesPerSample, collectorBytes, "bytes");
            f.Report(TelegrafReference, Figures.Format(TelegrafNvidiaSmi8GpuMicroseconds), "us (published, not measured here)");
            context.Log($"checksum {raw.Sink + bench.Sink:0}");
        }
        finally
        {
            session.Release();
            control.Reset();
        }
    }

    private sealed record Settings(int Rounds, int Samples, TimeSpan Warmup);

    private sealed record BindingDevice(NvmlDeviceSampler Sampler, GpuReading Reading);

    private sealed record CollectorDevice(NvmlDeviceSampler Sampler, GpuReading Reading, GpuSampleConverter Converter, ProcessJobLabels JobLabels)
    {
        /// <summary>Samples the last tick produced: the next builder's capacity, as GpuDeviceActor sizes it.</summary>
        public int LastCount { get; set; }
    }

    /// <summary>The three ways of taking one full sample of every device.</summary>
    private sealed class Variants(BindingDevice[] binding, CollectorDevice[] collector)
    {
        public RawNvmlCalls Raw { get; set; } = null!;

        public long Failures { get; private set; }

        public long MetricSamples { get; private set; }

        public long CollectorSamples { get; private set; }

        public double Sink { get; private set; }

        /// <summary>The binding alone: each device's sampler into its reused reading.</summary>
        public void Binding()
        {
            foreach (var device in binding)
            {
                if (device.Sampler.Sample(device.Reading) != NvmlReturn.Success) Failures++;
            }
        }

        /// <summary>
        /// What GpuDeviceActor does per device and tick, less the actor messages and the status
        /// record: sample, convert into a builder sized from the last tick, sweep the job-label cache, hand the array over (no copy once sized).
        /// </summary>
        public void Collector()
        {
            long produced = 0;
            foreach (var device in collector)
            {
                var samples = ImmutableArray.CreateBuilder<MetricSample>(Math.Max(device.LastCount, 8));
                if (device.Sampler.Sample(device.Reading) == NvmlReturn.Success) device.Converter.Convert(device.Reading, samples);
                else
                {
                    Failures++;
                    samples.Add(device.Converter.Down(device.Reading.Timestamp));
                }
                device.JobLabels.Sweep();
                device.LastCount = samples.Count;
                var drained = samples.Count == samples.Capacity ? samples.MoveToImmutable() : samples.DrainToImmutable();
                produced += drained.Length;
                Sink += drained[^1].Value;
            }
            MetricSamples += produced;
            CollectorSamples++;
        }
    }
}
