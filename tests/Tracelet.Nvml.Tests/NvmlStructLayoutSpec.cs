using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tracelet.Nvml.Interop;
using Xunit;

namespace Tracelet.Nvml.Tests;

/// <summary>Our structs must have gcc's x86-64 layout of NVML's (reference/nvml.md §1.4); the fake's C source asserts the same numbers.</summary>
public sealed class NvmlStructLayoutSpec
{
    [Theory]
    [InlineData(typeof(NvmlPciInfo), 68)]
    [InlineData(typeof(NvmlUtilization), 8)]
    [InlineData(typeof(NvmlMemoryV1), 24)]
    [InlineData(typeof(NvmlMemoryV2), 40)]
    [InlineData(typeof(NvmlProcessInfoV1), 16)]
    [InlineData(typeof(NvmlProcessInfo), 24)]
    [InlineData(typeof(NvmlValue), 8)]
    [InlineData(typeof(NvmlFieldValue), 40)]
    [InlineData(typeof(NvmlEventData), 32)]
    [InlineData(typeof(NvmlTemperatureV1), 12)]
    public void Struct_sizes_match_the_C_ABI(Type type, int size)
    {
        var unsafeSize = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
        Assert.Equal(size, unsafeSize);
    }

    [Theory]
    [InlineData(typeof(NvmlPciInfo), nameof(NvmlPciInfo.Domain), 16)]
    [InlineData(typeof(NvmlPciInfo), nameof(NvmlPciInfo.PciDeviceId), 28)]
    [InlineData(typeof(NvmlPciInfo), nameof(NvmlPciInfo.PciSubSystemId), 32)]
    [InlineData(typeof(NvmlPciInfo), nameof(NvmlPciInfo.BusId), 36)]
    [InlineData(typeof(NvmlMemoryV2), nameof(NvmlMemoryV2.TotalBytes), 8)]
    [InlineData(typeof(NvmlMemoryV2), nameof(NvmlMemoryV2.ReservedBytes), 16)]
    [InlineData(typeof(NvmlMemoryV2), nameof(NvmlMemoryV2.FreeBytes), 24)]
    [InlineData(typeof(NvmlMemoryV2), nameof(NvmlMemoryV2.UsedBytes), 32)]
    [InlineData(typeof(NvmlMemoryV1), nameof(NvmlMemoryV1.UsedBytes), 16)]
    [InlineData(typeof(NvmlProcessInfoV1), nameof(NvmlProcessInfoV1.UsedGpuMemoryBytes), 8)]
    [InlineData(typeof(NvmlProcessInfo), nameof(NvmlProcessInfo.UsedGpuMemoryBytes), 8)]
    [InlineData(typeof(NvmlProcessInfo), nameof(NvmlProcessInfo.GpuInstanceId), 16)]
    [InlineData(typeof(NvmlProcessInfo), nameof(NvmlProcessInfo.ComputeInstanceId), 20)]
    [InlineData(typeof(NvmlFieldValue), nameof(NvmlFieldValue.ScopeId), 4)]
    [InlineData(typeof(NvmlFieldValue), nameof(NvmlFieldValue.TimestampMicroseconds), 8)]
    [InlineData(typeof(NvmlFieldValue), nameof(NvmlFieldValue.LatencyMicroseconds), 16)]
    [InlineData(typeof(NvmlFieldValue), nameof(NvmlFieldValue.ValueType), 24)]
    [InlineData(typeof(NvmlFieldValue), nameof(NvmlFieldValue.Return), 28)]
    [InlineData(typeof(NvmlFieldValue), nameof(NvmlFieldValue.Value), 32)]
    [InlineData(typeof(NvmlEventData), nameof(NvmlEventData.EventType), 8)]
    [InlineData(typeof(NvmlEventData), nameof(NvmlEventData.EventData), 16)]
    [InlineData(typeof(NvmlEventData), nameof(NvmlEventData.GpuInstanceId), 24)]
    [InlineData(typeof(NvmlEventData), nameof(NvmlEventData.ComputeInstanceId), 28)]
    [InlineData(typeof(NvmlTemperatureV1), nameof(NvmlTemperatureV1.SensorType), 4)]
    [InlineData(typeof(NvmlTemperatureV1), nameof(NvmlTemperatureV1.Temperature), 8)]
    public void Field_offsets_match_the_C_ABI(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void Versioned_structs_carry_NVML_STRUCT_VERSION()
    {
        Assert.Equal(0x02000028u, NvmlMemoryV2.Version2);
        Assert.Equal(0x0100000Cu, NvmlTemperatureV1.Version1);
    }

    [Fact]
    public void The_value_union_reads_every_type()
    {
        var v = new NvmlFieldValue { ValueType = NvmlValueType.SignedLongLong };
        v.Value.SignedLongLong = -1;
        Assert.Equal(-1, v.AsDouble());
        v.ValueType = NvmlValueType.UnsignedLongLong;
        Assert.Equal(ulong.MaxValue, v.AsDouble());
        v.ValueType = NvmlValueType.Double;
        v.Value.Double = 12.5;
        Assert.Equal(12.5, v.AsDouble());
        v.ValueType = 42; // a type from a future driver
        Assert.True(double.IsNaN(v.AsDouble()));
    }
}
