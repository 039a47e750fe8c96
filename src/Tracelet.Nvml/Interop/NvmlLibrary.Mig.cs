namespace Tracelet.Nvml.Interop;

// Multi-Instance GPU: a parent's MIG devices, and which instance a MIG handle is.
public sealed unsafe partial class NvmlLibrary
{
    private delegate* unmanaged<nint, uint*, uint*, int> _migMode;
    private delegate* unmanaged<nint, uint*, int> _maxMigDeviceCount;
    private delegate* unmanaged<nint, uint, nint*, int> _migDeviceByIndex;
    private delegate* unmanaged<nint, uint*, int> _gpuInstanceId;
    private delegate* unmanaged<nint, uint*, int> _computeInstanceId;

    private void ResolveMig()
    {
        _migMode = (delegate* unmanaged<nint, uint*, uint*, int>)Resolve("MigMode", "nvmlDeviceGetMigMode");
        _maxMigDeviceCount = (delegate* unmanaged<nint, uint*, int>)Resolve("MaxMigDeviceCount", "nvmlDeviceGetMaxMigDeviceCount");
        _migDeviceByIndex = (delegate* unmanaged<nint, uint, nint*, int>)Resolve("MigDeviceByIndex", "nvmlDeviceGetMigDeviceHandleByIndex");
        _gpuInstanceId = (delegate* unmanaged<nint, uint*, int>)Resolve("GpuInstanceId", "nvmlDeviceGetGpuInstanceId");
        _computeInstanceId = (delegate* unmanaged<nint, uint*, int>)Resolve("ComputeInstanceId", "nvmlDeviceGetComputeInstanceId");
    }

    /// <summary>Whether MIG is on now and after the next reset.</summary>
    public NvmlReturn TryGetMigMode(NvmlDeviceHandle device, out bool current, out bool pending)
    {
        current = pending = false;
        if (_migMode == null) return NvmlReturn.FunctionNotFound;
        uint c, p;
        var rc = (NvmlReturn)_migMode(device.Value, &c, &p);
        current = c != 0;
        pending = p != 0;
        return rc;
    }

    /// <summary>How many MIG slots to probe (0 with MIG off).</summary>
    public NvmlReturn TryGetMaxMigDeviceCount(NvmlDeviceHandle device, out uint count) => ReadUInt(_maxMigDeviceCount, device, out count);

    /// <summary>The MIG device in slot <paramref name="index"/>; an empty slot answers <see cref="NvmlReturn.NotFound"/>.</summary>
    public NvmlReturn TryGetMigDevice(NvmlDeviceHandle parent, uint index, out NvmlDeviceHandle migDevice)
    {
        migDevice = default;
        if (_migDeviceByIndex == null) return NvmlReturn.FunctionNotFound;
        nint h;
        var rc = (NvmlReturn)_migDeviceByIndex(parent.Value, index, &h);
        if (rc == NvmlReturn.Success) migDevice = new NvmlDeviceHandle(h);
        return rc;
    }

    /// <summary>The GPU instance id of a MIG device.</summary>
    public NvmlReturn TryGetGpuInstanceId(NvmlDeviceHandle migDevice, out uint id) => ReadUInt(_gpuInstanceId, migDevice, out id);

    /// <summary>The compute instance id of a MIG device.</summary>
    public NvmlReturn TryGetComputeInstanceId(NvmlDeviceHandle migDevice, out uint id) => ReadUInt(_computeInstanceId, migDevice, out id);
}
