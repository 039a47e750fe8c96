namespace Tracelet.Nvml.Interop;

/// <summary>
/// <c>nvmlReturn_t</c>. An int-backed enum that must tolerate values newer drivers add: never
/// switch on it exhaustively; use <see cref="NvmlErrors.Classify"/>.
/// </summary>
public enum NvmlReturn
{
    Success = 0,
    Uninitialized = 1,
    InvalidArgument = 2,
    NotSupported = 3,
    NoPermission = 4,
    AlreadyInitialized = 5,
    NotFound = 6,
    InsufficientSize = 7,
    InsufficientPower = 8,
    DriverNotLoaded = 9,
    Timeout = 10,
    IrqIssue = 11,
    LibraryNotFound = 12,
    FunctionNotFound = 13,
    CorruptedInforom = 14,
    GpuIsLost = 15,
    ResetRequired = 16,
    OperatingSystem = 17,
    LibRmVersionMismatch = 18,
    InUse = 19,
    Memory = 20,
    NoData = 21,
    VgpuEccNotSupported = 22,
    InsufficientResources = 23,
    FreqNotSupported = 24,
    ArgumentVersionMismatch = 25,
    Deprecated = 26,
    NotReady = 27,
    GpuNotFound = 28,
    InvalidState = 29,
    ResetTypeNotSupported = 30,
    Unknown = 999,
}

/// <summary>What a caller should do about an <see cref="NvmlReturn"/>.</summary>
public enum NvmlErrorClass
{
    /// <summary>Success.</summary>
    Ok,
    /// <summary>This metric does not exist on this device or driver: stop asking for it.</summary>
    MetricUnavailable,
    /// <summary>Try again next tick.</summary>
    Transient,
    /// <summary>The device is gone until a reset: drop its handle.</summary>
    DeviceLost,
    /// <summary>NVML as a whole is unusable on this node (no driver, version mismatch, not initialized).</summary>
    LibraryFatal,
    /// <summary>An invalid argument or handle: a bug, or a handle from a dead session.</summary>
    Bug,
    /// <summary>Expected outcomes with their own handling: not found, insufficient size, timeout, version mismatch.</summary>
    Expected,
}

/// <summary>Classification of return codes.</summary>
public static class NvmlErrors
{
    /// <summary>The class of a return code; codes this build does not know are <see cref="NvmlErrorClass.Transient"/> until they persist.</summary>
    public static NvmlErrorClass Classify(NvmlReturn code) => code switch
    {
        NvmlReturn.Success => NvmlErrorClass.Ok,
        NvmlReturn.NotSupported or NvmlReturn.NoPermission or NvmlReturn.FunctionNotFound
            or NvmlReturn.VgpuEccNotSupported or NvmlReturn.Deprecated => NvmlErrorClass.MetricUnavailable,
        NvmlReturn.GpuIsLost or NvmlReturn.ResetRequired or NvmlReturn.IrqIssue
            or NvmlReturn.InsufficientPower or NvmlReturn.GpuNotFound => NvmlErrorClass.DeviceLost,
        NvmlReturn.Uninitialized or NvmlReturn.DriverNotLoaded or NvmlReturn.LibraryNotFound
            or NvmlReturn.LibRmVersionMismatch or NvmlReturn.OperatingSystem => NvmlErrorClass.LibraryFatal,
        NvmlReturn.InvalidArgument => NvmlErrorClass.Bug,
        NvmlReturn.NotFound or NvmlReturn.InsufficientSize or NvmlReturn.Timeout
            or NvmlReturn.ArgumentVersionMismatch or NvmlReturn.AlreadyInitialized => NvmlErrorClass.Expected,
        _ => NvmlErrorClass.Transient, // InUse, Memory, NoData, InsufficientResources, NotReady, InvalidState, Unknown, future codes
    };
}
