using Prometheus;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Prometheus;

/// <summary>
/// The samples one prometheus backend exposes: a prometheus-net registry of gauges, one series
/// per (name, node, source, labels), each removed once it has not been updated for
/// <c>stale-after</c>. Written by the plugin's actor and read by scrapes on HTTP threads, so the
/// series bookkeeping is guarded by one lock (the plugin runtime's one-call-at-a-time rule does
/// not cover scrapes).
/// </summary>
internal sealed class PrometheusExposition
{
    /// <summary>The label holding <see cref="MetricBatch.SourceNode"/>.</summary>
    public const string NodeLabel = "node";

    /// <summary>The label holding <see cref="MetricSample.Source"/>, the collector's name.</summary>
    public const string SourceLabel = "source";

    /// <summary>How many collisions are listed in status by name (all are counted).</summary>
    private const int ListedCollisions = 20;

    /// <summary>Caches of sanitised names stop growing here (names beyond it are sanitised each time).</summary>
    private const int NameCacheLimit = 10_000;

    private readonly object _gate = new();
    private readonly TimeProvider _clock;
    private readonly MetricFactory _factory;
    private readonly string _prefix;
    private readonly TimeSpan _staleAfter;
    private readonly int _maxSeries;
    private readonly int _maxFamilies;

    private readonly Dictionary<string, string> _metricNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _labelNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _familyOwners = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Gauge> _gauges = new(StringComparer.Ordinal);
    private readonly Dictionary<Gauge.Child, long> _lastUpdated = new(ReferenceEqualityComparer.Instance);
    private readonly List<string> _collisionList = [];
    private readonly HashSet<string> _collidedNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _problems = new(StringComparer.Ordinal);
    private readonly List<Gauge.Child> _expiredScratch = [];
    private long _lastSweep;

    /// <param name="maxFamilies">
    /// prometheus-net cannot remove a metric family from a registry, so a family outlives its last
    /// series (an empty family prints only its HELP/TYPE lines); this cap is what bounds memory when
    /// metric names churn (per-epoch or per-layer names).
    /// </param>
    public PrometheusExposition(string prefix, TimeSpan staleAfter, int maxSeries, TimeProvider clock, int maxFamilies = 10_000)
    {
        _maxFamilies = maxFamilies;
        _prefix = prefix;
        _staleAfter = staleAfter;
        _maxSeries = maxSeries;
        _clock = clock;
        Registry = Metrics.NewCustomRegistry();
        _factory = Metrics.WithCustomRegistry(Registry);
        // Every scrape first drops the series that went stale, so Prometheus never sees them again.
        Registry.AddBeforeCollectCallback(ExpireStale);
        _lastSweep = clock.GetTimestamp();
    }

    /// <summary>The prometheus-net registry that the scrape endpoints serialise.</summary>
    public CollectorRegistry Registry { get; }

    public long SamplesExposed { get; private set; }
    public long TextSkipped { get; private set; }
    public long Collisions { get; private set; }
    public long LabelCollisions { get; private set; }
    public long NonFinite { get; private set; }
    public long LabelValuesWithNewlines { get; private set; }
    public long SeriesRefused { get; private set; }
    public long SeriesExpired { get; private set; }
    public long FamiliesRefused { get; private set; }

    /// <summary>Series currently exposed.</summary>
    public int Series
    {
        get
        {
            lock (_gate) return _lastUpdated.Count;
        }
    }

    /// <summary>Metric families (Prometheus names) created so far.</summary>
    public int Families
    {
        get
        {
            lock (_gate) return _familyOwners.Count;
        }
    }

    /// <summary>Up to 20 collisions, each naming both Tracelet names and the Prometheus name.</summary>
    public string[] CollisionList
    {
        get
        {
            lock (_gate) return [.. _collisionList];
        }
    }

    /// <summary>The latest message per kind of problem (collision, non_finite, text, ...).</summary>
    public Dictionary<string, string> Problems
    {
        get
        {
            lock (_gate) return new Dictionary<string, string>(_problems, StringComparer.Ordinal);
        }
    }

    /// <summary>Sets one gauge per numeric sample of the batch; counts what it cannot expose and why.</summary>
    public void Add(MetricBatch batch)
    {
        lock (_gate)
        {
            var now = _clock.GetTimestamp();
            foreach (ref readonly var sample in batch.Samples.AsSpan())
                Add(batch.SourceNode, in sample, now);
            if (_clock.GetElapsedTime(_lastSweep, now) >= SweepEvery) ExpireStaleLocked(now);
        }
    }

    /// <summary>Without scrapes, writes still sweep now and then, so that memory stays bounded.</summary>
    private TimeSpan SweepEvery => _staleAfter < TimeSpan.FromSeconds(10) ? _staleAfter : TimeSpan.FromSeconds(10);

