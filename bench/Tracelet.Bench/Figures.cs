using System.Globalization;

namespace Tracelet.Bench;

/// <summary>
/// Prints figures, one per line, as <c>&lt;figure&gt;: &lt;value&gt; &lt;unit&gt;</c> (DESIGN.md §10), so that
/// scripts can grep them. Names and units are constants of the benchmark that reports them.
/// </summary>
internal sealed class Figures(TextWriter output)
{
    /// <summary>The unit of a ratio (ours / baseline).</summary>
    public const string RatioUnit = "x";

    public void Report(string figure, double value, string unit) => Report(figure, Format(value), unit);

    public void Report(string figure, string value, string unit)
    {
        output.WriteLine($"{figure}: {value} {unit}");
        output.Flush();
    }

    /// <summary>Reports ours / baseline, or "n/a" when the baseline is zero or missing.</summary>
    public void Ratio(string figure, double ours, double baseline)
    {
        if (baseline > 0 && double.IsFinite(ours)) Report(figure, (ours / baseline).ToString("0.00", CultureInfo.InvariantCulture), RatioUnit);
        else Report(figure, "n/a", RatioUnit);
    }

    /// <summary>Median, min and max of repeated measurements: <c>figure</c>, <c>figure.min</c>, <c>figure.max</c>.</summary>
    public void Spread(string figure, IReadOnlyCollection<double> values, string unit)
    {
        if (values.Count == 0)
        {
            Report(figure, "n/a", unit);
            return;
        }
        Report(figure, Median(values), unit);
        Report(figure + ".min", values.Min(), unit);
        Report(figure + ".max", values.Max(), unit);
    }

    public static double Median(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Three significant figures at most below 100, whole numbers above.</summary>
    public static string Format(double value) =>
        !double.IsFinite(value) ? "n/a"
        : Math.Abs(value) >= 100 ? value.ToString("0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 10 ? value.ToString("0.0", CultureInfo.InvariantCulture)
        : value.ToString("0.00", CultureInfo.InvariantCulture);
}
