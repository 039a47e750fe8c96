using System.Diagnostics;
using System.Globalization;
using Tracelet.Collectors.Gpu;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

namespace Tracelet.GpuCheck;

/// <summary>The binding against the real driver: what the fake-driven specs assume, checked where it matters.</summary>
internal sealed class RealDriverChecks(NvmlLibrary library, NvmlSession session, NvmlInventory inventory, CheckRunner runner)
{
    public void RunAll()
    {
        runner.Check("discovery", () =>
        {
            CheckRunner.That(inventory.Gpus.Count > 0, "no GPU found");
            foreach (var gpu in inventory.Gpus)
            {
                CheckRunner.That(gpu.Uuid.StartsWith("GPU-", StringComparison.Ordinal), $"uuid '{gpu.Uuid}'");
                CheckRunner.That(gpu.Name.Length > 0, "empty name");
                CheckRunner.That(System.Text.RegularExpressions.Regex.IsMatch(gpu.PciBusId, "^[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\\.[0-9]$"), $"bus id '{gpu.PciBusId}'");
            }
            return $"{inventory.Gpus.Count} GPU(s), driver {inventory.DriverVersion}";
        });

        runner.Check("error strings come from the driver", () =>
        {
            var lost = library.ErrorString(NvmlReturn.GpuIsLost);
            var unknown = library.ErrorString((NvmlReturn)1234);
            CheckRunner.That(lost == "GPU is lost", $"15 -> '{lost}'");
            return $"15 -> '{lost}', 1234 -> '{unknown}'";
        });

        foreach (var gpu in inventory.Gpus) CheckGpu(gpu);
    }

