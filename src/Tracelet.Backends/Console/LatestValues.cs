using System.IO.Enumeration;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Console;

/// <summary>The latest value of each series, bounded: series beyond the cap are counted, not kept.</summary>
internal sealed class LatestValues(int maxSeries, IReadOnlyList<string> filters)
{
    private readonly Dictionary<SeriesKey, Latest> _series = [];

    public int Count => _series.Count;

    /// <summary>Samples of new series refused because the cap was reached.</summary>
    public long Overflow { get; private set; }

    /// <summary>Samples whose name matched no filter.</summary>
    public long FilteredOut { get; private set; }

    public void Add(MetricBatch batch, DateTimeOffset receivedAt)
    {
        foreach (var s in batch.Samples)
        {
            if (!Matches(s.Name))
            {
                FilteredOut++;
                continue;
            }
            var key = new SeriesKey(batch.SourceNode, s.Source, s.Name, s.Labels);
            if (!_series.ContainsKey(key) && _series.Count >= maxSeries)
            {
                Overflow++;
                continue;
            }
            _series[key] = new Latest(s.Value, s.Text, s.Timestamp, receivedAt);
        }
    }

    /// <summary>Forgets series not updated since <paramref name="cutoff"/>, so a gone GPU or process does not stay on screen.</summary>
    public void ForgetOlderThan(DateTimeOffset cutoff)
    {
        foreach (var (key, latest) in _series)
            if (latest.ReceivedAt < cutoff) _series.Remove(key);
    }

    public IEnumerable<KeyValuePair<SeriesKey, Latest>> Series => _series;

    private bool Matches(string name)
    {
        if (filters.Count == 0) return true;
        foreach (var f in filters)
            if (FileSystemName.MatchesSimpleExpression(f, name, ignoreCase: false)) return true;
        return false;
    }

    internal readonly record struct Latest(double Value, string? Text, DateTimeOffset Timestamp, DateTimeOffset ReceivedAt);
}
