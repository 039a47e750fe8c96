namespace Tracelet.Nvml.Interop;

// Event sets: Xid errors, ECC events. Waiting blocks its thread: only NvmlEventWatcher calls Wait.
public sealed unsafe partial class NvmlLibrary
{
    private delegate* unmanaged<nint*, int> _eventSetCreate;
    private delegate* unmanaged<nint, ulong*, int> _supportedEventTypes;
    private delegate* unmanaged<nint, ulong, nint, int> _registerEvents;
    private delegate* unmanaged<nint, NvmlEventData*, uint, int> _eventSetWait;
    private delegate* unmanaged<nint, int> _eventSetFree;

    private void ResolveEvents()
    {
        _eventSetCreate = (delegate* unmanaged<nint*, int>)Resolve("EventSetCreate", "nvmlEventSetCreate");
        _supportedEventTypes = (delegate* unmanaged<nint, ulong*, int>)Resolve("SupportedEventTypes", "nvmlDeviceGetSupportedEventTypes");
        _registerEvents = (delegate* unmanaged<nint, ulong, nint, int>)Resolve("RegisterEvents", "nvmlDeviceRegisterEvents");
        // v1 writes the older 24-byte nvmlEventData_t (no instance ids) into our 32-byte struct: we preset the ids.
        _eventSetWait = (delegate* unmanaged<nint, NvmlEventData*, uint, int>)Resolve("EventSetWait", "nvmlEventSetWait_v2", "nvmlEventSetWait");
        _eventSetFree = (delegate* unmanaged<nint, int>)Resolve("EventSetFree", "nvmlEventSetFree");
    }

    /// <summary>True when this driver can deliver events at all.</summary>
    public bool SupportsEvents => _eventSetCreate != null && _registerEvents != null && _eventSetWait != null && _eventSetFree != null;

    /// <summary>Creates an event set; free it with <see cref="FreeEventSet"/> before the session's last shutdown.</summary>
    public NvmlReturn TryCreateEventSet(out nint set)
    {
        set = 0;
        if (_eventSetCreate == null) return NvmlReturn.FunctionNotFound;
        nint s;
        var rc = (NvmlReturn)_eventSetCreate(&s);
        if (rc == NvmlReturn.Success) set = s;
        return rc;
    }

    /// <summary>The event types a device can report (a mask of <see cref="NvmlEventTypes"/>).</summary>
    public NvmlReturn TryGetSupportedEventTypes(NvmlDeviceHandle device, out ulong eventTypes) => ReadULong(_supportedEventTypes, device, out eventTypes);

    /// <summary>Registers a device's events on a set. Register the parent of MIG devices.</summary>
    public NvmlReturn RegisterEvents(NvmlDeviceHandle device, ulong eventTypes, nint set) =>
        _registerEvents == null ? NvmlReturn.FunctionNotFound : (NvmlReturn)_registerEvents(device.Value, eventTypes, set);

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for an event; <see cref="NvmlReturn.Timeout"/> when none came.</summary>
    public NvmlReturn WaitForEvent(nint set, uint timeoutMilliseconds, out NvmlEventData data)
    {
        data = new NvmlEventData { GpuInstanceId = NvmlProcessInfo.NoInstance, ComputeInstanceId = NvmlProcessInfo.NoInstance };
        if (_eventSetWait == null) return NvmlReturn.FunctionNotFound;
        NvmlEventData d = data;
        var rc = (NvmlReturn)_eventSetWait(set, &d, timeoutMilliseconds);
        data = d;
        return rc;
    }

    /// <summary>Frees an event set.</summary>
    public NvmlReturn FreeEventSet(nint set) =>
        _eventSetFree == null ? NvmlReturn.FunctionNotFound : (NvmlReturn)_eventSetFree(set);
}
