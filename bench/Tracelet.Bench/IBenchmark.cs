using System.CommandLine;

namespace Tracelet.Bench;

/// <summary>One named benchmark: a subcommand of the bench program.</summary>
internal interface IBenchmark
{
    /// <summary>The subcommand name (docs/benchmarks.md has a section per name).</summary>
    string Name { get; }

    /// <summary>One line for --help.</summary>
    string Description { get; }

    /// <summary>Options of this benchmark, beside the common ones (--time-limit).</summary>
    IReadOnlyList<Option> Options { get; }

    /// <summary>
    /// Runs the benchmark and reports its figures through <see cref="BenchContext.Figures"/>.
    /// Everything it starts (processes, temp folders) is registered with the context, which
    /// cleans up after it, on failure too.
    /// </summary>
    Task RunAsync(BenchContext context, ParseResult parse);
}
