using System.CommandLine;
using Tracelet.Testing;

namespace Tracelet.Bench.Recovery;

/// <summary>
/// `recovery`: how fast the PluginManager's journal writes on the node's SQLite file, how long the
/// real node takes to start, and how long it takes to come back — with the same plugin states —
/// after a SIGKILL. Baselines: raw SQLite inserts, and the start of a trivial .NET program.
/// </summary>
internal sealed class RecoveryBenchmark : IBenchmark
{
    private readonly Option<string?> _nodeDll = new("--node-dll")
    {
        Description = "The node to start (default: src/Tracelet.Node/bin/<configuration>/<tfm>/Tracelet.Node.dll, built with the bench)",
    };

    private readonly Option<int> _repeat = new("--repeat")
    {
        Description = "Node starts and restarts to take the median of",
        DefaultValueFactory = _ => 3,
    };

    private readonly Option<double> _journalSeconds = new("--journal-seconds")
    {
        Description = "Seconds of sequential Persist (PersistAll and the raw rollback-journal inserts get half)",
        DefaultValueFactory = _ => 5,
    };

    public string Name => "recovery";

    public string Description => "Journal events/s on SQLite (vs raw inserts), node start-up and restart-after-SIGKILL times (vs .NET process start).";

    public IReadOnlyList<Option> Options => [_nodeDll, _repeat, _journalSeconds];

    public async Task RunAsync(BenchContext context, ParseResult parse)
    {
        var nodeDll = Path.GetFullPath(parse.GetValue(_nodeDll) ?? NodeBuild.NodeDll);
        if (!File.Exists(nodeDll))
            throw new FileNotFoundException($"{nodeDll} is missing: build it with `dotnet build -c Release src/Tracelet.Node`, or pass --node-dll", nodeDll);
        var repeat = Math.Clamp(parse.GetValue(_repeat), 1, 9);
        var journal = TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(_journalSeconds), 0.5, 20));
        context.Log($"node: {NodeBuild.DotnetHost} {nodeDll}");

        await JournalThroughput.RunAsync(context, journal);
        await NodeRestarts.RunAsync(context, nodeDll, repeat);
    }
}
