using Tracelet.Nvml.Interop;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Nvml.Tests;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlDeviceSamplerSpec : FakeNvmlSpec
{
    private const double GiB = 1024.0 * 1024 * 1024;

    [Fact]
    public void A_sample_reads_every_default_metric_in_NVML_units()
    {
        var (session, gpus) = Discover();
        var sampler = new NvmlDeviceSampler(Library, gpus[0].Handle, new GpuSamplerOptions());
        var reading = new GpuReading();

        Assert.Equal(NvmlReturn.Success, sampler.Sample(reading));

        Assert.Equal(80 * GiB, reading[GpuField.MemoryTotalBytes]);
        Assert.Equal(0.5 * GiB, reading[GpuField.MemoryReservedBytes]);
        // v2: used excludes reserved, so total = free + used + reserved.
        Assert.Equal(reading[GpuField.MemoryTotalBytes], reading[GpuField.MemoryFreeBytes] + reading[GpuField.MemoryUsedBytes] + reading[GpuField.MemoryReservedBytes]);
        Assert.Equal(30, reading[GpuField.TemperatureCelsius]);
        Assert.Equal(45, reading[GpuField.MemoryTemperatureCelsius]);
        Assert.Equal(100_000, reading[GpuField.PowerUsageMilliwatts]);
        Assert.Equal(700_000, reading[GpuField.PowerLimitMilliwatts]);
        // Energy starts above 2^32: a 32-bit truncation would show here.
        Assert.Equal(5_000_000_000, reading[GpuField.EnergyMillijoules]);
        Assert.Equal(1980, reading[GpuField.ClockSmMegahertz]);
        Assert.Equal(2619, reading[GpuField.ClockMemoryMegahertz]);
        Assert.Equal((1980, 2619, 1980), (reading[GpuField.ClockSmMaxMegahertz], reading[GpuField.ClockMemoryMaxMegahertz], reading[GpuField.ClockGraphicsMaxMegahertz]));
        Assert.Equal(1000, reading[GpuField.PcieTxKilobytesPerSecond]);
        Assert.True(reading.Has(GpuField.PcieRxKilobytesPerSecond));
        Assert.Equal((5, 16), (reading[GpuField.PcieLinkGeneration], reading[GpuField.PcieLinkWidth]));
        Assert.Equal(0x1, reading[GpuField.ClockEventReasons]);
        Assert.True(reading[GpuField.EccCorrectedAggregate] > uint.MaxValue);
        Assert.Equal(2, reading[GpuField.EccUncorrectedAggregate]);
        Assert.Equal((1, 0, 0, 0), (reading[GpuField.RemappedRowsCorrectable], reading[GpuField.RemappedRowsUncorrectable], reading[GpuField.RemappedRowsPending], reading[GpuField.RemappedRowsFailed]));
        Assert.False(reading.Has(GpuField.RetiredPagesDoubleBit)); // remapped rows answered: page retirement is not asked
        Assert.Equal(18, reading[GpuField.NvLinkLinkCount]);
        Assert.True(reading.Has(GpuField.NvLinkTxKibibytes));
        Assert.Equal(3, reading[GpuField.ComputeProcessCount]);
        Assert.Equal([1000u, 1001u, 1002u], reading.Processes.Take(reading.ProcessCount).Select(p => p.Pid));
        Assert.Equal(NvmlProcessInfo.NotAvailable, reading.Processes[2].UsedGpuMemoryBytes);
        // Absent is not zero: the fanless device reports no fan speed at all.
        Assert.False(reading.Has(GpuField.FanSpeedPercent));
        Assert.True(double.IsNaN(reading[GpuField.FanSpeedPercent]));

        Assert.Equal(NvmlReturn.Success, sampler.Sample(reading));
        Assert.Equal(7, reading[GpuField.UtilizationGpuPercent]); // (7n + 13i) % 101 with n = 1
        Assert.Equal(1 * GiB, reading[GpuField.MemoryUsedBytes]);
        session.Release();
    }

    [Fact]
    public void Not_supported_switches_a_metric_off_on_that_device_after_its_first_answer()
    {
        var (session, gpus) = Discover();
        var sampler = new NvmlDeviceSampler(Library, gpus[0].Handle, new GpuSamplerOptions());
        var reading = new GpuReading();
        for (var i = 0; i < 5; i++) Assert.Equal(NvmlReturn.Success, sampler.Sample(reading));

        Assert.Equal(1ul, Control.CallCount("nvmlDeviceGetFanSpeed", 0));
        // Energy rides in the field-value batch: the slow energy function is never called while FI 83 answers.
        Assert.True(reading.Has(GpuField.EnergyMillijoules));
        Assert.Equal(0ul, Control.CallCount("nvmlDeviceGetTotalEnergyConsumption", 0));
        Assert.Equal(5ul, Control.CallCount("nvmlDeviceGetPowerUsage", 0));
        Assert.Contains(("FanSpeed", NvmlReturn.NotSupported), sampler.Unsupported);
        // Field values the device lacks are dropped from the request; the others keep coming.
        Assert.Contains(("Field38", NvmlReturn.NotSupported), sampler.Unsupported);
        Assert.Equal(18, reading[GpuField.NvLinkLinkCount]);
        Assert.False(reading.Has(GpuField.NvLinkCrcFlitErrors));
        session.Release();
    }

    [Fact]
    public void A_MIG_enabled_GPU_and_its_MIG_devices_report_what_each_supports()
    {
        var (session, gpus) = Discover();
        var parent = new NvmlDeviceSampler(Library, gpus[1].Handle, new GpuSamplerOptions());
        var reading = new GpuReading();
        Assert.Equal(NvmlReturn.Success, parent.Sample(reading));
        Assert.False(reading.Has(GpuField.UtilizationGpuPercent)); // not supported with MIG on
        Assert.False(reading.Has(GpuField.EccCorrectedVolatile)); // ECC off on device 1
        Assert.True(reading.Has(GpuField.FanSpeedPercent));
        Assert.Contains(("Utilization", NvmlReturn.NotSupported), parent.Unsupported);

        var slot3 = gpus[1].MigDevices[1];
        var mig = new NvmlDeviceSampler(Library, slot3.Handle, new GpuSamplerOptions(IsMigDevice: true));
        var migReading = new GpuReading();
        Assert.Equal(NvmlReturn.Success, mig.Sample(migReading));
        Assert.Equal(10 * GiB, migReading[GpuField.MemoryTotalBytes]);
        var process = Assert.Single(migReading.Processes.Take(migReading.ProcessCount));
        Assert.Equal(2003u, process.Pid);
        Assert.Equal((2u, 0u), (process.GpuInstanceId, process.ComputeInstanceId));
        Assert.False(migReading.Has(GpuField.TemperatureCelsius)); // the parent's business
        session.Release();
    }

    [Fact]
    public void A_lost_GPU_stops_its_own_sample_and_the_other_GPU_keeps_sampling()
    {
        var (session, gpus) = Discover();
        var s0 = new NvmlDeviceSampler(Library, gpus[0].Handle, new GpuSamplerOptions());
        var s1 = new NvmlDeviceSampler(Library, gpus[1].Handle, new GpuSamplerOptions());
        var reading = new GpuReading();
        Control.SetGpuLost(1, 3);

        Assert.Equal(NvmlReturn.GpuIsLost, s1.Sample(reading));
        Assert.Equal(NvmlReturn.GpuIsLost, Library.TryGetHandleByIndex(1, out _));
        Assert.Equal(NvmlReturn.Success, s0.Sample(reading));
        Assert.Equal(100_000, reading[GpuField.PowerUsageMilliwatts]);
        session.Release();
    }

    [Fact]
    public void Process_arrays_grow_on_insufficient_size_and_keep_the_24_byte_stride()
    {
        var (session, gpus) = Discover();
        var handle = gpus[0].Handle;
        var small = new NvmlProcessInfo[2];
        Assert.Equal(NvmlReturn.InsufficientSize, Library.TryGetComputeProcesses(handle, small, out var needed));
        Assert.InRange(needed, 3, 4);

        // One entry more than needed, holding a canary: a wrong stride would scramble pids or overwrite it.
        var buffer = new NvmlProcessInfo[5];
        buffer[4] = new NvmlProcessInfo { Pid = 0xCAFE, UsedGpuMemoryBytes = 0xDEADBEEF };
        Assert.Equal(NvmlReturn.Success, Library.TryGetComputeProcesses(handle, buffer, out var count));
        Assert.InRange(count, 3, 4);
        Assert.Equal(Enumerable.Range(1000, count).Select(p => (uint)p), buffer.Take(count).Select(p => p.Pid));
        Assert.Equal(1 * GiB, buffer[0].UsedGpuMemoryBytes);
        Assert.Equal(NvmlProcessInfo.NoInstance, buffer[0].GpuInstanceId);
        Assert.Equal((0xCAFEu, 0xDEADBEEFul), (buffer[4].Pid, buffer[4].UsedGpuMemoryBytes));
        session.Release();
    }

    [Fact]
    public void Field_values_are_read_per_entry_with_their_own_type_and_result()
    {
        var (session, gpus) = Discover();
        Span<NvmlFieldValue> values =
        [
            new() { FieldId = 186, ScopeId = 2 },
            new() { FieldId = 230 },
            new() { FieldId = 9999 },
            new() { FieldId = NvmlFieldId.TotalEnergyConsumption },
        ];
        Assert.Equal(NvmlReturn.Success, Library.TryGetFieldValues(gpus[0].Handle, values));
        Assert.Equal((NvmlValueType.Double, 12.5), (values[0].ValueType, values[0].AsDouble()));
        Assert.Equal((NvmlValueType.SignedLongLong, -1.0), (values[1].ValueType, values[1].AsDouble()));
        Assert.Equal(NvmlReturn.NotSupported, values[2].Outcome);
        Assert.Equal(NvmlValueType.UnsignedLongLong, values[3].ValueType);
        Assert.True(values[3].Value.UnsignedLongLong > uint.MaxValue);
        session.Release();
    }

    [Fact]
    public void Sampling_allocates_nothing_once_warm()
    {
        var (session, gpus) = Discover();
        var sampler = new NvmlDeviceSampler(Library, gpus[0].Handle, new GpuSamplerOptions());
        var reading = new GpuReading();
        for (var i = 0; i < 10; i++) sampler.Sample(reading); // switch off what is unsupported, size the buffers

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++) sampler.Sample(reading);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        session.Release();
    }

    [Fact]
    public void Threads_sampling_different_GPUs_at_once_see_consistent_counts()
    {
        var (session, gpus) = Discover();
        const int Samples = 200;
        var threads = gpus.Select(gpu => new Thread(() =>
        {
            var sampler = new NvmlDeviceSampler(Library, gpu.Handle, new GpuSamplerOptions());
            var reading = new GpuReading();
            for (var i = 0; i < Samples; i++) sampler.Sample(reading);
        })).ToList();
        var watcher = StartWatcher(session, gpus, _ => { }, out _, sliceMilliseconds: 50);
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(30)), "a sampling thread deadlocked"));
        Assert.Equal((ulong)Samples, Control.CallCount("nvmlDeviceGetPowerUsage", 0));
        Assert.Equal((ulong)Samples, Control.CallCount("nvmlDeviceGetPowerUsage", 1));
        watcher!.Dispose();
        Assert.True(watcher.Join(TimeSpan.FromSeconds(5)));
        session.Release();
    }

    private (NvmlSession Session, IReadOnlyList<NvmlGpu> Gpus) Discover()
    {
        var session = Open();
        return (session, session.Discover().Gpus);
    }
}

