namespace Tracelet.Backends.Mlflow;

/// <summary>Splits entities into requests within the per-kind, total and size limits, keeping each kind in order.</summary>
internal static class MlflowBatchSplitter
{
    public static List<MlflowBatch> Split(IReadOnlyList<MlflowMetric> metrics, IReadOnlyList<MlflowKeyValue> parameters, IReadOnlyList<MlflowKeyValue> tags, MlflowLimits limits)
    {
        var result = new List<MlflowBatch>();
        var m = new List<MlflowMetric>();
        var p = new List<MlflowKeyValue>();
        var t = new List<MlflowKeyValue>();
        var bytes = 0;

        void Close()
        {
            if (m.Count + p.Count + t.Count == 0) return;
            result.Add(new MlflowBatch(m, p, t));
            m = [];
            p = [];
            t = [];
            bytes = 0;
        }

        bool Full(int kindCount, int kindLimit, int size) =>
            kindCount >= kindLimit || m.Count + p.Count + t.Count >= limits.MaxEntitiesPerBatch || bytes + size > limits.MaxRequestBytes;

        // Params and tags first: they are few, and a run's params are best known before its metrics.
        foreach (var x in parameters)
        {
            var size = Size(x);
            if (Full(p.Count, limits.MaxParamsPerBatch, size)) Close();
            p.Add(x);
            bytes += size;
        }
        foreach (var x in tags)
        {
            var size = Size(x);
            if (Full(t.Count, limits.MaxTagsPerBatch, size)) Close();
            t.Add(x);
            bytes += size;
        }
        foreach (var x in metrics)
        {
            var size = x.Key.Length * 6 + 96;
            if (Full(m.Count, limits.MaxMetricsPerBatch, size)) Close();
            m.Add(x);
            bytes += size;
        }
        Close();
        return result;
    }

    /// <summary>An upper bound of the entity's JSON size (a \uXXXX escape is the longest form of one UTF-16 char).</summary>
    private static int Size(MlflowKeyValue x) => (x.Key.Length + x.Value.Length) * 6 + 32;
}
