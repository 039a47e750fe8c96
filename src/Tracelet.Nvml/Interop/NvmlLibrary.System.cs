using System.Runtime.InteropServices;
using System.Text;

namespace Tracelet.Nvml.Interop;

// Initialization, system queries and device enumeration.
public sealed unsafe partial class NvmlLibrary
{
    private delegate* unmanaged<int> _init;
    private delegate* unmanaged<int> _shutdown;
    private delegate* unmanaged<int, byte*> _errorString;
    private delegate* unmanaged<byte*, uint, int> _driverVersion;
    private delegate* unmanaged<byte*, uint, int> _nvmlVersion;
    private delegate* unmanaged<int*, int> _cudaDriverVersion;
    private delegate* unmanaged<uint*, int> _getCount;
    private delegate* unmanaged<uint, nint*, int> _getHandleByIndex;
    private delegate* unmanaged<byte*, nint*, int> _getHandleByUuid;

    private void ResolveSystem()
    {
        // Only the versioned names: the unversioned exports keep old semantics (nvmlInit fails if any
        // GPU is unhealthy; nvmlDeviceGetCount skips devices without permission, shifting indices).
        _init = (delegate* unmanaged<int>)Resolve("Init", "nvmlInit_v2");
        _shutdown = (delegate* unmanaged<int>)Resolve("Shutdown", "nvmlShutdown");
        _errorString = (delegate* unmanaged<int, byte*>)Resolve("ErrorString", "nvmlErrorString");
        _driverVersion = (delegate* unmanaged<byte*, uint, int>)Resolve("DriverVersion", "nvmlSystemGetDriverVersion");
        _nvmlVersion = (delegate* unmanaged<byte*, uint, int>)Resolve("NvmlVersion", "nvmlSystemGetNVMLVersion");
        _cudaDriverVersion = (delegate* unmanaged<int*, int>)Resolve("CudaDriverVersion", "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion");
        _getCount = (delegate* unmanaged<uint*, int>)Resolve("DeviceCount", "nvmlDeviceGetCount_v2");
        _getHandleByIndex = (delegate* unmanaged<uint, nint*, int>)Resolve("HandleByIndex", "nvmlDeviceGetHandleByIndex_v2");
        _getHandleByUuid = (delegate* unmanaged<byte*, nint*, int>)Resolve("HandleByUuid", "nvmlDeviceGetHandleByUUID");
    }

    /// <summary><c>nvmlInit_v2</c>. Reference-counted by NVML; balance every success with <see cref="Shutdown"/>. Prefer <see cref="NvmlSession"/>.</summary>
    public NvmlReturn Init() => (NvmlReturn)_init();

    /// <summary><c>nvmlShutdown</c>: decrements NVML's count; handles die when it reaches zero.</summary>
    public NvmlReturn Shutdown() => (NvmlReturn)_shutdown();

    /// <summary><c>nvmlErrorString</c>: the driver's own text for a code ("Unknown Error" for codes it does not know).</summary>
    public string ErrorString(NvmlReturn code)
    {
        var text = _errorString((int)code);
        return text == null ? code.ToString() : Marshal.PtrToStringUTF8((nint)text) ?? code.ToString();
    }

    /// <summary>The driver version, e.g. "550.54.15".</summary>
    public NvmlReturn TryGetDriverVersion(out string version) =>
        ReadString(_driverVersion, NvmlBufferSize.SystemVersion, out version);

    /// <summary>The NVML library version, e.g. "12.550.54.15". Works before init.</summary>
    public NvmlReturn TryGetNvmlVersion(out string version) =>
        ReadString(_nvmlVersion, NvmlBufferSize.SystemVersion, out version);

    /// <summary>The CUDA driver version as NVML encodes it (12040 = 12.4).</summary>
    public NvmlReturn TryGetCudaDriverVersion(out int version)
    {
        version = 0;
        if (_cudaDriverVersion == null) return NvmlReturn.FunctionNotFound;
        int v;
        var rc = (NvmlReturn)_cudaDriverVersion(&v);
        version = v;
        return rc;
    }

    /// <summary><c>nvmlDeviceGetCount_v2</c>: every device, including ones this process may not open.</summary>
    public NvmlReturn TryGetDeviceCount(out uint count)
    {
        uint c;
        var rc = (NvmlReturn)_getCount(&c);
        count = rc == NvmlReturn.Success ? c : 0;
        return rc;
    }

    /// <summary><c>nvmlDeviceGetHandleByIndex_v2</c>. Indices are not stable across reboots: key devices by UUID.</summary>
    public NvmlReturn TryGetHandleByIndex(uint index, out NvmlDeviceHandle device)
    {
        nint h;
        var rc = (NvmlReturn)_getHandleByIndex(index, &h);
        device = new NvmlDeviceHandle(rc == NvmlReturn.Success ? h : 0);
        return rc;
    }

    /// <summary><c>nvmlDeviceGetHandleByUUID</c>: re-acquires a device after it was lost.</summary>
    public NvmlReturn TryGetHandleByUuid(string uuid, out NvmlDeviceHandle device)
    {
        device = default;
        if (_getHandleByUuid == null) return NvmlReturn.FunctionNotFound;
        var bytes = Encoding.UTF8.GetBytes(uuid + '\0');
        nint h;
        NvmlReturn rc;
        fixed (byte* p = bytes) rc = (NvmlReturn)_getHandleByUuid(p, &h);
        if (rc == NvmlReturn.Success) device = new NvmlDeviceHandle(h);
        return rc;
    }

    private static NvmlReturn ReadString(delegate* unmanaged<byte*, uint, int> function, int size, out string value)
    {
        value = "";
        if (function == null) return NvmlReturn.FunctionNotFound;
        var buffer = stackalloc byte[size];
        var rc = (NvmlReturn)function(buffer, (uint)size);
        if (rc == NvmlReturn.Success) value = Decode(buffer, size);
        return rc;
    }

    /// <summary>UTF-8 up to the first NUL, never past the buffer (a driver that forgot the NUL cannot make us over-read).</summary>
    internal static string Decode(byte* buffer, int size)
    {
        var span = new ReadOnlySpan<byte>(buffer, size);
        var end = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }
}
