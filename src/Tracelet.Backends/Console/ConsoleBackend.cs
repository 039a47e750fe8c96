using System.Globalization;
using System.Text;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Console;

/// <summary>
/// Prints each batch as one compact line (time, node, source, name=value ...), for a person
/// watching a node at the terminal.
/// </summary>
public sealed class ConsoleBackend : BackendPlugin
{
    private TextWriter _out = System.Console.Out;
    private int _maxSamples;
    private long _lines;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("console", "1.0.0", PluginType.Backend)
    {
        Description = "One compact line per batch on standard output",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "max-samples-per-line": { "type": "integer", "minimum": 1, "maximum": 1000 }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <summary>Redirects output (tests).</summary>
    public TextWriter Output
    {
        get => _out;
        set => _out = value;
    }

    /// <inheritdoc />
    public override ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        _maxSamples = (int)context.Config.GetInt64("max-samples-per-line", 8);
        return base.InitializeAsync(context, cancellationToken);
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var line = Format(batch, _maxSamples);
        await _out.WriteLineAsync(line.AsMemory(), cancellationToken).ConfigureAwait(false);
        _lines++;
    }

    /// <summary>The line printed for a batch.</summary>
    public static string Format(MetricBatch batch, int maxSamples)
    {
        var sb = new StringBuilder();
        var first = batch.Samples.IsEmpty ? DateTimeOffset.UtcNow : batch.Samples[0].Timestamp;
        sb.Append(first.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture))
          .Append(' ').Append(batch.SourceNode).Append('/').Append(batch.Source);
        foreach (var s in batch.Samples.Take(maxSamples))
        {
            sb.Append("  ").Append(s.Name).Append('=');
            sb.Append(s.Text ?? Number(s.Value));
            if (!s.Labels.IsDefaultOrEmpty)
                sb.Append('{').AppendJoin(',', s.Labels.Select(l => $"{l.Key}={l.Value}")).Append('}');
        }
        if (batch.Samples.Length > maxSamples) sb.Append("  (+").Append(batch.Samples.Length - maxSamples).Append(" more)");
        return sb.ToString();
    }

    private static string Number(double v) =>
        v.ToString(Math.Abs(v) >= 1e15 ? "0.###e0" : "0.###", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?> { ["lines"] = _lines };
}
