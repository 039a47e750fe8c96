using Tracelet.Abstractions;

namespace Tracelet.Backends.Console;

/// <summary>
/// A live view for a person at the terminal: every <c>interval</c>, a compact table of the latest
/// value of each series, grouped by node and source, with units. On a terminal it fits the window
/// and is redrawn in place; on a pipe it is a short block of plain lines. Batches only update a
/// bounded map of latest values; the table is written in one piece so the node's status line never
/// lands inside it.
/// </summary>
public sealed class ConsoleBackend : BackendPlugin
{
    private readonly TimeProvider _time;
    private readonly TextWriter? _output;
    private ConsoleTerminal? _terminal;
    private ConsoleScreen? _screen;
    private int _previousLines;
    private LatestValues _latest = new(1, []);
    private TimeSpan _interval;
    private int _maxLines;
    private bool _ansi;
    private DateTimeOffset? _lastRender;
    private long _renders;
    private bool _changedSinceRender;
    private long _samples;
    private string? _lastError;

    /// <summary>Writes to standard output (what the runtime uses).</summary>
    public ConsoleBackend() : this(null, TimeProvider.System) { }

    /// <summary>Writes to <paramref name="output"/> on the given clock, as if to <paramref name="terminal"/> (tests); null means standard output as it is.</summary>
    internal ConsoleBackend(TextWriter? output, TimeProvider time, ConsoleTerminal? terminal = null)
    {
        _output = output;
        _time = time;
        _terminal = terminal;
    }

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("console", "2.0.0", PluginType.Backend)
    {
        Description = "A compact table of the latest value per series on standard output, every interval",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "how often the table is printed (default 5s)" },
                "max-lines": { "type": "integer", "minimum": 1, "maximum": 10000, "description": "lines per table (default: the terminal's height less 3; 20 when piped)" },
                "max-series": { "type": "integer", "minimum": 1, "maximum": 1000000, "description": "series remembered; samples of further series are counted (default 5000)" },
                "filter": {
                  "description": "name patterns with * and ? (\"gpu.*\"); only matching series are shown",
                  "oneOf": [ { "type": "string", "minLength": 1 }, { "type": "array", "items": { "type": "string", "minLength": 1 } } ]
                },
                "color": { "enum": ["auto", "always", "never"], "description": "ANSI styling: auto = only on a terminal and without NO_COLOR" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    public override ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        var config = context.Config;
        _interval = config.GetDuration("interval", TimeSpan.FromSeconds(5));
        if (_interval <= TimeSpan.Zero) throw new ArgumentException($"config key 'interval' must be positive, got {_interval}");
        _terminal ??= _output is null ? ConsoleTerminal.Detect() : ConsoleTerminal.Piped;
        _maxLines = (int)config.GetInt64("max-lines", _terminal.DefaultMaxLines);
        var filters = config.Root.TryGetProperty("filter", out var f)
            ? f.ValueKind == System.Text.Json.JsonValueKind.Array ? f.EnumerateArray().Select(e => e.GetString()!).ToList() : [f.GetString()!]
            : new List<string>();
        _latest = new LatestValues((int)config.GetInt64("max-series", 5000), filters);
        _ansi = config.GetString("color", "auto") switch
        {
            "always" => true,
            "never" => false,
            // Redirected output (a log file, journald) gets plain lines.
            _ => _terminal.IsTerminal && Environment.GetEnvironmentVariable("NO_COLOR") is null or "",
        };
        return base.InitializeAsync(context, cancellationToken);
    }

    /// <inheritdoc />
    public override ValueTask StartAsync(CancellationToken cancellationToken)
    {
        // On a real terminal, standard output is watched so a redraw never covers a line someone else wrote.
        if (_output is null && _terminal is { IsTerminal: true } && _screen is null)
        {
            _screen = new ConsoleScreen(System.Console.Out);
            System.Console.SetOut(_screen);
        }
        return base.StartAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _latest.Add(batch, now);
        _samples += batch.Samples.Length;
        _changedSinceRender = true;
        if (_lastRender is { } last && now - last < _interval) return;
        await RenderAsync(now, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        // The last values seen are printed once more, so a stop does not hide up to an interval of data.
        if (_changedSinceRender)
            await RenderAsync(_time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (_screen is not null)
        {
            if (ReferenceEquals(System.Console.Out, _screen)) System.Console.SetOut(_screen.Inner);
            _screen = null;
        }
    }

    private async ValueTask RenderAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        _lastRender = now;
        _changedSinceRender = false;
        // Series silent for three intervals are gone (a process ended, a GPU was lost) and leave the table.
        _latest.ForgetOlderThan(now - 3 * _interval);
        // A resized window gets a table of its new size at the next interval.
        var terminal = _output is null && _terminal is { IsTerminal: true } ? (_terminal = ConsoleTerminal.Detect()) : _terminal ?? ConsoleTerminal.Piped;
        var text = ConsoleTable.Render(_latest, now, _maxLines, terminal.Width, _ansi);
        // On a terminal the table replaces the previous one (cursor up, clear); a pipe gets plain lines.
        var previous = terminal.IsTerminal ? _previousLines : 0;
        try
        {
            // One write per table: standard output is synchronized, so the node's status line cannot split it.
            if (_screen is not null) _screen.WriteTable(text, previous);
            else if (_output is not null) await _output.WriteAsync(ConsoleScreen.Redraw(text, previous, othersWrote: false).AsMemory(), cancellationToken).ConfigureAwait(false);
            else await System.Console.Out.WriteAsync(text.AsMemory(), cancellationToken).ConfigureAwait(false);
            _previousLines = ConsoleTable.LineCount(text);
            _renders++;
            _lastError = null;
        }
        catch (IOException e)
        {
            // A closed terminal must not fail the pipeline: the live view is best effort, and the error is shown in status.
            _lastError = $"{now:O} writing to the console: {e.Message}";
        }
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?>
        {
            ["series"] = _latest.Count,
            ["samples_seen"] = _samples,
            ["tables_printed"] = _renders,
            ["series_overflow_samples"] = _latest.Overflow,
            ["filtered_out_samples"] = _latest.FilteredOut,
        };
        if (_lastError is not null) status["last_error"] = _lastError;
        return status;
    }
}
