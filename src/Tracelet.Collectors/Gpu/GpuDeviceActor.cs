using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

namespace Tracelet.Collectors.Gpu;

/// <summary>
/// Samples one GPU (and its MIG devices) on a thread of its own (the <c>native-calls</c> pinned
/// dispatcher): a call that hangs in the driver holds only this actor, and its parent stops
/// asking it until it answers. On GPU_IS_LOST it drops the handle, answers <c>gpu.up = 0</c>,
/// and looks the GPU up again by UUID every <see cref="GpuCollectorSettings.LostRetry"/>.
/// </summary>
internal sealed class GpuDeviceActor : ReceiveActor
{
    public const string Dispatcher = "tracelet.dispatchers.native-calls";

    private readonly NvmlSession _session;
    private readonly NvmlGpu _gpu;
    private readonly GpuCollectorSettings _settings;
    private readonly GpuSampleConverter _converter;
    private readonly ProcessJobLabels? _jobLabels;
    private readonly List<(NvmlMigDevice Device, NvmlDeviceSampler Sampler, GpuReading Reading, GpuSampleConverter Converter)> _mig = [];
    private readonly GpuReading _reading = new();
    private NvmlDeviceSampler? _sampler;
    private bool _holdsSession;
    private string? _error;
    private DateTimeOffset _lostAt;
    private double _lastSampleMicroseconds;
    private int _lastSampleCount;
    private (NvmlDeviceSampler? Sampler, int SwitchedOff) _unsupportedFor;
    private ImmutableArray<string> _unsupported = [];

    public GpuDeviceActor(NvmlSession session, NvmlGpu gpu, string nodeId, string source, GpuCollectorSettings settings)
    {
        _session = session;
        _gpu = gpu;
        _settings = settings;
        _jobLabels = settings.Processes && settings.JobLabels ? new ProcessJobLabels() : null;
        _converter = new GpuSampleConverter(source, DeviceLabels(nodeId, gpu), _jobLabels);
        var migOptions = new GpuSamplerOptions(settings.Processes, false, IsMigDevice: true);
        foreach (var mig in gpu.MigDevices)
        {
            ImmutableArray<MetricLabel> labels =
            [
                new(GpuLabels.Node, nodeId),
                new(GpuLabels.Gpu, gpu.Index.ToString(CultureInfo.InvariantCulture)),
                new(GpuLabels.Uuid, mig.Uuid),
                new(GpuLabels.Model, mig.Name),
                new(GpuLabels.ParentUuid, gpu.Uuid),
                new(GpuLabels.GpuInstance, mig.GpuInstanceId.ToString(CultureInfo.InvariantCulture)),
                new(GpuLabels.ComputeInstance, mig.ComputeInstanceId.ToString(CultureInfo.InvariantCulture)),
            ];
            _mig.Add((mig, new NvmlDeviceSampler(session.Library, mig.Handle, migOptions), new GpuReading(), new GpuSampleConverter(source, labels, _jobLabels)));
        }
        Receive<SampleDevice>(Handle);
    }

    public static Props Props(NvmlSession session, NvmlGpu gpu, string nodeId, string source, GpuCollectorSettings settings) =>
        Akka.Actor.Props.Create(() => new GpuDeviceActor(session, gpu, nodeId, source, settings)).WithDispatcher(Dispatcher);

    public static ImmutableArray<MetricLabel> DeviceLabels(string nodeId, NvmlGpu gpu) =>
    [
        new(GpuLabels.Node, nodeId),
        new(GpuLabels.Gpu, gpu.Index.ToString(CultureInfo.InvariantCulture)),
        new(GpuLabels.Uuid, gpu.Uuid),
        new(GpuLabels.Model, gpu.Name),
    ];

    protected override void PreStart()
    {
        _holdsSession = _session.TryAcquire();
        if (_holdsSession) _sampler = new NvmlDeviceSampler(_session.Library, _gpu.Handle, Options);
        else _error = "the NVML session has ended";
    }

    protected override void PostStop()
    {
        // The last hold shuts NVML down; holding it until here means no call of ours can outlive the session.
        if (_holdsSession) _session.Release();
        _holdsSession = false;
    }

    private GpuSamplerOptions Options => new(_settings.Processes, _settings.PcieThroughput);

    private void Handle(SampleDevice request)
    {
        var started = Stopwatch.GetTimestamp();
        // Sized from the last tick so the array is filled in place and handed over without a copy.
        var samples = ImmutableArray.CreateBuilder<MetricSample>(Math.Max(_lastSampleCount, 8));
        if (_sampler is null) TryRecover();
        if (_sampler is not null) SampleAll(samples);
        else samples.Add(_converter.Down(DateTimeOffset.UtcNow));
        _jobLabels?.Sweep();
        _lastSampleMicroseconds = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        _lastSampleCount = samples.Count;
        var batch = samples.Count == samples.Capacity ? samples.MoveToImmutable() : samples.DrainToImmutable();
        Sender.Tell(new DeviceSampled(_gpu.Uuid, request.Sequence, batch, Status()));
    }

    private void SampleAll(ImmutableArray<MetricSample>.Builder samples)
    {
        var rc = _sampler!.Sample(_reading);
        if (rc != NvmlReturn.Success)
        {
            MarkLost(rc);
            samples.Add(_converter.Down(_reading.Timestamp));
            return;
        }
        _converter.Convert(_reading, samples);
        foreach (var (_, sampler, reading, converter) in _mig)
        {
            // A MIG device that fails leaves out its own samples only; the parent's are already in.
            if (sampler.Sample(reading) == NvmlReturn.Success) converter.Convert(reading, samples);
        }
    }

    private void MarkLost(NvmlReturn rc)
    {
        _sampler = null;
        _lostAt = DateTimeOffset.UtcNow;
        _error = $"{(NvmlErrors.Classify(rc) == NvmlErrorClass.DeviceLost ? "GPU lost" : "NVML failed")}: {(int)rc} ({_session.Library.ErrorString(rc)})";
    }

    private void TryRecover()
    {
        if (!_holdsSession || DateTimeOffset.UtcNow - _lostAt < _settings.LostRetry) return;
        _lostAt = DateTimeOffset.UtcNow;
        if (_session.Library.TryGetHandleByUuid(_gpu.Uuid, out var handle) != NvmlReturn.Success) return;
        _sampler = new NvmlDeviceSampler(_session.Library, handle, Options);
        _error = null;
    }

    private GpuDeviceStatus Status()
    {
        // Rebuilt only when a metric was switched off: status must not cost a tick allocations.
        if (_unsupportedFor != (_sampler, _sampler?.SwitchedOff ?? 0))
        {
            _unsupportedFor = (_sampler, _sampler?.SwitchedOff ?? 0);
            _unsupported = _sampler is null
                ? []
                : [.. _sampler.Unsupported.Select(u => $"{u.Metric}: {_session.Library.ErrorString(u.Code)}")];
        }
        var unsupported = _unsupported;
        return new GpuDeviceStatus(
            _gpu.Index, _gpu.Uuid, _gpu.Name, _gpu.PciBusId,
            _sampler is null ? (_holdsSession ? GpuDeviceStatus.Lost : GpuDeviceStatus.Unavailable) : GpuDeviceStatus.Ok,
            _error, unsupported, _sampler?.TransientErrors ?? 0, _mig.Count, _lastSampleMicroseconds, 0, null, null);
    }
}
