namespace Tracelet.Nvml.Interop;

// Running compute processes and their GPU memory.
public sealed unsafe partial class NvmlLibrary
{
    /// <summary>The most v1 entries widened on the stack; v1 drivers predate machines with more processes per GPU.</summary>
    private const int MaxV1Entries = 256;

    private delegate* unmanaged<nint, uint*, NvmlProcessInfo*, int> _computeProcesses;
    private delegate* unmanaged<nint, uint*, NvmlProcessInfoV1*, int> _computeProcessesV1;

    private void ResolveProcesses()
    {
        // _v3 and _v2 both write the 24-byte nvmlProcessInfo_t (535.104+; see reference/nvml.md §1.6);
        // the unversioned v1 writes 16-byte entries and is widened below.
        _computeProcesses = (delegate* unmanaged<nint, uint*, NvmlProcessInfo*, int>)Resolve("ComputeProcesses",
            "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2");
        if (_computeProcesses == null)
        {
            _computeProcessesV1 = (delegate* unmanaged<nint, uint*, NvmlProcessInfoV1*, int>)Resolve("ComputeProcesses",
                "nvmlDeviceGetComputeRunningProcesses");
        }
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
            count = (int)n;
            return rc;
        }
        if (_computeProcessesV1 == null) return NvmlReturn.FunctionNotFound;
        n = (uint)Math.Min(buffer.Length, MaxV1Entries);
        var narrow = stackalloc NvmlProcessInfoV1[(int)n];
        var rc1 = (NvmlReturn)_computeProcessesV1(device.Value, &n, n == 0 ? null : narrow);
        count = (int)n;
        if (rc1 == NvmlReturn.Success)
        {
            for (var i = 0; i < count; i++)
                buffer[i] = new NvmlProcessInfo { Pid = narrow[i].Pid, UsedGpuMemoryBytes = narrow[i].UsedGpuMemoryBytes, GpuInstanceId = NvmlProcessInfo.NoInstance, ComputeInstanceId = NvmlProcessInfo.NoInstance };
        }
        return rc1;
    }
}
