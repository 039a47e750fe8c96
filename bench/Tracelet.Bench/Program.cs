using System.CommandLine;
using Tracelet.Bench;
using Tracelet.Bench.Cluster;
using Tracelet.Bench.Collectors;
using Tracelet.Bench.Nvml;
using Tracelet.Bench.Pipeline;
using Tracelet.Bench.Prometheus;
using Tracelet.Bench.Recovery;
using Tracelet.Bench.Sql;

// One named benchmark per run: `dotnet run -c Release --project bench/Tracelet.Bench -- <name>`.
// Figures go to stdout as `<figure>: <value> <unit>`, progress to stderr (lines starting with '#').
// Exit codes: 0 all figures printed; 1 the benchmark failed, ran out of time or was interrupted;
// 3 figures printed, but a correctness check the benchmark makes on the way failed.
// To add a benchmark: one class implementing IBenchmark, in its own folder, listed here.
IBenchmark[] benchmarks =
[
    new RecoveryBenchmark(),
    new NvmlBenchmark(),
    new PipelineBenchmark(),
    new SqlBenchmark(),
    new PrometheusBenchmark(),
    new CollectorsBenchmark(),
    new ClusterBenchmark(),
];

var root = new RootCommand("Tracelet benchmarks: runs one named benchmark and prints its figures beside baselines measured in the same run.");
foreach (var benchmark in benchmarks) root.Subcommands.Add(BenchmarkCommand.Create(benchmark));

// The baseline for process start-up: `dotnet Tracelet.Bench.dll noop` starts the runtime, parses
// the command line and exits.
var noop = new Command("noop", "Does nothing and exits 0: the .NET process start-up baseline.");
noop.SetAction(_ => 0);
root.Subcommands.Add(noop);

// On Ctrl+C or SIGTERM the action's token is cancelled; give it time to kill the nodes it started.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(20) });
