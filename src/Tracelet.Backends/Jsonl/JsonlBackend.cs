using System.Text.Json;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Jsonl;

/// <summary>
/// Appends one JSON object per sample to a file, flushed to disk before the write completes, so
/// that a crash loses nothing the backend acknowledged. Rotation comes with the backends issue.
/// </summary>
public sealed class JsonlBackend : BackendPlugin
{
    private FileStream? _file;
    private Utf8JsonWriter? _writer;
    private long _samples;
    private string _path = "";

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("jsonl", "1.0.0", PluginType.Backend)
    {
        Description = "One JSON object per sample, appended to a file and flushed per batch",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "path": { "type": "string", "minLength": 1, "description": "file to append to; default <data-dir>/jsonl/<node>.jsonl" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken).ConfigureAwait(false);
        _path = Path.GetFullPath(context.Config.GetString("path", Path.Combine(context.DataDirectory, "jsonl", $"{context.NodeId}.jsonl")));
    }

    /// <inheritdoc />
    public override ValueTask StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _writer = new Utf8JsonWriter(_file);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var writer = _writer ?? throw new InvalidOperationException("jsonl backend is not started");
        foreach (var s in batch.Samples)
        {
            writer.Reset(_file!);
            writer.WriteStartObject();
            writer.WriteString("ts", s.Timestamp);
            writer.WriteString("node", batch.SourceNode);
            writer.WriteString("source", s.Source);
            writer.WriteString("name", s.Name);
            writer.WriteString("type", s.Type.ToString().ToLowerInvariant());
            if (s.Text is not null) writer.WriteString("text", s.Text);
            else if (double.IsFinite(s.Value)) writer.WriteNumber("value", s.Value);
            else writer.WriteString("value", s.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (s.Step is { } step) writer.WriteNumber("step", step);
            if (!s.Labels.IsDefaultOrEmpty)
            {
                writer.WriteStartObject("labels");
                foreach (var l in s.Labels) writer.WriteString(l.Key, l.Value);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            _file!.WriteByte((byte)'\n');
        }
        await _file!.FlushAsync(cancellationToken).ConfigureAwait(false);
        _file.Flush(flushToDisk: true);
        _samples += batch.Samples.Length;
    }

    /// <inheritdoc />
    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        if (_writer is not null) await _writer.DisposeAsync().ConfigureAwait(false);
        if (_file is not null) await _file.DisposeAsync().ConfigureAwait(false);
        _writer = null;
        _file = null;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus() =>
        new Dictionary<string, object?> { ["path"] = _path, ["samples_written"] = _samples };
}