    private void Add(string node, in MetricSample sample, long now)
    {
        if (sample.Text is not null)
        {
            TextSkipped++;
            Note("text", $"'{sample.Name}' from {sample.Source} carries text, not a number: not exposed");
            return;
        }

        var name = MetricName(sample.Name);
        if (!_familyOwners.TryGetValue(name, out var owner))
        {
            if (_lastUpdated.Count >= _maxSeries)
            {
                RefuseSeries(sample.Name);
                return;
            }
            if (_familyOwners.Count >= _maxFamilies)
            {
                FamiliesRefused++;
                Note("max_families", $"'{sample.Name}': {_maxFamilies} metric names are exposed already (max-families); samples of new names are not exposed");
                return;
            }
            _familyOwners.Add(name, owner = sample.Name);
        }
        if (!string.Equals(owner, sample.Name, StringComparison.Ordinal))
        {
            Collide(sample.Name, owner, name);
            return;
        }

        var (labelNames, labelValues) = Labels(node, in sample);
        var gauge = Gauge(name, sample.Name, labelNames);
        var child = gauge.WithLabels(labelValues);
        if (!_lastUpdated.ContainsKey(child) && _lastUpdated.Count >= _maxSeries)
        {
            child.Remove(); // never published: SuppressInitialValue keeps it out until Set
            RefuseSeries(sample.Name);
            return;
        }
        child.Set(sample.Value);
        _lastUpdated[child] = now;
        SamplesExposed++;
        if (!double.IsFinite(sample.Value))
        {
            NonFinite++;
            var value = double.IsNaN(sample.Value) ? "NaN" : sample.Value > 0 ? "+Inf" : "-Inf";
            Note("non_finite", $"'{sample.Name}' from {sample.Source} on {node} is {value}: exposed as such (Prometheus stores it as {value})");
        }
    }

    private (string[] Names, string[] Values) Labels(string node, in MetricSample sample)
    {
        var labels = sample.Labels.IsDefault ? [] : sample.Labels.AsSpan();
        var names = new string[2 + labels.Length];
        var values = new string[names.Length];
        names[0] = NodeLabel;
        values[0] = node;
        names[1] = SourceLabel;
        values[1] = sample.Source;
        var count = 2;
        foreach (ref readonly var label in labels)
        {
            var labelName = LabelName(label.Key);
            if (Array.IndexOf(names, labelName, 0, count) >= 0)
            {
                LabelCollisions++;
                Note("label_collision", $"'{sample.Name}' from {sample.Source}: label '{label.Key}' becomes '{labelName}', which the sample already has; the first one is kept");
                continue;
            }
            if (label.Value.Contains('\n'))
            {
                LabelValuesWithNewlines++;
                Note("label_newline", $"'{sample.Name}' from {sample.Source}: label '{label.Key}' holds a newline; exposed escaped as \\n");
            }
            names[count] = labelName;
            values[count] = label.Value;
            count++;
        }
        if (count < names.Length)
        {
            Array.Resize(ref names, count);
            Array.Resize(ref values, count);
        }
        // One order per label set, so that the same labels in another order reach the same series.
        Array.Sort(names, values, 2, count - 2, StringComparer.Ordinal);
        return (names, values);
    }

    private Gauge Gauge(string name, string traceletName, string[] labelNames)
    {
        // prometheus-net keeps one collector per label-name set inside a family, so samples of
        // one metric with different label keys become series of the same family.
        var key = string.Join('\n', labelNames.Prepend(name));
        if (_gauges.TryGetValue(key, out var gauge)) return gauge;
        gauge = _factory.CreateGauge(name, Help(traceletName), labelNames, new GaugeConfiguration { SuppressInitialValue = true });
        _gauges.Add(key, gauge);
        return gauge;
    }

    private void ExpireStale()
    {
        lock (_gate) ExpireStaleLocked(_clock.GetTimestamp());
    }

    private void ExpireStaleLocked(long now)
    {
        _lastSweep = now;
        foreach (var (child, updated) in _lastUpdated)
        {
            if (_clock.GetElapsedTime(updated, now) >= _staleAfter) _expiredScratch.Add(child);
        }
        foreach (var child in _expiredScratch)
        {
            child.Remove();
            _lastUpdated.Remove(child);
        }
        SeriesExpired += _expiredScratch.Count;
        _expiredScratch.Clear();
    }

    private void Collide(string name, string owner, string prometheusName)
    {
        Collisions++;
        var message = $"'{name}' and '{owner}' both become '{prometheusName}': '{owner}' came first and is exposed, '{name}' is not";
        if (_collidedNames.Count < NameCacheLimit && _collidedNames.Add(name) && _collisionList.Count < ListedCollisions)
            _collisionList.Add(message);
        Note("collision", message);
    }

    private void RefuseSeries(string name)
    {
        SeriesRefused++;
        Note("max_series", $"'{name}': {_maxSeries} series are exposed already (max-series); new series are not exposed until others go stale");
    }

    private void Note(string kind, string message) => _problems[kind] = message;

    private string MetricName(string name) => Cached(_metricNames, name, n => PrometheusNames.Metric(_prefix, n));

    private string LabelName(string key)
    {
        var name = Cached(_labelNames, key, PrometheusNames.Label);
        // Our own labels win; a sample's own node or source label is kept as exported_*, as Prometheus does on conflicts.
        return name is NodeLabel or SourceLabel ? "exported_" + name : name;
    }

    private static string Cached(Dictionary<string, string> cache, string key, Func<string, string> sanitize)
    {
        if (cache.TryGetValue(key, out var name)) return name;
        name = sanitize(key);
        if (cache.Count < NameCacheLimit) cache.Add(key, name);
        return name;
    }

    /// <summary>HELP names the Tracelet metric; prometheus-net writes help verbatim, so its two special characters are escaped here.</summary>
    private static string Help(string traceletName) =>
        "Tracelet metric " + traceletName.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
