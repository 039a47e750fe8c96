using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Prometheus;
using Tracelet.Abstractions;
using Tracelet.Backends.Prometheus;

namespace Tracelet.Bench.Prometheus;

/// <summary>
/// `prometheus`: the cost of one scrape of a node with 8 GPUs × 40 metrics and 64 cores × 8
/// metrics (832 series) through the prometheus backend, and of writing one such round of samples.
/// Baseline: a bare prometheus-net registry holding the same 832 gauges, serialised the same way
/// (what the library costs without our bookkeeping and stale-series sweep).
/// </summary>
internal sealed class PrometheusBenchmark : IBenchmark
{
    public const string ScrapeMicroseconds = "prometheus.scrape_us";
    public const string BaselineScrapeMicroseconds = "prometheus.baseline_scrape_us";
    public const string Ratio = "prometheus.ratio";
    public const string ScrapeBytes = "prometheus.scrape_bytes";
    public const string ScrapeAllocatedBytes = "prometheus.scrape_allocated_bytes";
    public const string WriteMicrosecondsPerRound = "prometheus.write_832_samples_us";
    public const string Series = "prometheus.series";

    private const int Gpus = 8;
    private const int GpuMetrics = 40;
    private const int Cores = 64;
    private const int CoreMetrics = 8;

    private readonly Option<int> _rounds = new("--rounds")
    {
        Description = "Timed rounds; figures are the median over rounds",
        DefaultValueFactory = _ => 15,
    };

    private readonly Option<int> _scrapes = new("--scrapes")
    {
        Description = "Scrapes (and sample writes) per round",
        DefaultValueFactory = _ => 200,
    };

    public string Name => "prometheus";

    public string Description => "One scrape of 8 GPUs × 40 and 64 cores × 8 metrics through the prometheus backend vs a bare prometheus-net registry with the same gauges.";

    public IReadOnlyList<Option> Options => [_rounds, _scrapes];

    public async Task RunAsync(BenchContext context, ParseResult parse)
    {
        var rounds = Math.Clamp(parse.GetValue(_rounds), 3, 101);
        var scrapes = Math.Clamp(parse.GetValue(_scrapes), 10, 100_000);
        var ct = context.Cancellation;

        var batch = NodeRound();
        var exposition = new PrometheusExposition("", TimeSpan.FromMinutes(5), 100_000, TimeProvider.System);
        exposition.Add(batch);
        var baseline = Baseline(batch);
        using var buffer = new MemoryStream();

        // Warm-up, and the correctness check: both expose the same series.
        for (var i = 0; i < 50; i++)
        {
            await Scrape(exposition.Registry, buffer, ct);
            await Scrape(baseline, buffer, ct);
        }
        await Scrape(exposition.Registry, buffer, ct);
        var ours = Lines(buffer);
        var bytes = buffer.Length;
        await Scrape(baseline, buffer, ct);
        context.Check(exposition.Series == Gpus * GpuMetrics + Cores * CoreMetrics, $"{exposition.Series} series exposed, expected {Gpus * GpuMetrics + Cores * CoreMetrics}");
        context.Check(ours == Lines(buffer), $"the backend's scrape has {ours} sample lines, the baseline's {Lines(buffer)}");

        var scrapeUs = new List<double>();
        var baselineUs = new List<double>();
        var writeUs = new List<double>();
        long allocated = 0;
        for (var round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < scrapes; i++) exposition.Add(batch);
            writeUs.Add(clock.Elapsed.TotalMicroseconds / scrapes);

            var before = GC.GetAllocatedBytesForCurrentThread();
            clock.Restart();
            for (var i = 0; i < scrapes; i++) await Scrape(exposition.Registry, buffer, ct);
            scrapeUs.Add(clock.Elapsed.TotalMicroseconds / scrapes);
            allocated = (GC.GetAllocatedBytesForCurrentThread() - before) / scrapes;

            clock.Restart();
            for (var i = 0; i < scrapes; i++) await Scrape(baseline, buffer, ct);
            baselineUs.Add(clock.Elapsed.TotalMicroseconds / scrapes);
        }

        var f = context.Figures;
        f.Report(ScrapeMicroseconds, Figures.Median(scrapeUs), "us");
        f.Report(BaselineScrapeMicroseconds, Figures.Median(baselineUs), "us");
        f.Ratio(Ratio, Figures.Median(scrapeUs), Figures.Median(baselineUs));
        f.Report(ScrapeBytes, bytes, "bytes");
        f.Report(ScrapeAllocatedBytes, allocated, "bytes (approximate: async continuations may run on other threads)");
        f.Report(WriteMicrosecondsPerRound, Figures.Median(writeUs), "us");
        f.Report(Series, exposition.Series, "series");
    }

    private static async Task Scrape(CollectorRegistry registry, MemoryStream buffer, CancellationToken ct)
    {
        buffer.SetLength(0);
        await registry.CollectAndExportAsTextAsync(buffer, ct);
    }

    private static int Lines(MemoryStream buffer) =>
        System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length).Split('\n').Count(l => l.Length > 0 && l[0] != '#');

    /// <summary>One collection round of a big node: per-GPU metrics labelled by uuid and index, per-core ones by cpu.</summary>
    private static MetricBatch NodeRound()
    {
        var now = DateTimeOffset.UtcNow;
        var samples = new List<MetricSample>();
        for (var gpu = 0; gpu < Gpus; gpu++)
        {
            var index = gpu.ToString(CultureInfo.InvariantCulture);
            for (var m = 0; m < GpuMetrics; m++)
                samples.Add(new($"gpu.metric_{m}", MetricType.System, 1000.5 + m * gpu, now, "gpu", Labels: [new("gpu.uuid", $"GPU-{gpu:x8}-0000-0000-0000-000000000000"), new("gpu.index", index)]));
        }
        for (var core = 0; core < Cores; core++)
        {
            var cpu = core.ToString(CultureInfo.InvariantCulture);
            for (var m = 0; m < CoreMetrics; m++)
                samples.Add(new($"system.cpu.metric_{m}", MetricType.System, 0.25 * m, now, "system", Labels: [new("cpu", cpu)]));
        }
        return new MetricBatch("bench-node", "mixed", [.. samples]);
    }

    /// <summary>The same series in a bare prometheus-net registry, label names sorted as the backend sorts them.</summary>
    private static CollectorRegistry Baseline(MetricBatch batch)
    {
        var registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(registry);
        foreach (var s in batch.Samples)
        {
            var labels = s.Labels.OrderBy(l => l.Key.Replace('.', '_'), StringComparer.Ordinal).ToArray();
            var gauge = factory.CreateGauge(s.Name.Replace('.', '_'), "Tracelet metric " + s.Name, ["node", "source", .. labels.Select(l => l.Key.Replace('.', '_'))]);
            gauge.WithLabels(["bench-node", s.Source, .. labels.Select(l => l.Value)]).Set(s.Value);
        }
        return registry;
    }
}
