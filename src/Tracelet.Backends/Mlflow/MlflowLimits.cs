namespace Tracelet.Backends.Mlflow;

/// <summary>
/// MLflow's documented limits for runs/log-batch and entity sizes. Param values: 6000 characters
/// since MLflow 2.x (500 on older servers; set <c>param-value-limit = 500</c> for those).
/// </summary>
internal sealed record MlflowLimits
{
    public int MaxMetricsPerBatch { get; init; } = 1000;
    public int MaxParamsPerBatch { get; init; } = 100;
    public int MaxTagsPerBatch { get; init; } = 100;
    public int MaxEntitiesPerBatch { get; init; } = 1000;

    /// <summary>The documented request limit is 1 MB; this leaves room for the JSON around the entities.</summary>
    public int MaxRequestBytes { get; init; } = 900_000;

    public int MaxKeyLength { get; init; } = 250;
    public int MaxParamValueLength { get; init; } = 6000;
    public int MaxTagValueLength { get; init; } = 5000;
}
