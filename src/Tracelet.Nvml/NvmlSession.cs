using Tracelet.Nvml.Interop;

namespace Tracelet.Nvml;

/// <summary>
/// One NVML initialization shared by everything that uses a GPU in this process. NVML is
/// initialized once when the session opens and shut down once, when the last user has released
/// it: a device actor still inside a call keeps the session (and its handles) alive.
/// </summary>
public sealed class NvmlSession
{
    private readonly Lock _gate = new();
    private int _users;

    private NvmlSession(NvmlLibrary library)
    {
        Library = library;
        _users = 1;
    }

    public NvmlLibrary Library { get; }

    /// <summary>False once the last user released it: its device handles are dead.</summary>
    public bool IsOpen
    {
        get
        {
            lock (_gate) return _users > 0;
        }
    }

    /// <summary>
    /// Initializes NVML (<c>nvmlInit_v2</c>) and returns a session held once by the caller.
    /// Throws <see cref="NvmlException"/> with the driver's reason when initialization fails
    /// (no driver: 9; driver/library mismatch: 18; no permission: 4; blocked by the OS: 17).
    /// </summary>
    public static NvmlSession Open(NvmlLibrary library)
    {
        NvmlException.ThrowIfFailed(library, library.Init(), "nvmlInit_v2");
        if (library.TryGetDriverVersion(out var driver) == NvmlReturn.Success) library.AdaptToDriver(driver);
        return new NvmlSession(library);
    }

    /// <summary>Takes one more hold on the session; false when it already ended.</summary>
    public bool TryAcquire()
    {
        lock (_gate)
        {
            if (_users == 0) return false;
            _users++;
            return true;
        }
    }

    /// <summary>Gives back one hold; the last one shuts NVML down.</summary>
    public void Release()
    {
        lock (_gate)
        {
            if (_users == 0) return;
            if (--_users > 0) return;
        }
        Library.Shutdown();
    }

    /// <summary>
    /// Finds every GPU and its MIG devices, reading their static facts once. A device that
    /// cannot be opened (no permission, lost, ...) is listed with its error, and enumeration goes on.
    /// </summary>
    public NvmlInventory Discover()
    {
        var lib = Library;
        NvmlException.ThrowIfFailed(lib, lib.TryGetDeviceCount(out var count), "nvmlDeviceGetCount_v2");
        lib.TryGetDriverVersion(out var driver);
        lib.TryGetCudaDriverVersion(out var cuda);
        var gpus = new List<NvmlGpu>((int)count);
        var failures = new List<NvmlDeviceFailure>();
        for (uint i = 0; i < count; i++)
        {
            var rc = lib.TryGetHandleByIndex(i, out var handle);
            if (rc != NvmlReturn.Success)
            {
                failures.Add(new NvmlDeviceFailure(i, rc, lib.ErrorString(rc)));
                continue;
            }
            rc = lib.TryGetUuid(handle, out var uuid);
            if (rc != NvmlReturn.Success)
            {
                failures.Add(new NvmlDeviceFailure(i, rc, lib.ErrorString(rc)));
                continue;
            }
            lib.TryGetName(handle, out var name);
            lib.TryGetPciBusId(handle, out var busId);
            gpus.Add(new NvmlGpu(i, handle, uuid, name, busId, DiscoverMig(handle)));
        }
        return new NvmlInventory(driver, cuda, gpus, failures);
    }

    /// <summary>The MIG devices of a GPU (none with MIG off), read from its current handle.</summary>
    public IReadOnlyList<NvmlMigDevice> DiscoverMig(NvmlDeviceHandle parent)
    {
        var lib = Library;
        if (lib.TryGetMigMode(parent, out var enabled, out _) != NvmlReturn.Success || !enabled) return [];
        if (lib.TryGetMaxMigDeviceCount(parent, out var slots) != NvmlReturn.Success) return [];
        var devices = new List<NvmlMigDevice>();
        for (uint slot = 0; slot < slots; slot++)
        {
            // Slots are sparse: an empty one answers NOT_FOUND.
            if (lib.TryGetMigDevice(parent, slot, out var mig) != NvmlReturn.Success) continue;
            lib.TryGetUuid(mig, out var uuid);
            lib.TryGetName(mig, out var name);
            lib.TryGetGpuInstanceId(mig, out var gi);
            lib.TryGetComputeInstanceId(mig, out var ci);
            devices.Add(new NvmlMigDevice(slot, mig, uuid, name, gi, ci));
        }
        return devices;
    }
}

/// <summary>What discovery found.</summary>
public sealed record NvmlInventory(string DriverVersion, int CudaDriverVersion, IReadOnlyList<NvmlGpu> Gpus, IReadOnlyList<NvmlDeviceFailure> Failures);

/// <summary>A physical GPU: its handle and the static facts read once at discovery.</summary>
public sealed record NvmlGpu(uint Index, NvmlDeviceHandle Handle, string Uuid, string Name, string PciBusId, IReadOnlyList<NvmlMigDevice> MigDevices);

/// <summary>A MIG device of a GPU.</summary>
public sealed record NvmlMigDevice(uint Slot, NvmlDeviceHandle Handle, string Uuid, string Name, uint GpuInstanceId, uint ComputeInstanceId);

/// <summary>A device index that could not be opened, and why.</summary>
public sealed record NvmlDeviceFailure(uint Index, NvmlReturn Code, string Reason);