public sealed class DriverQuirkSpec
{
    [Theory]
    [InlineData("535.43.02", true)]
    [InlineData("535.86.10", true)]
    [InlineData("535.98", true)]
    [InlineData("535.104.05", false)]
    [InlineData("535.309.01", false)]
    [InlineData("550.54.15", false)]
    [InlineData("470.256.02", false)]
    [InlineData("not a version", false)]
    public void The_drivers_whose_processes_v3_writes_32_byte_entries_are_known(string driver, bool wide) =>
        Assert.Equal(wide, NvmlLibrary.ProcessesV3WritesWideEntries(driver));
}

[Collection(FakeNvmlCollection.Name)]
public sealed class LegacyDriverSpec() : FakeNvmlSpec(FakeNvml.Legacy)
{
    [Fact]
    public void Xid_events_arrive_through_the_older_wait()
    {
        var session = Open();
        var gpus = session.Discover().Gpus;
        var events = new System.Collections.Concurrent.BlockingCollection<NvmlEvent>();
        var watcher = StartWatcher(session, gpus, events.Add, out var why);
        Assert.True(watcher is not null, why);
        Control.InjectXid(1, 48);
        Assert.True(events.TryTake(out var xid, TimeSpan.FromSeconds(10)));
        Assert.Equal((gpus[1].Uuid, 48ul), (xid!.Gpu?.Uuid, xid.EventData));
        Assert.Equal(NvmlProcessInfo.NoInstance, xid.GpuInstanceId); // preset: v1 does not write the instance ids
        session.Release();
    }

