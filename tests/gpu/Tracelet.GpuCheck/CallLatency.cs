using System.Diagnostics;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

namespace Tracelet.GpuCheck;

/// <summary>Microseconds per NVML call on the real driver (reference/nvml.md §6 item 3): what a sample really costs.</summary>
internal static class CallLatency
{
    public static void Run(NvmlLibrary lib, NvmlInventory inventory)
    {
        foreach (var gpu in inventory.Gpus)
        {
            var d = gpu.Handle;
            Console.WriteLine();
            Console.WriteLine($"## gpu {gpu.Index}: microseconds per call (median of batches)");
            Measure("GetHandleByIndex_v2", 200, () => lib.TryGetHandleByIndex(gpu.Index, out _));
            Measure("GetUtilizationRates", 200, () => lib.TryGetUtilization(d, out _));
            Measure("GetMemoryInfo_v2", 200, () => lib.TryGetMemory(d, out _));
            Measure("GetTemperature(V)", 200, () => lib.TryGetTemperature(d, out _));
            Measure("GetPowerUsage", 200, () => lib.TryGetPowerUsage(d, out _));
            Measure("GetTotalEnergyConsumption", 200, () => lib.TryGetTotalEnergy(d, out _));
            Measure("GetClockInfo(SM)", 200, () => lib.TryGetClock(d, NvmlClockType.Sm, out _));
            Measure("GetCurrentClocksEventReasons", 200, () => lib.TryGetClockEventReasons(d, out _));
            Measure("GetPcieThroughput(TX)", 10, () => lib.TryGetPcieThroughput(d, NvmlPcieCounter.TxBytes, out _));
            Measure("GetTotalEccErrors", 200, () => lib.TryGetEccErrors(d, NvmlMemoryErrorType.Corrected, NvmlEccCounterType.Volatile, out _));
            Measure("GetRemappedRows", 200, () => lib.TryGetRemappedRows(d, out _));
            var processes = new NvmlProcessInfo[64];
            Measure("GetComputeRunningProcesses_v3", 200, () => lib.TryGetComputeProcesses(d, processes, out _));
            var one = new NvmlFieldValue[1];
            Measure("GetFieldValues(FI 83 energy)", 50, () =>
            {
                one[0] = new NvmlFieldValue { FieldId = NvmlFieldId.TotalEnergyConsumption };
                return lib.TryGetFieldValues(d, one);
            });
            Measure("GetFieldValues(FI 82 mem temp)", 200, () =>
            {
                one[0] = new NvmlFieldValue { FieldId = NvmlFieldId.MemoryTemperature };
                return lib.TryGetFieldValues(d, one);
            });
            var noPcie = new NvmlDeviceSampler(lib, d, new GpuSamplerOptions(PcieThroughput: false));
            var reading = new GpuReading();
            Measure("full sample, PCIe throughput off", 20, () => noPcie.Sample(reading));
            var fields = new NvmlFieldValue[8];
            Measure("GetFieldValues(8 entries)", 200, () =>
            {
                for (var i = 0; i < fields.Length; i++) fields[i] = new NvmlFieldValue { FieldId = NvmlFieldId.NvLinkThroughputDataTx, ScopeId = (uint)i };
                return lib.TryGetFieldValues(d, fields);
            });
        }
    }

    private static void Measure(string name, int calls, Func<NvmlReturn> call)
    {
        var first = call();
        var batches = new List<double>();
        for (var b = 0; b < 5; b++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < calls / 5 + 1; i++) call();
            batches.Add(watch.Elapsed.TotalMicroseconds / (calls / 5 + 1));
        }
        batches.Sort();
        Console.WriteLine($"| {name,-32} | {batches[2],10:F1} us | {first} |");
    }
}
