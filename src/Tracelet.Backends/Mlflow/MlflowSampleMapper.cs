using System.Globalization;
using System.Text;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Mlflow;

/// <summary>
/// Maps samples to MLflow entities as the Python Tracelet's MLflow backend does: scalars become
/// metrics, parameters become params (values truncated), every other type but artifacts becomes a
/// <c>custom.*</c> tag. System samples become metrics under <c>system/&lt;node&gt;/</c>, where
/// MLflow's UI shows its own system metrics.
/// </summary>
internal sealed class MlflowSampleMapper(MlflowLimits limits, int maxRememberedParams = 10_000)
{
    private readonly Dictionary<string, string> _paramsSent = new(StringComparer.Ordinal);

    public List<MlflowMetric> Metrics { get; } = [];
    public List<MlflowKeyValue> Params { get; } = [];
    public List<MlflowKeyValue> Tags { get; } = [];

    /// <summary>Entities refused before sending, with the last reason.</summary>
    public long Refused { get; private set; }
    public string? LastRefusal { get; private set; }

    /// <summary>Values cut to MLflow's length limits.</summary>
    public long Truncated { get; private set; }

    public void Map(MetricBatch batch)
    {
        Metrics.Clear();
        Params.Clear();
        Tags.Clear();
        var batchParams = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in batch.Samples)
        {
            switch (s.Type)
            {
                case MetricType.Scalar:
                    Metrics.Add(new MlflowMetric(Key(WithLabels(CleanName(s.Source, s.Name, stripExperimentPrefix: true), s)), s.Value, s.Timestamp.ToUnixTimeMilliseconds(), s.Step ?? 0));
                    break;
                case MetricType.System:
                    Metrics.Add(new MlflowMetric(Key(WithLabels($"system/{batch.SourceNode}/{s.Name}", s)), s.Value, s.Timestamp.ToUnixTimeMilliseconds(), s.Step ?? 0));
                    break;
                case MetricType.Parameter:
                    AddParam(Key(CleanName(s.Source, s.Name, stripExperimentPrefix: true)), ValueText(s), batchParams);
                    break;
                case MetricType.Artifact:
                    // Refused by CanHandle already (the runtime counts them); here only for completeness.
                    Refuse($"artifact '{s.Name}': uploading artifacts is not supported by this backend");
                    break;
                default:
                    // The Python backend strips only a bare "experiment" source on this path.
                    var name = s.Source == "experiment" ? s.Name : $"{s.Source}.{s.Name}";
                    Tags.Add(new MlflowKeyValue(Key("custom." + name), Cut(ValueText(s), limits.MaxTagValueLength)));
                    break;
            }
        }
        foreach (var (key, value) in batchParams)
        {
            Params.Add(new MlflowKeyValue(key, value));
            if (_paramsSent.Count < maxRememberedParams) _paramsSent[key] = value;
        }
    }

    /// <summary>Forgets a param so that it is sent again (after the server refused it).</summary>
    public void ForgetParam(string key) => _paramsSent.Remove(key);

    private void AddParam(string key, string value, Dictionary<string, string> batchParams)
    {
        value = Cut(value, limits.MaxParamValueLength);
        // MLflow refuses to change a param once logged; resending the same value is idempotent but wasted.
        var known = _paramsSent.TryGetValue(key, out var sent) ? sent : batchParams.GetValueOrDefault(key);
        if (known is null) batchParams[key] = value;
        else if (known != value) Refuse($"param '{key}': MLflow params cannot change (logged '{Cut(known, 60)}', now '{Cut(value, 60)}')");
    }

    private void Refuse(string reason)
    {
        Refused++;
        LastRefusal = reason;
    }

    /// <summary>The Python backend's clean name: the bare name for the experiment's own samples, else <c>source.name</c>.</summary>
    private static string CleanName(string source, string name, bool stripExperimentPrefix) =>
        string.IsNullOrEmpty(source) || source == "experiment" || (stripExperimentPrefix && source.StartsWith("experiment_", StringComparison.Ordinal))
            ? name
            : $"{source}.{name}";

    /// <summary>Labels make series distinct in Tracelet; MLflow has none, so they become path segments (<c>gpu.utilization/gpu_0</c>).</summary>
    private static string WithLabels(string key, in MetricSample s)
    {
        if (s.Labels.IsDefaultOrEmpty) return key;
        var sb = new StringBuilder(key);
        foreach (var l in s.Labels) sb.Append('/').Append(l.Key).Append('_').Append(l.Value);
        return sb.ToString();
    }

    private static string ValueText(in MetricSample s) => s.Text ?? s.Value.ToString("R", CultureInfo.InvariantCulture);

    private string Cut(string value, int max)
    {
        if (value.Length <= max) return value;
        Truncated++;
        return string.Concat(value.AsSpan(0, max - 3), "...");
    }

    /// <summary>
    /// MLflow keys allow letters, digits, '_', '-', '.', ' ' and '/', and must be a normalized path
    /// (no empty, "." or ".." segments, no leading or trailing '/'): anything else becomes '_'.
    /// </summary>
    internal string Key(string raw)
    {
        var sb = new StringBuilder(raw.Length);
        foreach (var c in raw)
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ' ' or '/' ? c : '_');
        var segments = sb.ToString().Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(seg => seg is "." or ".." ? "_" : seg);
        var key = string.Join('/', segments);
        if (key.Length == 0) key = "_";
        return key.Length <= limits.MaxKeyLength ? key : key[..limits.MaxKeyLength].TrimEnd('/');
    }
}
