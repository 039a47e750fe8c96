using System.Diagnostics;
using System.Globalization;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

namespace Tracelet.GpuCheck;

/// <summary>
/// Our sample beside <c>nvidia-smi --query-gpu=... --format=csv,noheader,nounits</c>, field by
/// field: static facts must be equal; live values (utilization, power, clocks...) are shown with a
/// tolerance, since the two reads are a moment apart.
/// </summary>
internal static class SmiComparison
{
    private const double MiB = 1024 * 1024;

    private enum Kind { Exact, Near, Shown }

    // nvidia-smi field, how to read ours, how strictly they must agree (tolerance in the field's unit, or a fraction when < 1 for Near).
    private static readonly (string Field, Func<NvmlGpu, GpuReading, string?> Ours, Kind Kind, double Tolerance)[] Rows =
    [
        ("index", (g, _) => g.Index.ToString(CultureInfo.InvariantCulture), Kind.Exact, 0),
        ("uuid", (g, _) => g.Uuid, Kind.Exact, 0),
        ("name", (g, _) => g.Name, Kind.Exact, 0),
        ("pci.bus_id", (g, _) => g.PciBusId, Kind.Exact, 0),
        ("utilization.gpu", (_, r) => Num(r, GpuField.UtilizationGpuPercent), Kind.Near, 15),
        ("utilization.memory", (_, r) => Num(r, GpuField.UtilizationMemoryPercent), Kind.Near, 15),
        ("memory.total", (_, r) => Num(r, GpuField.MemoryTotalBytes, 1 / MiB), Kind.Near, 1),
        ("memory.reserved", (_, r) => Num(r, GpuField.MemoryReservedBytes, 1 / MiB), Kind.Near, 1),
        ("memory.used", (_, r) => Num(r, GpuField.MemoryUsedBytes, 1 / MiB), Kind.Near, 64),
        ("memory.free", (_, r) => Num(r, GpuField.MemoryFreeBytes, 1 / MiB), Kind.Near, 64),
        ("temperature.gpu", (_, r) => Num(r, GpuField.TemperatureCelsius), Kind.Near, 3),
        ("temperature.memory", (_, r) => Num(r, GpuField.MemoryTemperatureCelsius), Kind.Near, 3),
        ("power.draw", (_, r) => Num(r, GpuField.PowerUsageMilliwatts, 0.001), Kind.Shown, 0),
        ("power.draw.average", (_, r) => Num(r, GpuField.PowerUsageMilliwatts, 0.001), Kind.Near, 30),
        ("enforced.power.limit", (_, r) => Num(r, GpuField.PowerLimitMilliwatts, 0.001), Kind.Near, 1),
        ("clocks.sm", (_, r) => Num(r, GpuField.ClockSmMegahertz), Kind.Shown, 0),
        ("clocks.mem", (_, r) => Num(r, GpuField.ClockMemoryMegahertz), Kind.Near, 50),
        ("clocks.gr", (_, r) => Num(r, GpuField.ClockGraphicsMegahertz), Kind.Shown, 0),
        ("clocks.max.sm", (_, r) => Num(r, GpuField.ClockSmMaxMegahertz), Kind.Near, 0.5),
        ("clocks.max.mem", (_, r) => Num(r, GpuField.ClockMemoryMaxMegahertz), Kind.Near, 0.5),
        ("clocks.max.gr", (_, r) => Num(r, GpuField.ClockGraphicsMaxMegahertz), Kind.Near, 0.5),
        ("fan.speed", (_, r) => Num(r, GpuField.FanSpeedPercent), Kind.Near, 5),
        ("pstate", (_, r) => r.Has(GpuField.PerformanceState) ? $"P{r[GpuField.PerformanceState]}" : null, Kind.Shown, 0),
        ("pcie.link.gen.current", (_, r) => Num(r, GpuField.PcieLinkGeneration), Kind.Near, 0.5),
        ("pcie.link.width.current", (_, r) => Num(r, GpuField.PcieLinkWidth), Kind.Near, 0.5),
        ("ecc.errors.corrected.volatile.total", (_, r) => Num(r, GpuField.EccCorrectedVolatile), Kind.Near, 0.5),
        ("ecc.errors.uncorrected.volatile.total", (_, r) => Num(r, GpuField.EccUncorrectedVolatile), Kind.Near, 0.5),
        ("ecc.errors.corrected.aggregate.total", (_, r) => Num(r, GpuField.EccCorrectedAggregate), Kind.Near, 0.5),
        ("ecc.errors.uncorrected.aggregate.total", (_, r) => Num(r, GpuField.EccUncorrectedAggregate), Kind.Near, 0.5),
        ("clocks_event_reasons.active", (_, r) => r.Has(GpuField.ClockEventReasons) ? $"0x{(ulong)r[GpuField.ClockEventReasons]:X16}" : null, Kind.Shown, 0),
        ("mig.mode.current", (g, _) => g.MigDevices.Count > 0 ? "Enabled" : "Disabled (or no MIG devices)", Kind.Shown, 0),
    ];

