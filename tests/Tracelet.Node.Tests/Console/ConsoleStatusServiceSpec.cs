using System.Collections.Immutable;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Tracelet.Node.Console;
using Xunit;

namespace Tracelet.Node.Tests.Console;

/// <summary>The node's lines at the terminal: starting, ready, the status line, the stop lines.</summary>
public sealed class ConsoleStatusServiceSpec
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    private static PluginStatusEntry Entry(PluginStatusState state, string? error = null, int restarts = 0, PluginRetry? retry = null) =>
        new(state, PluginType.Collector, "1.0.0", error, null, null, restarts, Now, "builtin", retry);

    private static NodePluginStatus Status(bool ready, params (string Name, PluginStatusEntry Entry)[] plugins) =>
        NodePluginStatus.Create("node-a", ready, plugins.ToImmutableSortedDictionary(p => p.Name, p => p.Entry, StringComparer.Ordinal), []);

    private static (string, PluginStatusEntry)[] WithOff(int off, params (string, PluginStatusEntry)[] plugins) =>
        [.. plugins, .. Enumerable.Range(0, off).Select(i => ($"discovered-plugin-{i:00}", Entry(PluginStatusState.Discovered)))];

    [Fact]
    public void Plugins_merely_discovered_are_one_word_not_a_list()
    {
        var line = ConsoleStatusService.Format(Status(true, WithOff(12,
            ("console", Entry(PluginStatusState.Active)), ("heartbeat", Entry(PluginStatusState.Active)), ("system", Entry(PluginStatusState.Active)))), 200, Now);

        Assert.Equal("[tracelet] node-a ready | 3 active, 0 errors, 12 off | console=active heartbeat=active system=active", line);
    }

    [Fact]
    public void The_status_line_never_wraps_what_does_not_fit_is_counted()
    {
        var active = Enumerable.Range(0, 20).Select(i => ($"collector-number-{i:00}", Entry(PluginStatusState.Active))).ToArray();
        var line = ConsoleStatusService.Format(Status(true, WithOff(5, active)), 80, Now);

        Assert.True(line.Length <= 80, $"{line.Length}: {line}");
        Assert.DoesNotContain('\n', line);
        Assert.Matches(@" \+\d+ more$", line);
        Assert.StartsWith("[tracelet] node-a ready | 20 active, 0 errors, 5 off |", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_follow_one_line_each_within_the_width()
    {
        var text = ConsoleStatusService.Format(Status(true,
            ("gpu", Entry(PluginStatusState.Error, "NVML not available: " + new string('x', 300))),
            ("heartbeat", Entry(PluginStatusState.Active))), 100, Now);

        var lines = text.Split(Environment.NewLine);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("[tracelet]   gpu: NVML not available: ", lines[1], StringComparison.Ordinal);
        Assert.All(lines, l => Assert.True(l.Length <= 100, l));
    }

    [Fact]
    public void Before_ready_the_node_says_starting_and_where_the_API_will_be_not_a_timeout()
    {
        var settings = new NodeSettings("127.0.0.1", 8558, "", true, TimeSpan.FromSeconds(5), "127.0.0.1", 0, [], []);
        Assert.Equal("[tracelet] starting… (the API will answer on http://127.0.0.1:8558 once the plugins are up)", ConsoleStatusService.StartingLine(settings));
        var line = ConsoleStatusService.Format(Status(false, ("heartbeat", Entry(PluginStatusState.Initialized))), 200, Now);
        Assert.StartsWith("[tracelet] node-a starting… |", line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_ready_line_gives_the_API_address_and_the_main_URLs()
    {
        Assert.Equal(
            "[tracelet] ready: node node-a, API on http://127.0.0.1:8558 (curl http://127.0.0.1:8558/status, http://127.0.0.1:8558/metrics, http://127.0.0.1:8558/query) · Ctrl-C stops",
            ConsoleStatusService.ReadyLine("node-a", "http://127.0.0.1:8558"));
    }
}
