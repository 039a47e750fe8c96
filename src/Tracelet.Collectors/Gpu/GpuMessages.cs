using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Collectors.Gpu;

// Messages between the gpu plugin, its collector actor and the device actors. All stay inside one
// node (the samples travel later, in the plugin's batch), so none needs a serializer.

/// <summary>Plugin → collector actor: take one sample of every GPU.</summary>
internal sealed class CollectGpus
{
    public static readonly CollectGpus Instance = new();

    private CollectGpus() { }
}

/// <summary>
/// Collector actor → plugin: the samples of one collection, and every GPU's status.
/// <paramref name="LibraryFailure"/> says NVML itself became unusable (the plugin then fails and is restarted with a new session).
/// </summary>
internal sealed record GpusCollected(ImmutableArray<MetricSample> Samples, GpuCollectorStatus Status, string? LibraryFailure);

/// <summary>Collector actor → device actor: sample now; the sequence number pairs the answer with its collection.</summary>
internal sealed record SampleDevice(long Sequence);

/// <summary>Device actor → collector actor.</summary>
internal sealed record DeviceSampled(string Uuid, long Sequence, ImmutableArray<MetricSample> Samples, GpuDeviceStatus Status, string? LibraryFailure);

/// <summary>Device actor → collector actor after a restart: its request in flight was lost, ask it again.</summary>
internal sealed record DeviceRestarted(string Uuid, string Reason);

/// <summary>What the plugin shows in status.</summary>
public sealed record GpuCollectorStatus(
    ImmutableArray<GpuDeviceStatus> Devices,
    string Events,
    long LateAnswers,
    long XidSamplesDropped);

/// <summary>One GPU's state as the collector last saw it.</summary>
/// <param name="State">ok, lost, stalled or unavailable.</param>
/// <param name="Unsupported">Metrics switched off on this device after their first "not supported" answer, with that answer.</param>
/// <param name="LastSampleMicroseconds">How long the last sample of this device (and its MIG devices) took.</param>
public sealed record GpuDeviceStatus(
    uint Index,
    string Uuid,
    string Name,
    string PciBusId,
    string State,
    string? Error,
    ImmutableArray<string> Unsupported,
    long TransientErrors,
    int MigDevices,
    double LastSampleMicroseconds,
    long XidCount,
    ulong? LastXid,
    DateTimeOffset? LastXidAt,
    long EccEvents = 0)
{
    public const string Ok = "ok";
    public const string Lost = "lost";
    public const string Stalled = "stalled";
    public const string Unavailable = "unavailable";
}