    public static void Run(NvmlLibrary library, NvmlInventory inventory, CheckRunner runner)
    {
        if (!Exists("nvidia-smi"))
        {
            runner.Check("nvidia-smi comparison", () => throw new InvalidOperationException("nvidia-smi is not on PATH"));
            return;
        }
        foreach (var gpu in inventory.Gpus)
        {
            var smi = Query(gpu.Index, Rows.Select(r => r.Field).ToArray());
            var sampler = new NvmlDeviceSampler(library, gpu.Handle, new GpuSamplerOptions());
            var reading = new GpuReading();
            sampler.Sample(reading);

            Console.WriteLine();
            Console.WriteLine($"## gpu {gpu.Index}: nvidia-smi --query-gpu vs Tracelet (nounits: MiB, W, MHz, %, C)");
            Console.WriteLine($"| {"field",-40} | {"nvidia-smi",-42} | {"tracelet",-42} | verdict |");
            Console.WriteLine($"|{new string('-', 42)}|{new string('-', 44)}|{new string('-', 44)}|---------|");
            var disagreements = new List<string>();
            foreach (var (field, ours, kind, tolerance) in Rows)
            {
                var theirs = smi.GetValueOrDefault(field) ?? "(field unknown to this nvidia-smi)";
                var mine = ours(gpu, reading);
                var verdict = Verdict(theirs, mine, kind, tolerance);
                if (verdict == "DIFFERS") disagreements.Add(field);
                Console.WriteLine($"| {field,-40} | {Trim(theirs),-42} | {Trim(mine ?? "(absent)"),-42} | {verdict,-7} |");
            }
            var apps = Run("nvidia-smi", $"--query-compute-apps=gpu_uuid,pid,used_memory --format=csv,noheader,nounits");
            Console.WriteLine($"# nvidia-smi compute apps: {apps.Output.Trim().Replace('\n', ';')}");
            Console.WriteLine($"# tracelet processes: {string.Join("; ", reading.Processes.Take(reading.ProcessCount).Select(p => $"{p.Pid}, {(p.UsedGpuMemoryBytes == NvmlProcessInfo.NotAvailable ? "n/a" : (p.UsedGpuMemoryBytes / MiB).ToString("F0", CultureInfo.InvariantCulture))} MiB"))}");
            runner.Check($"gpu {gpu.Index} agrees with nvidia-smi", () =>
            {
                CheckRunner.That(disagreements.Count == 0, $"differs on {string.Join(", ", disagreements)}");
                return $"{Rows.Length} fields compared";
            });
        }
    }

    private static string? Num(GpuReading r, GpuField f, double scale = 1) =>
        r.TryGet(f, out var v) ? (v * scale).ToString("0.##", CultureInfo.InvariantCulture) : null;

    private static string Trim(string s) => s.Length <= 42 ? s : s[..39] + "...";

    private static string Verdict(string theirs, string? mine, Kind kind, double tolerance)
    {
        var smiAbsent = theirs.StartsWith('[') || theirs.StartsWith('(') || theirs.Equals("N/A", StringComparison.OrdinalIgnoreCase);
        if (mine is null) return smiAbsent ? "both n/a" : kind == Kind.Shown ? "shown" : "DIFFERS";
        if (smiAbsent) return "smi n/a";
        if (kind == Kind.Shown) return "shown";
        if (kind == Kind.Exact) return string.Equals(theirs.Trim(), mine, StringComparison.Ordinal) ? "equal" : "DIFFERS";
        if (!double.TryParse(theirs, NumberStyles.Float, CultureInfo.InvariantCulture, out var a) || !double.TryParse(mine, NumberStyles.Float, CultureInfo.InvariantCulture, out var b))
            return string.Equals(theirs.Trim(), mine, StringComparison.Ordinal) ? "equal" : "DIFFERS";
        if (a == b) return "equal";
        return Math.Abs(a - b) <= tolerance ? "near" : "DIFFERS";
    }

    /// <summary>Asks for every field at once; an nvidia-smi that rejects one field rejects the query, so fall back to one field at a time.</summary>
    private static Dictionary<string, string> Query(uint index, string[] fields)
    {
        var all = Run("nvidia-smi", $"--id={index} --query-gpu={string.Join(",", fields)} --format=csv,noheader,nounits");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (all.ExitCode == 0)
        {
            var values = all.Output.Trim().Split(", ");
            if (values.Length == fields.Length)
            {
                for (var i = 0; i < fields.Length; i++) result[fields[i]] = values[i].Trim();
                return result;
            }
        }
        foreach (var field in fields)
        {
            var one = Run("nvidia-smi", $"--id={index} --query-gpu={field} --format=csv,noheader,nounits");
            result[field] = one.ExitCode == 0 ? one.Output.Trim() : $"(not a field here: {one.Output.Trim().Split('\n')[0]})";
        }
        return result;
    }

    private static (int ExitCode, string Output) Run(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    private static bool Exists(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, name)));
}