    [Fact]
    public void An_older_driver_is_sampled_through_the_older_symbols()
    {
        var session = Open();
        var gpu = session.Discover().Gpus[0];
        var sampler = new NvmlDeviceSampler(Library, gpu.Handle, new GpuSamplerOptions());
        var reading = new GpuReading();
        Assert.Equal(NvmlReturn.Success, sampler.Sample(reading));
        Assert.Equal(NvmlReturn.Success, sampler.Sample(reading));

        // Memory v1: used includes the reserved part, and reserved is not reported on its own.
        Assert.False(reading.Has(GpuField.MemoryReservedBytes));
        Assert.Equal(reading[GpuField.MemoryTotalBytes], reading[GpuField.MemoryFreeBytes] + reading[GpuField.MemoryUsedBytes]);
        Assert.Equal(0.5 * 1024 * 1024 * 1024 + 1024.0 * 1024 * 1024, reading[GpuField.MemoryUsedBytes]);
        Assert.True(reading.Has(GpuField.TemperatureCelsius));
        Assert.True(reading.Has(GpuField.ClockEventReasons));
        Assert.Equal(2ul, Control.CallCount("nvmlDeviceGetCurrentClocksThrottleReasons", 0));
        Assert.Equal([1000u, 1001u], reading.Processes.Take(2).Select(p => p.Pid));
        session.Release();
    }
}

[Collection(FakeNvmlCollection.Name)]
public sealed class MinimalDriverSpec() : FakeNvmlSpec(FakeNvml.Minimal)
{
    [Fact]
    public void A_library_with_only_the_basics_degrades_to_absent_metrics()
    {
        var session = Open();
        var gpus = session.Discover().Gpus;
        Assert.Equal(2, gpus.Count);
        Assert.Equal("", gpus[0].PciBusId);
        var sampler = new NvmlDeviceSampler(Library, gpus[0].Handle, new GpuSamplerOptions());
        var reading = new GpuReading();
        Assert.Equal(NvmlReturn.Success, sampler.Sample(reading));
        Assert.Equal(0, reading.PresentCount);
        Assert.Contains(("Memory", NvmlReturn.FunctionNotFound), sampler.Unsupported);
        Assert.False(Library.SupportsEvents);
        Assert.Null(StartWatcher(session, gpus, _ => { }, out var why));
        Assert.Equal("this driver exports no event functions", why);
        session.Release();
    }
}
