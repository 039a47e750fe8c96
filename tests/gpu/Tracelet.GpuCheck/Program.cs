using Tracelet.GpuCheck;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

// tests/gpu/check.sh runs this on a machine with an NVIDIA GPU. Exit code: 0 all checks passed,
// 1 a check failed, 2 no usable NVML (nothing to check).
var libraryPath = args.SkipWhile(a => a != "--library").Skip(1).FirstOrDefault();
var collectorSeconds = int.TryParse(args.SkipWhile(a => a != "--collector-seconds").Skip(1).FirstOrDefault(), out var s) ? s : 6;

var loaded = NvmlLibrary.Load(libraryPath);
if (loaded.Library is not { } library)
{
    Console.WriteLine($"NVML not available: {loaded.Error}");
    return 2;
}
// --allow-fake: exercise this program itself against the fake (no nvidia-smi there); never a GPU result.
if (library.IsFake && !args.Contains("--allow-fake"))
{
    Console.WriteLine($"{library.Path} is Tracelet's fake NVML: the GPU checks run only against a real driver");
    return 2;
}

var runner = new CheckRunner();
var session = NvmlSession.Open(library);
var inventory = session.Discover();
Console.WriteLine($"# NVML {(library.TryGetNvmlVersion(out var nv) == NvmlReturn.Success ? nv : "?")}, driver {inventory.DriverVersion}, CUDA {inventory.CudaDriverVersion}, library {library.Path}");
Console.WriteLine($"# resolved: {string.Join(", ", library.ResolvedVersions.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value ?? "-"}"))}");
foreach (var gpu in inventory.Gpus) Console.WriteLine($"# gpu {gpu.Index}: {gpu.Name} {gpu.Uuid} {gpu.PciBusId} mig devices: {gpu.MigDevices.Count}");
foreach (var failure in inventory.Failures) Console.WriteLine($"# gpu {failure.Index} not opened: {failure.Reason}");

var checks = new RealDriverChecks(library, session, inventory, runner);
checks.RunAll();
SmiComparison.Run(library, inventory, runner);
CallLatency.Run(library, inventory);
await CollectorRun.RunAsync(libraryPath ?? library.Path, library.IsFake, TimeSpan.FromSeconds(collectorSeconds), runner);

session.Release();
Console.WriteLine($"# {runner.Passes} passed, {runner.Failures} failed");
return runner.Failures == 0 ? 0 : 1;
