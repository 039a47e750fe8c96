using System.Text;
using Tracelet.Collectors.Processes;
using Xunit;

namespace Tracelet.Collectors.Tests.Processes;

public sealed class ProcStatSpec
{
    private const string Tail = " S 1 4242 4242 0 -1 4194560 12345 0 0 0 250 50 0 0 20 0 7 0 987654 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    [Fact]
    public void A_command_with_spaces_and_parentheses_is_taken_up_to_the_last_parenthesis()
    {
        var line = Encoding.UTF8.GetBytes("4242 (my (odd) job ) x)" + Tail);

        Assert.True(ProcStat.TryParse(line, out var stat));

        Assert.Equal(4242, stat.Pid);
        Assert.Equal("my (odd) job ) x", Encoding.UTF8.GetString(line.AsSpan(stat.Command)));
        Assert.Equal(300UL, stat.CpuTicks); // utime 250 + stime 50
        Assert.Equal(7, stat.Threads);
        Assert.Equal(987654UL, stat.StartTime);
        Assert.Equal(2048, stat.RssPages);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("12 (cut) S 1 2 3")]
    [InlineData("x12 (bad pid)" + Tail)]
    [InlineData("12 (bad utime) S 1 4242 4242 0 -1 4194560 12345 0 0 0 lots 50 0 0 20 0 7 0 987654 1 2048\n")]
    public void A_malformed_line_is_refused(string text) =>
        Assert.False(ProcStat.TryParse(Encoding.UTF8.GetBytes(text), out _));
}
