using System.Buffers;
using System.Globalization;

namespace Tracelet.Nvml.Interop;

// Running compute processes and their GPU memory.
public sealed unsafe partial class NvmlLibrary
{
    /// <summary>The most v1 entries widened on the stack; more go through a pooled array.</summary>
    private const int MaxStackV1Entries = 256;

    private delegate* unmanaged<nint, uint*, NvmlProcessInfo*, int> _computeProcesses;
    private delegate* unmanaged<nint, uint*, NvmlProcessInfoV1*, int> _computeProcessesV1;
    private volatile bool _processesAdapted;

    private void ResolveProcesses()
    {
        // _v3 and _v2 both write the 24-byte nvmlProcessInfo_t (since driver 535.104; AdaptToDriver handles
        // the drivers where _v3 wrote 32 bytes); the unversioned v1 writes
        // 16-byte entries and is widened below.
        _computeProcesses = (delegate* unmanaged<nint, uint*, NvmlProcessInfo*, int>)Resolve("ComputeProcesses",
            "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2");
        if (_computeProcesses == null)
        {
            _computeProcessesV1 = (delegate* unmanaged<nint, uint*, NvmlProcessInfoV1*, int>)Resolve("ComputeProcesses",
                "nvmlDeviceGetComputeRunningProcesses");
        }
    }

    /// <summary>
    /// True for the drivers whose <c>_v3</c> process function writes the short-lived 32-byte
    /// struct under the same name (535.43 up to, not including, 535.104: nvitop #79/#89/#94,
    /// pynvml #50). Reading them with the 24-byte struct would scramble pids and write past the buffer.
    /// </summary>
    public static bool ProcessesV3WritesWideEntries(string driverVersion)
    {
        var parts = driverVersion.Split('.');
        if (parts.Length < 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
            return false;
        return major == 535 && minor >= 43 && minor < 104;
    }

    /// <summary>
    /// Rebinds what the driver version says must not be used (called once the session knows it):
    /// on 535.43–535.103 the processes come from <c>_v2</c> (24-byte entries) instead of <c>_v3</c>.
    /// </summary>
    internal void AdaptToDriver(string driverVersion)
    {
        if (_processesAdapted || !ProcessesV3WritesWideEntries(driverVersion)) return;
        _processesAdapted = true;
        var v2 = Export("nvmlDeviceGetComputeRunningProcesses_v2");
        _computeProcesses = (delegate* unmanaged<nint, uint*, NvmlProcessInfo*, int>)v2;
        _resolved["ComputeProcesses"] = v2 == 0 ? null : $"nvmlDeviceGetComputeRunningProcesses_v2 (driver {driverVersion}: its _v3 writes 32-byte entries)";
    }

    /// <summary>
    /// Fills <paramref name="buffer"/> with the compute processes on the device. When the buffer is
    /// too small the answer is <see cref="NvmlReturn.InsufficientSize"/> and <paramref name="count"/>
    /// is the number needed: grow and ask again (the number can change between calls).
    /// </summary>
    public NvmlReturn TryGetComputeProcesses(NvmlDeviceHandle device, Span<NvmlProcessInfo> buffer, out int count)
    {
        count = 0;
        uint n = (uint)buffer.Length;
        if (_computeProcesses != null)
        {
            NvmlReturn rc;
            fixed (NvmlProcessInfo* p = buffer) rc = (NvmlReturn)_computeProcesses(device.Value, &n, buffer.Length == 0 ? null : p);
            // Never trust a count beyond what we handed over when the call says it filled the buffer.
            count = rc == NvmlReturn.Success ? (int)Math.Min(n, (uint)buffer.Length) : (int)n;
            return rc;
        }
        return _computeProcessesV1 == null ? NvmlReturn.FunctionNotFound : ReadProcessesV1(device, buffer, out count);
    }

    private NvmlReturn ReadProcessesV1(NvmlDeviceHandle device, Span<NvmlProcessInfo> buffer, out int count)
    {
        var size = buffer.Length;
        NvmlProcessInfoV1[]? rented = null;
        var narrow = size <= MaxStackV1Entries
            ? stackalloc NvmlProcessInfoV1[size]
            : (rented = ArrayPool<NvmlProcessInfoV1>.Shared.Rent(size)).AsSpan(0, size);
        try
        {
            uint n = (uint)size;
            NvmlReturn rc;
            fixed (NvmlProcessInfoV1* p = narrow) rc = (NvmlReturn)_computeProcessesV1(device.Value, &n, size == 0 ? null : p);
            count = rc == NvmlReturn.Success ? (int)Math.Min(n, (uint)size) : (int)n;
            if (rc != NvmlReturn.Success) return rc;
            for (var i = 0; i < count; i++)
            {
                buffer[i] = new NvmlProcessInfo
                {
                    Pid = narrow[i].Pid,
                    UsedGpuMemoryBytes = narrow[i].UsedGpuMemoryBytes,
                    GpuInstanceId = NvmlProcessInfo.NoInstance,
                    ComputeInstanceId = NvmlProcessInfo.NoInstance,
                };
            }
            return rc;
        }
        finally
        {
            if (rented is not null) ArrayPool<NvmlProcessInfoV1>.Shared.Return(rented);
        }
    }
}
