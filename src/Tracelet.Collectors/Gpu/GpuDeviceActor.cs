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
/// asking it until it answers. Every request gets an answer, even when sampling throws. On
/// GPU_IS_LOST it drops the GPU's handle and its MIG handles, answers <c>gpu.up = 0</c>, and looks
/// the GPU up again by UUID every <see cref="GpuCollectorSettings.LostRetry"/>, rediscovering its
/// MIG devices from the new handle. An answer that says NVML itself is unusable goes up as a
/// library failure: the plugin then restarts with a new session.
/// </summary>
internal sealed class GpuDeviceActor : ReceiveActor
{
    public const string Dispatcher = "tracelet.dispatchers.native-calls";

    private readonly NvmlSession _session;
    private readonly NvmlGpu _gpu;
    private readonly string _nodeId;
    private readonly string _source;
    private readonly GpuCollectorSettings _settings;
    private readonly GpuSampleConverter _converter;
    private readonly ProcessJobLabels? _jobLabels;
    private readonly List<MigSampler> _mig = [];
    private readonly GpuReading _reading = new();
    private NvmlDeviceSampler? _sampler;
    private bool _holdsSession;
    private string? _error;
    private string? _libraryFailure;
    private DateTimeOffset _lostAt;
    private double _lastSampleMicroseconds;
    private int _lastSampleCount;
    private (NvmlDeviceSampler? Sampler, int SwitchedOff) _unsupportedFor;
    private ImmutableArray<string> _unsupported = [];

