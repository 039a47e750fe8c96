namespace Tracelet.Backends.Mlflow;

/// <summary>A metric as runs/log-batch takes it: timestamp in Unix milliseconds.</summary>
internal readonly record struct MlflowMetric(string Key, double Value, long Timestamp, long Step);

/// <summary>A param or a tag: a key and a string value.</summary>
internal readonly record struct MlflowKeyValue(string Key, string Value);

/// <summary>One runs/log-batch request's worth of entities.</summary>
internal sealed record MlflowBatch(IReadOnlyList<MlflowMetric> Metrics, IReadOnlyList<MlflowKeyValue> Params, IReadOnlyList<MlflowKeyValue> Tags)
{
    public int Count => Metrics.Count + Params.Count + Tags.Count;
}
