namespace Tracelet.Nvml.Interop;

// Static facts about a device: read once at discovery, never on the sampling path (they allocate a string).
public sealed unsafe partial class NvmlLibrary
{
    private delegate* unmanaged<nint, byte*, uint, int> _name;
    private delegate* unmanaged<nint, byte*, uint, int> _uuid;
    private delegate* unmanaged<nint, byte*, uint, int> _serial;
    private delegate* unmanaged<nint, NvmlPciInfo*, int> _pciInfo;
    private bool _pciInfoIsV3;
    private delegate* unmanaged<nint, uint*, int> _index;
    private delegate* unmanaged<nint, int*, int*, int> _computeCapability;

    private void ResolveIdentity()
    {
        _name = (delegate* unmanaged<nint, byte*, uint, int>)Resolve("Name", "nvmlDeviceGetName");
        _uuid = (delegate* unmanaged<nint, byte*, uint, int>)Resolve("Uuid", "nvmlDeviceGetUUID");
        _serial = (delegate* unmanaged<nint, byte*, uint, int>)Resolve("Serial", "nvmlDeviceGetSerial");
        // _v2 fills the older layout whose bus id sits at offset 0 (where v3 keeps busIdLegacy); the 68-byte buffer holds either.
        _pciInfo = (delegate* unmanaged<nint, NvmlPciInfo*, int>)Resolve("PciInfo", "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2");
        _pciInfoIsV3 = _resolved["PciInfo"] == "nvmlDeviceGetPciInfo_v3";
        _index = (delegate* unmanaged<nint, uint*, int>)Resolve("Index", "nvmlDeviceGetIndex");
        _computeCapability = (delegate* unmanaged<nint, int*, int*, int>)Resolve("ComputeCapability", "nvmlDeviceGetCudaComputeCapability");
    }

    /// <summary>The product name ("NVIDIA H100 80GB HBM3"), read into a 96-byte buffer.</summary>
    public NvmlReturn TryGetName(NvmlDeviceHandle device, out string name) =>
        ReadDeviceString(_name, device, NvmlBufferSize.Name, out name);

    /// <summary>The UUID ("GPU-…" or "MIG-…"): the stable key of a device.</summary>
    public NvmlReturn TryGetUuid(NvmlDeviceHandle device, out string uuid) =>
        ReadDeviceString(_uuid, device, NvmlBufferSize.Uuid, out uuid);

    /// <summary>The board serial number.</summary>
    public NvmlReturn TryGetSerial(NvmlDeviceHandle device, out string serial) =>
        ReadDeviceString(_serial, device, NvmlBufferSize.Serial, out serial);

    /// <summary>The PCI bus id ("00000000:18:00.0").</summary>
    public NvmlReturn TryGetPciBusId(NvmlDeviceHandle device, out string busId)
    {
        busId = "";
        if (_pciInfo == null) return NvmlReturn.FunctionNotFound;
        NvmlPciInfo info;
        var rc = (NvmlReturn)_pciInfo(device.Value, &info);
        if (rc == NvmlReturn.Success)
            busId = _pciInfoIsV3 ? Decode(info.BusId, NvmlPciInfo.BusIdSize) : Decode(info.BusIdLegacy, NvmlPciInfo.BusIdLegacySize);
        return rc;
    }

    /// <summary>The raw PCI info struct.</summary>
    public NvmlReturn TryGetPciInfo(NvmlDeviceHandle device, out NvmlPciInfo info)
    {
        info = default;
        if (_pciInfo == null) return NvmlReturn.FunctionNotFound;
        NvmlPciInfo i;
        var rc = (NvmlReturn)_pciInfo(device.Value, &i);
        info = i;
        return rc;
    }

    /// <summary>NVML's index of the device (may differ from CUDA's).</summary>
    public NvmlReturn TryGetIndex(NvmlDeviceHandle device, out uint index) => ReadUInt(_index, device, out index);

    /// <summary>The CUDA compute capability (9.0 for Hopper).</summary>
    public NvmlReturn TryGetComputeCapability(NvmlDeviceHandle device, out int major, out int minor)
    {
        major = minor = 0;
        if (_computeCapability == null) return NvmlReturn.FunctionNotFound;
        int a, b;
        var rc = (NvmlReturn)_computeCapability(device.Value, &a, &b);
        major = a;
        minor = b;
        return rc;
    }

    private static NvmlReturn ReadDeviceString(delegate* unmanaged<nint, byte*, uint, int> function, NvmlDeviceHandle device, int size, out string value)
    {
        value = "";
        if (function == null) return NvmlReturn.FunctionNotFound;
        var buffer = stackalloc byte[size];
        var rc = (NvmlReturn)function(device.Value, buffer, (uint)size);
        if (rc == NvmlReturn.Success) value = Decode(buffer, size);
        return rc;
    }

    private static NvmlReturn ReadUInt(delegate* unmanaged<nint, uint*, int> function, NvmlDeviceHandle device, out uint value)
    {
        value = 0;
        if (function == null) return NvmlReturn.FunctionNotFound;
        uint v;
        var rc = (NvmlReturn)function(device.Value, &v);
        value = v;
        return rc;
    }

    private static NvmlReturn ReadULong(delegate* unmanaged<nint, ulong*, int> function, NvmlDeviceHandle device, out ulong value)
    {
        value = 0;
        if (function == null) return NvmlReturn.FunctionNotFound;
        ulong v;
        var rc = (NvmlReturn)function(device.Value, &v);
        value = v;
        return rc;
    }
}
