namespace Tracelet.Nvml.Interop;

// Batched queries by field id: NVLink counters, memory temperature, energy.
public sealed unsafe partial class NvmlLibrary
{
    private delegate* unmanaged<nint, int, NvmlFieldValue*, int> _fieldValues;

    private void ResolveFieldValues() =>
        _fieldValues = (delegate* unmanaged<nint, int, NvmlFieldValue*, int>)Resolve("FieldValues", "nvmlDeviceGetFieldValues");

    /// <summary>
    /// Fills each entry's value for its <see cref="NvmlFieldValue.FieldId"/> and scope. The call
    /// succeeds when any entry was filled: read each entry's <see cref="NvmlFieldValue.Outcome"/>.
    /// </summary>
    public NvmlReturn TryGetFieldValues(NvmlDeviceHandle device, Span<NvmlFieldValue> values)
    {
        if (_fieldValues == null) return NvmlReturn.FunctionNotFound;
        if (values.IsEmpty) return NvmlReturn.Success;
        fixed (NvmlFieldValue* p = values) return (NvmlReturn)_fieldValues(device.Value, values.Length, p);
    }
}