    public GpuDeviceActor(NvmlSession session, NvmlGpu gpu, string nodeId, string source, GpuCollectorSettings settings)
    {
        _session = session;
        _gpu = gpu;
        _nodeId = nodeId;
        _source = source;
        _settings = settings;
        _jobLabels = settings.Processes && settings.JobLabels ? new ProcessJobLabels() : null;
        _converter = new GpuSampleConverter(source, DeviceLabels(nodeId, gpu), _jobLabels);
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
        if (!_holdsSession)
        {
            _error = "the NVML session has ended";
            return;
        }
        _sampler = new NvmlDeviceSampler(_session.Library, _gpu.Handle, Options);
        UseMigDevices(_gpu.MigDevices);
    }

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        // The request that failed got no answer: tell the parent this device can be asked again.
        Context.Parent.Tell(new DeviceRestarted(_gpu.Uuid, $"{reason.GetType().Name}: {reason.Message}"));
    }

    protected override void PostStop()
    {
        // The last hold shuts NVML down; holding it until here means no call of ours can outlive the session.
        if (_holdsSession) _session.Release();
        _holdsSession = false;
    }

    private GpuSamplerOptions Options => new(_settings.Processes, _settings.PcieThroughput);

    private void UseMigDevices(IReadOnlyList<NvmlMigDevice> devices)
    {
        _mig.Clear();
        var options = new GpuSamplerOptions(_settings.Processes, false, IsMigDevice: true);
        foreach (var mig in devices)
        {
            ImmutableArray<MetricLabel> labels =
            [
                new(GpuLabels.Node, _nodeId),
                new(GpuLabels.Gpu, _gpu.Index.ToString(CultureInfo.InvariantCulture)),
                new(GpuLabels.Uuid, mig.Uuid),
                new(GpuLabels.Model, mig.Name),
                new(GpuLabels.ParentUuid, _gpu.Uuid),
                new(GpuLabels.GpuInstance, mig.GpuInstanceId.ToString(CultureInfo.InvariantCulture)),
                new(GpuLabels.ComputeInstance, mig.ComputeInstanceId.ToString(CultureInfo.InvariantCulture)),
            ];
            _mig.Add(new MigSampler(mig, new NvmlDeviceSampler(_session.Library, mig.Handle, options), new GpuReading(), new GpuSampleConverter(_source, labels, _jobLabels)));
        }
    }

    private void Handle(SampleDevice request)
    {
        var started = Stopwatch.GetTimestamp();
        // Sized from the last tick so the array is filled in place and handed over without a copy.
        var samples = ImmutableArray.CreateBuilder<MetricSample>(Math.Max(_lastSampleCount, 8));
        try
        {
            if (_sampler is null && _libraryFailure is null) TryRecover();
            if (_sampler is not null) SampleAll(samples);
            else samples.Add(_converter.Down(DateTimeOffset.UtcNow));
            _jobLabels?.Sweep();
        }
        catch (Exception e)
        {
            // Never leave a request unanswered: the parent would wait for this GPU forever.
            samples.Clear();
            samples.Add(_converter.Down(DateTimeOffset.UtcNow));
            _error = $"sampling failed: {e.GetType().Name}: {e.Message}";
        }
        _lastSampleMicroseconds = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        _lastSampleCount = samples.Count;
        var batch = samples.Count == samples.Capacity ? samples.MoveToImmutable() : samples.DrainToImmutable();
        Sender.Tell(new DeviceSampled(_gpu.Uuid, request.Sequence, batch, Status(), _libraryFailure));
    }

    private void SampleAll(ImmutableArray<MetricSample>.Builder samples)
    {
        var rc = _sampler!.Sample(_reading);
        if (rc != NvmlReturn.Success)
        {
            Unusable(rc);
            samples.Add(_converter.Down(_reading.Timestamp));
            return;
        }
        _error = null;
        _converter.Convert(_reading, samples);
        foreach (var mig in _mig)
        {
            // A MIG device that fails leaves out its own samples only; the parent's are already in.
            if (mig.Sampler.Sample(mig.Reading) == NvmlReturn.Success) mig.Converter.Convert(mig.Reading, samples);
        }
    }

    private void Unusable(NvmlReturn rc)
    {
        var reason = $"{(int)rc} ({_session.Library.ErrorString(rc)})";
        _sampler = null;
        _mig.Clear(); // MIG handles die with their parent's: never call them again
        if (NvmlErrors.Classify(rc) == NvmlErrorClass.DeviceLost)
        {
            _lostAt = DateTimeOffset.UtcNow;
            _error = $"GPU lost: {reason}";
        }
        else
        {
            // Uninitialized, driver/library mismatch...: no device of this session can recover.
            _libraryFailure = $"NVML failed on GPU {_gpu.Index}: {reason}";
            _error = _libraryFailure;
        }
    }

    private void TryRecover()
    {
        if (!_holdsSession || DateTimeOffset.UtcNow - _lostAt < _settings.LostRetry) return;
        _lostAt = DateTimeOffset.UtcNow;
        if (_session.Library.TryGetHandleByUuid(_gpu.Uuid, out var handle) != NvmlReturn.Success) return;
        _sampler = new NvmlDeviceSampler(_session.Library, handle, Options);
        UseMigDevices(_session.DiscoverMig(handle));
        _error = null;
    }

    private GpuDeviceStatus Status()
    {
        // Rebuilt only when a metric was switched off: status must not cost a tick allocations.
        var switchedOff = (_sampler?.SwitchedOff ?? 0) + _mig.Sum(m => m.Sampler.SwitchedOff);
        if (_unsupportedFor != (_sampler, switchedOff))
        {
            _unsupportedFor = (_sampler, switchedOff);
            _unsupported = _sampler is null
                ? []
                : [.. _sampler.Unsupported.Select(u => $"{u.Metric}: {_session.Library.ErrorString(u.Code)}"),
                   .. _mig.SelectMany(m => m.Sampler.Unsupported.Select(u => $"MIG slot {m.Device.Slot} {u.Metric}: {_session.Library.ErrorString(u.Code)}"))];
        }
        var state = _sampler is not null ? GpuDeviceStatus.Ok
            : _holdsSession && _libraryFailure is null ? GpuDeviceStatus.Lost
            : GpuDeviceStatus.Unavailable;
        return new GpuDeviceStatus(
            _gpu.Index, _gpu.Uuid, _gpu.Name, _gpu.PciBusId, state,
            _error, _unsupported, _sampler?.TransientErrors ?? 0, _mig.Count, _lastSampleMicroseconds, 0, null, null);
    }

    private sealed record MigSampler(NvmlMigDevice Device, NvmlDeviceSampler Sampler, GpuReading Reading, GpuSampleConverter Converter);
}
