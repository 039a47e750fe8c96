using System.CommandLine;

namespace Tracelet.Bench;

/// <summary>Turns an <see cref="IBenchmark"/> into a subcommand with the common options, a time limit and cleanup.</summary>
internal static class BenchmarkCommand
{
    /// <summary>Each benchmark must finish well under 3 minutes (DESIGN.md §10).</summary>
    private const int DefaultTimeLimitSeconds = 170;

    public static Command Create(IBenchmark benchmark)
    {
        var timeLimit = new Option<int>("--time-limit")
        {
            Description = "Seconds after which the benchmark is stopped (and its processes killed)",
            DefaultValueFactory = _ => DefaultTimeLimitSeconds,
        };
        var command = new Command(benchmark.Name, benchmark.Description) { timeLimit };
        foreach (var option in benchmark.Options) command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            limit.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(timeLimit)));
            await using var context = new BenchContext(Console.Out, Console.Error, limit.Token);
            try
            {
                context.Log($"{benchmark.Name}: {Environment.ProcessorCount} cores, .NET {Environment.Version}, time limit {parse.GetValue(timeLimit)}s");
                await benchmark.RunAsync(context, parse);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested)
            {
                context.Log(cancellation.IsCancellationRequested ? "interrupted" : $"stopped: over the time limit of {parse.GetValue(timeLimit)}s");
                return 1;
            }
            catch (Exception e)
            {
                context.Log($"failed: {e}");
                return 1;
            }
            return context.ChecksFailed ? 3 : 0;
        });
        return command;
    }
}