    private void CheckGpu(NvmlGpu gpu)
    {
        var d = gpu.Handle;
        var tag = $"gpu {gpu.Index}";

        runner.Check($"{tag} handle by uuid", () =>
        {
            var rc = library.TryGetHandleByUuid(gpu.Uuid, out var h);
            CheckRunner.That(rc == NvmlReturn.Success && h == d, $"{rc}, {h} vs {d}");
            return "same handle";
        });

        runner.Check($"{tag} memory v2: total = free + used + reserved", () =>
        {
            var rc = library.TryGetMemory(d, out var m);
            CheckRunner.That(rc == NvmlReturn.Success, rc.ToString());
            CheckRunner.That(m.ReservedBytes is not null, $"memory api {library.MemoryVersion} gave no reserved figure");
            var sum = m.FreeBytes + m.UsedBytes + m.ReservedBytes!.Value;
            CheckRunner.That(sum == m.TotalBytes, $"total {m.TotalBytes} != free {m.FreeBytes} + used {m.UsedBytes} + reserved {m.ReservedBytes} = {sum}");
            return $"total {m.TotalBytes}, free {m.FreeBytes}, used {m.UsedBytes}, reserved {m.ReservedBytes}";
        });

        var sampler = new NvmlDeviceSampler(library, d, new GpuSamplerOptions());
        var reading = new GpuReading();
        runner.Check($"{tag} full sample", () =>
        {
            for (var i = 0; i < 10; i++)
            {
                var rc = sampler.Sample(reading);
                CheckRunner.That(rc == NvmlReturn.Success, $"sample {i}: {rc}");
            }
            var present = Enum.GetValues<GpuField>().Where(reading.Has).Select(f => $"{f}={reading[f].ToString(CultureInfo.InvariantCulture)}");
            Console.WriteLine($"#   {tag} fields: {string.Join(", ", present)}");
            Console.WriteLine($"#   {tag} unsupported: {string.Join(", ", sampler.Unsupported.Select(u => $"{u.Metric}={u.Code}"))}");
            CheckRunner.That(reading.Has(GpuField.MemoryTotalBytes) && reading.Has(GpuField.PowerUsageMilliwatts) && reading.Has(GpuField.TemperatureCelsius), "memory, power or temperature missing");
            CheckRunner.That(reading.Has(GpuField.EnergyMillijoules), "no energy counter");
            Console.WriteLine($"#   {tag} energy through {(sampler.IsEnabled(GpuProbe.Energy) ? "nvmlDeviceGetTotalEnergyConsumption" : "field value 83")}");
            return $"{reading.PresentCount} fields present, {sampler.Unsupported.Count()} metrics switched off, {sampler.TransientErrors} transient errors";
        });

        runner.Check($"{tag} sampling allocates nothing on the real driver", () =>
        {
            var watch = Stopwatch.StartNew(); // allocated before the count starts
            var before = GC.GetAllocatedBytesForCurrentThread();
            const int N = 20;
            for (var i = 0; i < N; i++) sampler.Sample(reading);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            CheckRunner.That(allocated == 0, $"{allocated} bytes over {N} samples");
            return $"0 bytes over {N} samples; {watch.Elapsed.TotalMicroseconds / N:F0} us per full sample (nvml.real.sample_1gpu_us)";
        });

        runner.Check($"{tag} processes: 24-byte stride, canary intact", () =>
        {
            var rc = library.TryGetComputeProcesses(d, Span<NvmlProcessInfo>.Empty, out var needed);
            CheckRunner.That(rc is NvmlReturn.Success or NvmlReturn.InsufficientSize, rc.ToString());
            // Every byte starts as 0xAA and the driver is offered exactly `needed` entries: with the
            // 24-byte stride nothing past count * 24 bytes changes; a 32-byte stride would show there.
            NvmlProcessInfo[] buffer;
            var count = 0;
            var attempts = 0;
            do
            {
                // The number of processes can change between calls: offer what the last answer asked for.
                buffer = new NvmlProcessInfo[needed + 4];
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan()).Fill(0xAA);
                rc = library.TryGetComputeProcesses(d, buffer.AsSpan(0, needed), out count);
                if (rc == NvmlReturn.InsufficientSize) needed = count;
            }
            while (rc == NvmlReturn.InsufficientSize && ++attempts < 5);
            CheckRunner.That(rc == NvmlReturn.Success, rc.ToString());
            var tail = System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan())[(count * 24)..];
            CheckRunner.That(tail.IndexOfAnyExcept((byte)0xAA) < 0, $"the driver wrote past {count} entries of 24 bytes: not the 24-byte stride");
            var listed = buffer.Take(count).Select(p => $"{p.Pid}:{p.UsedGpuMemoryBytes}:{p.GpuInstanceId:X}/{p.ComputeInstanceId:X}").ToList();
            if (Environment.GetEnvironmentVariable("TRACELET_CHECK_PID") is { } expected && uint.TryParse(expected, out var pid))
            {
                CheckRunner.That(buffer.Take(count).Any(p => p.Pid == pid), $"the CUDA process {pid} is not among [{string.Join(", ", listed)}]");
                var labels = new ProcessJobLabels().For(pid);
                Console.WriteLine($"#   {tag} job labels of {pid}: {string.Join(", ", labels.Select(l => $"{l.Key}={l.Value}"))}");
                CheckRunner.That(labels.Any(l => l.Key == GpuLabels.Rank && l.Value == "3"), "RANK=3 not read from the process environment");
            }
            return $"{count} process(es), nothing written past {count} x 24 bytes: {string.Join(", ", listed)}";
        });

        runner.Check($"{tag} field values: types and per-entry results", () =>
        {
            (uint Id, uint Scope)[] asked =
            [
                (NvmlFieldId.MemoryTemperature, 0), (NvmlFieldId.TotalEnergyConsumption, 0), (NvmlFieldId.NvLinkLinkCount, 0),
                (NvmlFieldId.NvLinkThroughputDataTx, NvmlFieldValue.AllLinks), (NvmlFieldId.NvLinkThroughputDataRx, NvmlFieldValue.AllLinks),
                (NvmlFieldId.NvLinkThroughputRawTx, NvmlFieldValue.AllLinks), (NvmlFieldId.NvLinkThroughputRawRx, NvmlFieldValue.AllLinks),
                (NvmlFieldId.NvLinkThroughputDataTx, 0), (NvmlFieldId.NvLinkCrcFlitErrorTotal, 0), (NvmlFieldId.NvLinkCrcDataErrorTotal, 0),
                (NvmlFieldId.NvLinkReplayErrorTotal, 0), (NvmlFieldId.NvLinkRecoveryErrorTotal, 0), (NvmlFieldId.PcieReplayCounter, 0),
                (NvmlFieldId.RemappedCorrectable, 0), (NvmlFieldId.RemappedUncorrectable, 0), (NvmlFieldId.RemappedPending, 0), (NvmlFieldId.RemappedFailure, 0),
                (185, 0), (185, 1), (186, 0), (186, 1),
            ];
            var values = asked.Select(a => new NvmlFieldValue { FieldId = a.Id, ScopeId = a.Scope }).ToArray();
            var rc = library.TryGetFieldValues(d, values);
            CheckRunner.That(rc == NvmlReturn.Success, rc.ToString());
            foreach (var v in values)
            {
                var scope = v.ScopeId == NvmlFieldValue.AllLinks ? "all" : v.ScopeId.ToString(CultureInfo.InvariantCulture);
                Console.WriteLine($"#   {tag} FI {v.FieldId,3} scope {scope,3}: {v.Outcome,-16} type {v.ValueType} value {(v.Outcome == NvmlReturn.Success ? v.AsDouble().ToString(CultureInfo.InvariantCulture) : "-")}");
            }
            return $"{values.Count(v => v.Outcome == NvmlReturn.Success)} of {values.Length} answered";
        });

        runner.Check($"{tag} events: supported types, a wait times out promptly", () =>
        {
            var rc = library.TryGetSupportedEventTypes(d, out var mask);
            CheckRunner.That(rc == NvmlReturn.Success, $"supported event types: {rc}");
            CheckRunner.That(library.TryCreateEventSet(out var set) == NvmlReturn.Success, "event set");
            try
            {
                var reg = library.RegisterEvents(d, mask & NvmlEventWatcher.WatchedEvents, set);
                var watch = Stopwatch.StartNew();
                var wait = library.WaitForEvent(set, 500, out _);
                var ms = watch.Elapsed.TotalMilliseconds;
                CheckRunner.That(wait is NvmlReturn.Timeout or NvmlReturn.Success, $"wait returned {wait}");
                CheckRunner.That(ms < 2000, $"a 500 ms wait took {ms:F0} ms");
                return $"mask 0x{mask:X}, register {reg}, wait(500) -> {wait} after {ms:F0} ms";
            }
            finally
            {
                library.FreeEventSet(set);
            }
        });

        runner.Check($"{tag} event watcher starts and stops", () =>
        {
            var watcher = NvmlEventWatcher.Start(session, [gpu], _ => { }, out var why, sliceMilliseconds: 200);
            CheckRunner.That(watcher is not null, why ?? "no watcher");
            watcher!.Dispose();
            CheckRunner.That(watcher.Join(TimeSpan.FromSeconds(3)), "the watcher thread did not end");
            return "joined within one slice";
        });

        runner.Check($"{tag} MIG mode", () =>
        {
            var rc = library.TryGetMigMode(d, out var current, out var pending);
            library.TryGetMaxMigDeviceCount(d, out var max);
            return $"{rc}: current {current}, pending {pending}, max MIG devices {max}, found {gpu.MigDevices.Count}";
        });
    }
}
