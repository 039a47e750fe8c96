using System.Runtime.InteropServices;

namespace Tracelet.Nvml.Interop;

// Blittable mirrors of NVML's structs. Sizes and offsets are asserted by NvmlStructLayoutSpec
// against the sizes and offsets gcc computes for NVML's header. Enums inside structs are plain ints so a
// value from a newer driver can never break reading them.

/// <summary><c>nvmlPciInfo_t</c> as filled by <c>nvmlDeviceGetPciInfo_v3</c> (68 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct NvmlPciInfo
{
    public const int BusIdLegacySize = 16;
    public const int BusIdSize = 32;
    public fixed byte BusIdLegacy[BusIdLegacySize];
    public uint Domain;
    public uint Bus;
    public uint Device;
    public uint PciDeviceId;
    public uint PciSubSystemId;
    public fixed byte BusId[BusIdSize];
}

/// <summary><c>nvmlUtilization_t</c>: percent of the last sample period (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlUtilization
{
    public uint GpuPercent;
    public uint MemoryPercent;
}

/// <summary><c>nvmlMemory_t</c> (v1, 24 bytes): <see cref="UsedBytes"/> includes the driver-reserved memory.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlMemoryV1
{
    public ulong TotalBytes;
    public ulong FreeBytes;
    public ulong UsedBytes;
}

/// <summary><c>nvmlMemory_v2_t</c> (40 bytes): <see cref="UsedBytes"/> excludes <see cref="ReservedBytes"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlMemoryV2
{
    /// <summary><c>NVML_STRUCT_VERSION(Memory, 2)</c>: sizeof 40 | 2 &lt;&lt; 24.</summary>
    public const uint Version2 = (2u << 24) | 40u;
    public uint Version; // 4 bytes of padding follow: TotalBytes is at offset 8
    public ulong TotalBytes;
    public ulong ReservedBytes;
    public ulong FreeBytes;
    public ulong UsedBytes;
}

/// <summary><c>nvmlProcessInfo_v1_t</c> (16 bytes), written by the unversioned process functions.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlProcessInfoV1
{
    public uint Pid;
    public ulong UsedGpuMemoryBytes;
}

/// <summary><c>nvmlProcessInfo_t</c> = <c>nvmlProcessInfo_v2_t</c> (24 bytes), written by the <c>_v2</c> and <c>_v3</c> process functions.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlProcessInfo
{
    /// <summary><c>NVML_VALUE_NOT_AVAILABLE</c> in <see cref="UsedGpuMemoryBytes"/>.</summary>
    public const ulong NotAvailable = ulong.MaxValue;
    /// <summary>The instance ids of a process that is not on a MIG instance.</summary>
    public const uint NoInstance = uint.MaxValue;
    public uint Pid;
    public ulong UsedGpuMemoryBytes;
    public uint GpuInstanceId;
    public uint ComputeInstanceId;
}

/// <summary><c>nvmlValue_t</c>: an 8-byte union read according to <see cref="NvmlFieldValue.ValueType"/>.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct NvmlValue
{
    [FieldOffset(0)] public double Double;
    [FieldOffset(0)] public int SignedInt;
    [FieldOffset(0)] public uint UnsignedInt;
    [FieldOffset(0)] public ulong UnsignedLong;
    [FieldOffset(0)] public ulong UnsignedLongLong;
    [FieldOffset(0)] public long SignedLongLong;
    [FieldOffset(0)] public ushort UnsignedShort;
}

/// <summary><c>nvmlValueType_t</c> values.</summary>
public static class NvmlValueType
{
    public const int Double = 0;
    public const int UnsignedInt = 1;
    public const int UnsignedLong = 2;
    public const int UnsignedLongLong = 3;
    public const int SignedLongLong = 4;
    public const int SignedInt = 5;
    public const int UnsignedShort = 6;
}

/// <summary><c>nvmlFieldValue_t</c> (40 bytes). Set <see cref="FieldId"/> and <see cref="ScopeId"/>; NVML fills the rest.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlFieldValue
{
    /// <summary>The scope id that asks for the sum over all NVLink links.</summary>
    public const uint AllLinks = uint.MaxValue;
    public uint FieldId;
    public uint ScopeId;
    /// <summary>Microseconds since 1970.</summary>
    public long TimestampMicroseconds;
    public long LatencyMicroseconds;
    public int ValueType;
    public int Return;
    public NvmlValue Value;

    /// <summary>The entry's own result: the call succeeds when any entry was filled.</summary>
    public readonly NvmlReturn Outcome => (NvmlReturn)Return;

    /// <summary>The value as a double, whatever its type; NaN for a type this build does not know.</summary>
    public readonly double AsDouble() => ValueType switch
    {
        NvmlValueType.Double => Value.Double,
        NvmlValueType.UnsignedInt => Value.UnsignedInt,
        NvmlValueType.UnsignedLong => Value.UnsignedLong,
        NvmlValueType.UnsignedLongLong => Value.UnsignedLongLong,
        NvmlValueType.SignedLongLong => Value.SignedLongLong,
        NvmlValueType.SignedInt => Value.SignedInt,
        NvmlValueType.UnsignedShort => Value.UnsignedShort,
        _ => double.NaN,
    };
}

/// <summary><c>nvmlEventData_t</c> as filled by <c>nvmlEventSetWait_v2</c> (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlEventData
{
    public nint Device;
    public ulong EventType;
    /// <summary>The Xid number for Xid events (999 = unknown Xid).</summary>
    public ulong EventData;
    public uint GpuInstanceId;
    public uint ComputeInstanceId;
}

/// <summary><c>nvmlTemperature_v1_t</c> (API 13, 12 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NvmlTemperatureV1
{
    /// <summary><c>NVML_STRUCT_VERSION(Temperature, 1)</c>.</summary>
    public const uint Version1 = (1u << 24) | 12u;
    public uint Version;
    public int SensorType;
    public int Temperature;
}
