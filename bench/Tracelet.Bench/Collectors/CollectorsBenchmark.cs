using System.CommandLine;
using Tracelet.Testing;

namespace Tracelet.Bench.Collectors;

/// <summary>
/// `collectors`: what the system collector costs, in process (one full sample on this machine's
/// /proc, against reading the same files' bytes) and in a running node (CPU and RSS with the
/// collector at 1 s and the jsonl and console backends, against the same node with only the heartbeat).
/// </summary>
internal sealed class CollectorsBenchmark : IBenchmark
{
    private readonly Option<int> _rounds = new("--rounds")
    {
        Description = "Timed rounds of in-process samples (figures are the median over rounds)",
        DefaultValueFactory = _ => 9,
    };

    private readonly Option<int> _samples = new("--samples")
    {
        Description = "Full system samples per round",
        DefaultValueFactory = _ => 1000,
    };

    private readonly Option<int> _seconds = new("--seconds")
    {
        Description = "How long the two nodes are measured side by side (0: skip the node figures)",
        DefaultValueFactory = _ => 60,
    };

    private readonly Option<int> _settleSeconds = new("--settle-seconds")
    {
        Description = "Seconds the nodes run after they are ready before the window starts",
        DefaultValueFactory = _ => 20,
    };

    private readonly Option<string?> _nodeDll = new("--node-dll")
    {
        Description = "The node to run (default: the one built beside this bench)",
    };

    public string Name => "collectors";

    public string Description => "The system collector: cost of one full sample in process, and a node's CPU and RSS with it at 1 s against a heartbeat-only node.";

    public IReadOnlyList<Option> Options => [_rounds, _samples, _seconds, _settleSeconds, _nodeDll];

    public async Task RunAsync(BenchContext context, ParseResult parse)
    {
        await SystemSampleCost.RunAsync(context, Math.Clamp(parse.GetValue(_rounds), 3, 101), Math.Clamp(parse.GetValue(_samples), 10, 100_000));

        var seconds = Math.Clamp(parse.GetValue(_seconds), 0, 120);
        if (seconds == 0) return;
        var nodeDll = Path.GetFullPath(parse.GetValue(_nodeDll) ?? NodeBuild.NodeDll);
        if (!File.Exists(nodeDll))
            throw new FileNotFoundException($"{nodeDll} is missing: build it with `dotnet build -c Release src/Tracelet.Node`, or pass --node-dll", nodeDll);
        await NodeCost.RunAsync(context, nodeDll, TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(_settleSeconds), 0, 60)), TimeSpan.FromSeconds(seconds));
    }
}
