using Xunit;

namespace Tracelet.Cli.Tests;

public sealed class CliUsageSpec
{
    [Theory]
    [InlineData("frobnicate")]
    [InlineData("plugin", "stop")]
    [InlineData("plugin", "pause", "sql")]
    [InlineData("plugin", "stop", "sql", "--node", "node-b", "--all")]
    [InlineData("status", "--timeout", "soon")]
    [InlineData("status", "--url", "not a url")]
    [InlineData("watch", "--count", "0")]
    public async Task A_usage_error_exits_2_with_a_message_and_sends_nothing(params string[] args)
    {
        using var node = new ContractNode();
        var withUrl = args.Contains("--url") ? args : [.. args, "--url", node.Url];

        var run = await CliRun.RunAsync(withUrl);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error: ", run.Err, StringComparison.Ordinal);
        Assert.Empty(node.Requests);
    }

    [Theory]
    [InlineData("tracelet status [options]", "status", "--frob")]
    [InlineData("tracelet status [options]", "--frob", "status")]
    [InlineData("tracelet plugin stop <NAME> [options]", "plugin", "stop", "--bogus")]
    [InlineData("tracelet plugin stop <NAME> [options]", "plugin", "stop", "sql", "--bogus")]
    public async Task An_unknown_flag_exits_2_with_the_usage_of_its_command_and_sends_nothing(string usage, params string[] args)
    {
        using var node = new ContractNode();

        var run = await CliRun.RunAsync([.. args, "--url", node.Url]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("error: ", run.Err);
        Assert.Contains("--", run.Err.Split('\n')[0]);
        Assert.Contains($"usage: {usage}\n", run.Err.ReplaceLineEndings("\n"));
        Assert.Empty(node.Requests);
    }

    [Fact]
    public async Task Help_exits_0_and_lists_the_commands()
    {
        var run = await CliRun.RunAsync("--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var command in new[] { "status", "plugins", "plugin", "watch" }) Assert.Contains(command, run.Out);
    }
}
