using Tracelet.Abstractions;
using Tracelet.Backends.Console;
using Xunit;

namespace Tracelet.Backends.Tests.Console;

public sealed class ConsoleBackendSpec
{
    private readonly ManualTimeProvider _time = new(Samples.T0);
    private readonly StringWriter _out = new();

    private async Task<ConsoleBackend> Started(string config)
    {
        var backend = new ConsoleBackend(_out, _time);
        await backend.InitializeAsync(Samples.Context("/nonexistent", config), CancellationToken.None);
        await backend.StartAsync(CancellationToken.None);
        return backend;
    }

    private static MetricBatch Batch(string source, params MetricSample[] samples) => new("node-a", source, [.. samples]);

    [Fact]
    public async Task Batches_within_an_interval_update_the_table_but_print_it_only_once_per_interval()
    {
        var backend = await Started("""{ "interval": "5s" }""");
        await backend.WriteAsync(Batch("system", Samples.System("process.uptime", 1)), CancellationToken.None);
        for (var i = 0; i < 100; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10));
            await backend.WriteAsync(Batch("system", Samples.System("process.uptime", 2 + i)), CancellationToken.None);
        }
        Assert.Equal(1L, backend.GetStatus()["tables_printed"]);
        _time.Advance(TimeSpan.FromSeconds(5));
        await backend.WriteAsync(Batch("system", Samples.System("process.uptime", 4000)), CancellationToken.None);

        var text = _out.ToString();
        Assert.Equal(2L, backend.GetStatus()["tables_printed"]);
        Assert.Contains("1h06m40s", text, StringComparison.Ordinal); // the latest value, as a duration
        Assert.DoesNotContain("101 s", text, StringComparison.Ordinal); // values between tables are not printed
    }

    [Fact]
    public async Task Values_are_grouped_by_source_and_formatted_by_unit()
    {
        var backend = await Started("{}");
        await backend.WriteAsync(Batch("gpu",
            Samples.System("gpu.utilization", 0.875, new MetricLabel("gpu", "0"), new MetricLabel("uuid", "GPU-00000000-0000-4000-8000-000000000000")),
            Samples.System("gpu.memory.used", 3.5 * (1L << 30), new MetricLabel("gpu", "0"))), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        var lines = _out.ToString().Split('\n');
        Assert.Contains(lines, l => l == "node-a/system"); // grouped by node and the samples' source
        var util = Assert.Single(lines, l => l.Contains("gpu.utilization", StringComparison.Ordinal));
        Assert.EndsWith("87.5 %", util, StringComparison.Ordinal);
        Assert.Contains("uuid=GPU-0000…0000", util, StringComparison.Ordinal);
        Assert.EndsWith("3.5 GiB", Assert.Single(lines, l => l.Contains("gpu.memory.used", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', _out.ToString()); // not a terminal: no ANSI
    }

    [Fact]
    public async Task The_filter_and_max_lines_keep_the_table_short_and_say_what_is_hidden()
    {
        var backend = await Started("""{ "filter": ["gpu.*"], "max-lines": 3 }""");
        var samples = Enumerable.Range(0, 5).Select(i => Samples.System("gpu.temperature", 40 + i, new MetricLabel("gpu", $"{i}")))
            .Append(Samples.System("system.cpu.utilization", 0.5)).ToArray();
        await backend.WriteAsync(Batch("gpu", samples), CancellationToken.None);

        var text = _out.ToString();
        Assert.DoesNotContain("system.cpu", text, StringComparison.Ordinal);
        Assert.Contains("40 °C", text, StringComparison.Ordinal);
        Assert.Contains("(+3 more series", text, StringComparison.Ordinal);
        Assert.Equal(1L, backend.GetStatus()["filtered_out_samples"]);
    }

    [Fact]
    public async Task The_same_labels_in_another_order_are_one_row()
    {
        var backend = await Started("{}");
        await backend.WriteAsync(Batch("gpu", Samples.System("gpu.utilization", 0.5, new MetricLabel("gpu", "0"), new MetricLabel("uuid", "u0"))), CancellationToken.None);
        await backend.WriteAsync(Batch("gpu", Samples.System("gpu.utilization", 0.75, new MetricLabel("uuid", "u0"), new MetricLabel("gpu", "0"))), CancellationToken.None);
        Assert.Equal(1, backend.GetStatus()["series"]);
    }

    [Fact]
    public async Task Series_beyond_the_cap_are_counted_not_kept()
    {
        var backend = await Started("""{ "max-series": 2 }""");
        await backend.WriteAsync(Batch("gpu", [.. Enumerable.Range(0, 5).Select(i => Samples.System($"m{i}", i))]), CancellationToken.None);
        var status = backend.GetStatus();
        Assert.Equal(2, status["series"]);
        Assert.Equal(3L, status["series_overflow_samples"]);
    }

    [Fact]
    public async Task Newlines_and_escape_sequences_in_labels_and_text_cannot_garble_the_terminal()
    {
        var backend = await Started("""{ "color": "always" }""");
        await backend.WriteAsync(Batch("experiment",
            Samples.Scalar("loss", 0.25, 1, new MetricLabel("note", "two\nlines")),
            new MetricSample("log", MetricType.Text, double.NaN, Samples.T0, "experiment", Text: "evil\u001b[2Jclear")), CancellationToken.None);

        var text = _out.ToString();
        Assert.Contains("note=two\\nlines", text, StringComparison.Ordinal);
        Assert.Contains("evil\\u001b[2Jclear", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[2J", text, StringComparison.Ordinal);
        Assert.Contains("\u001b[1m", text, StringComparison.Ordinal); // color = always styles the header
    }
}
