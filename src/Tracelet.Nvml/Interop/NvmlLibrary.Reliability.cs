namespace Tracelet.Nvml.Interop;

// ECC counters, row remapping and page retirement.
public sealed unsafe partial class NvmlLibrary
{
    private delegate* unmanaged<nint, int, int, ulong*, int> _totalEccErrors;
    private delegate* unmanaged<nint, uint*, uint*, uint*, uint*, int> _remappedRows;
    private delegate* unmanaged<nint, int, uint*, ulong*, int> _retiredPages;
    private delegate* unmanaged<nint, int*, int> _retiredPagesPending;

    private void ResolveReliability()
    {
        _totalEccErrors = (delegate* unmanaged<nint, int, int, ulong*, int>)Resolve("TotalEccErrors", "nvmlDeviceGetTotalEccErrors");
        _remappedRows = (delegate* unmanaged<nint, uint*, uint*, uint*, uint*, int>)Resolve("RemappedRows", "nvmlDeviceGetRemappedRows");
        _retiredPages = (delegate* unmanaged<nint, int, uint*, ulong*, int>)Resolve("RetiredPages", "nvmlDeviceGetRetiredPages");
        _retiredPagesPending = (delegate* unmanaged<nint, int*, int>)Resolve("RetiredPagesPending", "nvmlDeviceGetRetiredPagesPendingStatus");
    }

    /// <summary>ECC error count of one kind. Not supported when ECC is off.</summary>
    public NvmlReturn TryGetEccErrors(NvmlDeviceHandle device, NvmlMemoryErrorType errorType, NvmlEccCounterType counter, out ulong count)
    {
        count = 0;
        if (_totalEccErrors == null) return NvmlReturn.FunctionNotFound;
        ulong c;
        var rc = (NvmlReturn)_totalEccErrors(device.Value, (int)errorType, (int)counter, &c);
        count = c;
        return rc;
    }

    /// <summary>Remapped memory rows (Ampere and newer; not supported with MIG on).</summary>
    public NvmlReturn TryGetRemappedRows(NvmlDeviceHandle device, out NvmlRemappedRows rows)
    {
        rows = default;
        if (_remappedRows == null) return NvmlReturn.FunctionNotFound;
        uint corrected, uncorrected, pending, failure;
        var rc = (NvmlReturn)_remappedRows(device.Value, &corrected, &uncorrected, &pending, &failure);
        rows = new NvmlRemappedRows(corrected, uncorrected, pending != 0, failure != 0);
        return rc;
    }

    /// <summary>How many pages were retired for <paramref name="cause"/> (pre-Ampere's answer to remapped rows).</summary>
    public NvmlReturn TryGetRetiredPageCount(NvmlDeviceHandle device, NvmlPageRetirementCause cause, out uint pages)
    {
        pages = 0;
        if (_retiredPages == null) return NvmlReturn.FunctionNotFound;
        uint count = 0;
        // Asking with a zero-sized buffer returns the count: SUCCESS when there are none, INSUFFICIENT_SIZE otherwise.
        var rc = (NvmlReturn)_retiredPages(device.Value, (int)cause, &count, null);
        pages = count;
        return rc == NvmlReturn.InsufficientSize ? NvmlReturn.Success : rc;
    }

    /// <summary>Whether retired pages wait for a reboot to take effect.</summary>
    public NvmlReturn TryGetRetiredPagesPending(NvmlDeviceHandle device, out bool pending)
    {
        pending = false;
        if (_retiredPagesPending == null) return NvmlReturn.FunctionNotFound;
        int state;
        var rc = (NvmlReturn)_retiredPagesPending(device.Value, &state);
        pending = state != 0;
        return rc;
    }
}

/// <summary>Row-remapping state of a device's memory.</summary>
public readonly record struct NvmlRemappedRows(uint Correctable, uint Uncorrectable, bool Pending, bool Failed);
