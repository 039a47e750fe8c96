using System.Text;
using Tracelet.Nvml.Interop;
using Xunit;

namespace Tracelet.Nvml.Tests;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlSessionSpec : FakeNvmlSpec
{
    [Fact]
    public void Calls_before_init_answer_uninitialized()
    {
        Assert.Equal(NvmlReturn.Uninitialized, Library.TryGetDeviceCount(out _));
        // The NVML version is readable before init, as on the real 535 library.
        Assert.Equal(NvmlReturn.Success, Library.TryGetNvmlVersion(out var version));
        Assert.Equal("12.550.54.15", version);
    }

    [Theory]
    [InlineData(9, "Driver Not Loaded")]
    [InlineData(18, "Driver/library version mismatch")]
    [InlineData(4, "Insufficient Permissions")]
    public void A_failed_init_names_the_drivers_reason(int code, string text)
    {
        Control.SetInitResult(code);
        var e = Assert.Throws<NvmlException>(Open);
        Assert.Equal((NvmlReturn)code, e.Code);
        Assert.Equal($"nvmlInit_v2 returned {code} ({text})", e.Message);
        Assert.Equal(0, Control.RefCount);
    }

    [Fact]
    public void Error_strings_come_from_the_driver_and_unknown_codes_are_tolerated()
    {
        Assert.Equal("GPU is lost", Library.ErrorString(NvmlReturn.GpuIsLost));
        Assert.Equal("Not Supported", Library.ErrorString(NvmlReturn.NotSupported));
        Assert.Equal("Unknown Error", Library.ErrorString((NvmlReturn)1234));
        Assert.Equal(NvmlErrorClass.Transient, NvmlErrors.Classify((NvmlReturn)1234));
        Assert.Equal(NvmlErrorClass.DeviceLost, NvmlErrors.Classify(NvmlReturn.GpuIsLost));
        Assert.Equal(NvmlErrorClass.MetricUnavailable, NvmlErrors.Classify(NvmlReturn.NotSupported));
        Assert.Equal(NvmlErrorClass.LibraryFatal, NvmlErrors.Classify(NvmlReturn.DriverNotLoaded));
    }

    [Fact]
    public void Discovery_reads_names_uuids_and_bus_ids_once_with_V2_buffers()
    {
        var session = Open();
        var inventory = session.Discover();
        Assert.Equal("550.54.15", inventory.DriverVersion);
        Assert.Equal(12040, inventory.CudaDriverVersion);
        Assert.Equal(2, inventory.Gpus.Count);
        var gpu0 = inventory.Gpus[0];
        Assert.Equal("NVIDIA H100 80GB HBM3", gpu0.Name);
        Assert.Equal("GPU-00000000-0000-4000-8000-000000000000", gpu0.Uuid);
        Assert.Equal("00000000:18:00.0", gpu0.PciBusId);
        // Device 1's name is 95 bytes of UTF-8 with multi-byte characters: it fits only the 96-byte V2 buffer.
        var name1 = inventory.Gpus[1].Name;
        Assert.Equal(95, Encoding.UTF8.GetByteCount(name1));
        Assert.Contains("ä", name1);
        Assert.Equal(96u, Control.LastLength("nvmlDeviceGetName"));
        Assert.Equal(96u, Control.LastLength("nvmlDeviceGetUUID"));
        Assert.Equal(1ul, Control.CallCount("nvmlDeviceGetName", 0));
        session.Release();
    }

    [Fact]
    public void Mig_devices_are_found_in_sparse_slots()
    {
        var session = Open();
        var gpu1 = session.Discover().Gpus[1];
        Assert.Equal([0u, 3u], gpu1.MigDevices.Select(m => m.Slot));
        Assert.Equal([(1u, 0u), (2u, 0u)], gpu1.MigDevices.Select(m => (m.GpuInstanceId, m.ComputeInstanceId)));
        Assert.All(gpu1.MigDevices, m => Assert.StartsWith("MIG-", m.Uuid));
        Assert.Equal("NVIDIA H100 80GB HBM3 MIG 1g.10gb", gpu1.MigDevices[0].Name);
        Assert.Empty(session.Discover().Gpus[0].MigDevices);
        session.Release();
    }

    [Fact]
    public void A_device_without_permission_is_reported_and_enumeration_goes_on()
    {
        Control.Configure("devices=3;noperm_device=1");
        var session = Open();
        var inventory = session.Discover();
        Assert.Equal([0u, 2u], inventory.Gpus.Select(g => g.Index));
        var failure = Assert.Single(inventory.Failures);
        Assert.Equal((1u, NvmlReturn.NoPermission), (failure.Index, failure.Code));
        session.Release();
    }

    [Fact]
    public void The_session_shuts_NVML_down_once_when_its_last_user_leaves()
    {
        var session = Open();
        Assert.True(session.TryAcquire());
        Assert.True(session.TryAcquire());
        Assert.Equal(1, Control.RefCount);
        session.Release();
        session.Release();
        Assert.True(session.IsOpen);
        var handle = session.Discover().Gpus[0].Handle;
        session.Release();
        Assert.False(session.IsOpen);
        Assert.Equal(0, Control.RefCount);
        Assert.False(session.TryAcquire());
        // A handle used after the end of its session: an error code, never a crash.
        Assert.Contains(Library.TryGetUtilization(handle, out _), (NvmlReturn[])[NvmlReturn.Uninitialized, NvmlReturn.InvalidArgument]);
    }
}
