using Tracelet.Abstractions;
using Tracelet.Backends.Console;
using Xunit;

namespace Tracelet.Backends.Tests.Console;

public sealed class ConsoleBackendSpec
{
    private readonly ManualTimeProvider _time = new(Samples.T0);
    private readonly StringWriter _out = new();

    private async Task<ConsoleBackend> Started(string config, ConsoleTerminal? terminal = null)
    {
        var backend = new ConsoleBackend(_out, _time, terminal);
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
        Assert.Contains("uuid=GPU-00000000…00000000000", util, StringComparison.Ordinal);
        Assert.EndsWith("3.5 GiB", Assert.Single(lines, l => l.Contains("gpu.memory.used", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', _out.ToString()); // not a terminal: no ANSI
    }

    [Fact]
    public async Task The_filter_and_max_lines_keep_the_table_short_and_say_what_is_hidden()
    {
        var backend = await Started("""{ "filter": ["gpu.*"], "max-lines": 5 }""");
        var samples = Enumerable.Range(0, 5).Select(i => Samples.System("gpu.temperature", 40 + i, new MetricLabel("gpu", $"{i}")))
            .Append(Samples.System("system.cpu.utilization", 0.5)).ToArray();
        await backend.WriteAsync(Batch("gpu", samples), CancellationToken.None);

        var text = _out.ToString();
        Assert.DoesNotContain("system.cpu", text, StringComparison.Ordinal);
        Assert.Contains("40 °C", text, StringComparison.Ordinal);
        Assert.Contains("+3 more: raise tracelet.plugins.console.config.max-lines or set a filter", text, StringComparison.Ordinal);
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

    [Fact]
    public async Task Raw_counters_and_rates_are_shown_with_their_units()
    {
        var backend = await Started("{}");
        await backend.WriteAsync(Batch("self", Samples.System("dotnet.gc.heap.total_allocated", 32429000)), CancellationToken.None);
        await backend.WriteAsync(Batch("system",
            Samples.System("system.cpu.context_switches", 4129.808),
            Samples.System("system.network.packet.count", 12.5, new MetricLabel("interface", "eth0")),
            Samples.System("system.disk.io", 3 * 1024 * 1024, new MetricLabel("device", "sda")),
            Samples.System("system.disk.io_time", 0.25, new MetricLabel("device", "sda")),
            Samples.System("system.memory.usage", 2.5 * (1L << 30), new MetricLabel("state", "used"))), CancellationToken.None);
        await backend.StopAsync(CancellationToken.None);

        var lines = _out.ToString().Split('\n');
        string Value(string name) => lines.Last(l => l.Contains(name + " ", StringComparison.Ordinal)).TrimEnd();
        Assert.EndsWith("30.9 MiB", Value("dotnet.gc.heap.total_allocated"), StringComparison.Ordinal);
        Assert.EndsWith("4.1 k/s", Value("system.cpu.context_switches"), StringComparison.Ordinal);
        Assert.EndsWith("13 /s", Value("system.network.packet.count"), StringComparison.Ordinal);
        Assert.EndsWith("3.0 MiB/s", Value("system.disk.io"), StringComparison.Ordinal);
        Assert.EndsWith("25.0 %", Value("system.disk.io_time"), StringComparison.Ordinal);
        Assert.EndsWith("2.5 GiB", Value("system.memory.usage"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task By_default_the_table_fits_the_terminal_and_its_hint_names_the_setting()
    {
        var backend = await Started("{}", new ConsoleTerminal(true, 80, 24));
        await backend.WriteAsync(Batch("system", [.. Enumerable.Range(0, 60).Select(i => Samples.System("system.cpu.utilization", 0.5, new MetricLabel("core", $"{i}")))]), CancellationToken.None);

        var lines = _out.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(21, lines.Length); // with the node's status line and the prompt, one 24-line screen
        Assert.Contains("more: raise tracelet.plugins.console.config.max-lines", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_a_pipe_the_default_table_is_a_short_block_of_plain_lines()
    {
        var backend = await Started("{}");
        await backend.WriteAsync(Batch("system", [.. Enumerable.Range(0, 60).Select(i => Samples.System("system.cpu.utilization", 0.5, new MetricLabel("core", $"{i}")))]), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        await backend.WriteAsync(Batch("system", Samples.System("system.cpu.utilization", 0.25, new MetricLabel("core", "0"))), CancellationToken.None);

        var text = _out.ToString();
        Assert.Equal(2 * 20, text.Count(c => c == '\n')); // two tables of 20 lines, the second below the first
        Assert.DoesNotContain('\u001b', text);
    }

    [Fact]
    public async Task On_a_terminal_each_table_replaces_the_previous_one_in_place()
    {
        var backend = await Started("""{ "color": "never" }""", new ConsoleTerminal(true, 80, 24));
        await backend.WriteAsync(Batch("system", Samples.System("process.uptime", 1), Samples.System("system.cpu.logical.count", 8)), CancellationToken.None);
        var first = _out.ToString();
        _time.Advance(TimeSpan.FromSeconds(5));
        await backend.WriteAsync(Batch("system", Samples.System("process.uptime", 6)), CancellationToken.None);

        var second = _out.ToString()[first.Length..];
        var firstLines = first.Count(c => c == '\n');
        Assert.StartsWith($"\u001b[{firstLines}F\u001b[J── tracelet", second, StringComparison.Ordinal); // cursor back over the table, cleared, redrawn
        Assert.DoesNotContain('\u001b', first);
    }

    [Fact]
    public void A_redraw_never_covers_a_line_someone_else_wrote_after_the_table()
    {
        var terminal = new StringWriter();
        var screen = new ConsoleScreen(terminal);
        screen.WriteTable("── t1 ──\n  a 1\n", 0);
        screen.WriteTable("── t2 ──\n  a 2\n", 2);
        Assert.EndsWith("\u001b[2F\u001b[J── t2 ──\n  a 2\n", terminal.ToString(), StringComparison.Ordinal);

        screen.WriteLine("[tracelet] node-a ready | 3 active, 0 errors");
        screen.WriteTable("── t3 ──\n  a 3\n", 2);
        Assert.EndsWith("[tracelet] node-a ready | 3 active, 0 errors" + Environment.NewLine + "── t3 ──\n  a 3\n", terminal.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(120)]
    [InlineData(80)]
    public async Task Every_line_fits_the_terminal_width_and_long_paths_lose_their_middle_not_their_end(int width)
    {
        var backend = await Started("""{ "color": "never" }""", new ConsoleTerminal(true, width, 24));
        await backend.WriteAsync(Batch("system",
            Samples.System("system.filesystem.utilization", 0.42, new MetricLabel("device", "/dev/mapper/ubuntu--vg-ubuntu--lv"),
                new MetricLabel("mountpoint", "/var/lib/docker/overlay2/3f1e2d4c5b6a/merged"), new MetricLabel("type", "ext4"))), CancellationToken.None);

        var lines = _out.ToString().TrimEnd('\n').Split('\n');
        Assert.All(lines, l => Assert.True(l.Length <= width, $"{l.Length} > {width}: {l}"));
        var row = Assert.Single(lines, l => l.Contains("system.filesystem.utilization", StringComparison.Ordinal));
        Assert.EndsWith("42.0 %", row, StringComparison.Ordinal);
        Assert.Contains("mountpoint=/", row, StringComparison.Ordinal); // each key keeps its own value
        if (width >= 120) Assert.Contains("mountpoint=/var/lib/…/merged", row, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/var/lib/docker/overlay2/3f1e2d4c5b6a/merged", 24, "/var/lib/…/merged")]
    [InlineData("/home/alice/runs/2026-12-03/checkpoints/last.pt", 30, "/home/alice/…/last.pt")]
    [InlineData("GPU-00000000-0000-4000-8000-000000000000", 17, "GPU-0000…00000000")]
    [InlineData("short", 10, "short")]
    public void Long_values_are_shortened_in_the_middle(string value, int width, string expected)
    {
        var shortened = ConsoleTable.ElideMiddle(value, width);
        Assert.Equal(expected, shortened);
        Assert.True(shortened.Length <= width);
    }
}
