namespace Tracelet.Nvml.Interop;

/// <summary>
/// An <c>nvmlDevice_t</c>. Not owned (NVML has no release function) and valid only while the
/// session that produced it lives and the GPU is not lost, so it is a plain value, never a SafeHandle.
/// </summary>
public readonly record struct NvmlDeviceHandle(nint Value)
{
    public bool IsNull => Value == 0;

    public override string ToString() => $"0x{Value:x}";
}
