namespace Tracelet.Nvml.Interop;

/// <summary><c>nvmlClockType_t</c>.</summary>
public enum NvmlClockType
{
    Graphics = 0,
    Sm = 1,
    Memory = 2,
    Video = 3,
}

/// <summary><c>nvmlPcieUtilCounter_t</c>.</summary>
public enum NvmlPcieCounter
{
    TxBytes = 0,
    RxBytes = 1,
}

/// <summary><c>nvmlMemoryErrorType_t</c>.</summary>
public enum NvmlMemoryErrorType
{
    Corrected = 0,
    Uncorrected = 1,
}

/// <summary><c>nvmlEccCounterType_t</c>.</summary>
public enum NvmlEccCounterType
{
    Volatile = 0,
    Aggregate = 1,
}

/// <summary><c>nvmlPageRetirementCause_t</c>.</summary>
public enum NvmlPageRetirementCause
{
    MultipleSingleBitEccErrors = 0,
    DoubleBitEccError = 1,
}

/// <summary>Event type bits (<c>nvmlEventType*</c>).</summary>
public static class NvmlEventTypes
{
    public const ulong SingleBitEccError = 0x1;
    public const ulong DoubleBitEccError = 0x2;
    public const ulong PState = 0x4;
    public const ulong XidCriticalError = 0x8;
    public const ulong Clock = 0x10;
}

/// <summary>Field ids for <c>nvmlDeviceGetFieldValues</c> (stable from API 11 to 13).</summary>
public static class NvmlFieldId
{
    public const uint MemoryTemperature = 82;
    public const uint TotalEnergyConsumption = 83;
    public const uint NvLinkLinkCount = 91;
    public const uint PcieReplayCounter = 94;
    public const uint NvLinkThroughputDataTx = 138;
    public const uint NvLinkThroughputDataRx = 139;
    public const uint NvLinkThroughputRawTx = 140;
    public const uint NvLinkThroughputRawRx = 141;
    public const uint RemappedCorrectable = 142;
    public const uint RemappedUncorrectable = 143;
    public const uint RemappedPending = 144;
    public const uint RemappedFailure = 145;
    public const uint NvLinkCrcFlitErrorTotal = 38;
    public const uint NvLinkCrcDataErrorTotal = 45;
    public const uint NvLinkReplayErrorTotal = 52;
    public const uint NvLinkRecoveryErrorTotal = 59;
}

/// <summary>Buffer sizes for NVML's string getters (the V2 sizes, which every current driver accepts).</summary>
public static class NvmlBufferSize
{
    public const int Name = 96;
    public const int Uuid = 96;
    public const int Serial = 30;
    public const int SystemVersion = 80;
}
