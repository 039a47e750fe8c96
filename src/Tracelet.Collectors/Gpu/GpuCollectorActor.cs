using System.Collections.Immutable;
using System.Globalization;
using Akka.Actor;
using Akka.Event;
using Tracelet.Abstractions;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

namespace Tracelet.Collectors.Gpu;

/// <summary>
/// The gpu plugin's worker: one <see cref="GpuDeviceActor"/> per GPU, named by UUID, and the
/// Xid event watcher. A collection asks every device that is not still busy with the previous
/// request, and answers after all have replied or <see cref="GpuCollectorSettings.CollectTimeout"/>:
/// a GPU stuck in the driver delays nothing and is flagged by the watchdog. At most one request
/// is outstanding per device, so no mailbox grows while a call hangs.
/// </summary>
internal sealed class GpuCollectorActor : ReceiveActor, IWithTimers
{
    /// <summary>Xid samples kept between collections; more are counted and dropped (a storm of Xids is one fault).</summary>
    private const int MaxPendingXidSamples = 256;

    private readonly NvmlSession _session;
    private readonly NvmlInventory _inventory;
    private readonly string _nodeId;
    private readonly string _source;
    private readonly GpuCollectorSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, DeviceSlot> _devices = new(StringComparer.Ordinal);
    private readonly List<MetricSample> _xidSamples = [];
    private NvmlEventWatcher? _watcher;
    private string _events = "off";
    private bool _holdsSession;
    private long _sequence;
    private Collection? _collection;
    private long _lateAnswers;
    private long _xidDropped;
    private string? _libraryFailure;

    public GpuCollectorActor(NvmlSession session, NvmlInventory inventory, string nodeId, string source, GpuCollectorSettings settings)
    {
        _session = session;
        _inventory = inventory;
        _nodeId = nodeId;
        _source = source;
        _settings = settings;
        Receive<CollectGpus>(_ => Collect());
        Receive<DeviceSampled>(Handle);
        Receive<DeviceRestarted>(Handle);
        Receive<Terminated>(Handle);
        Receive<CollectionDeadline>(d => { if (_collection?.Sequence == d.Sequence) Finish(); });
        Receive<NvmlEvent>(Handle);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>On the native-calls dispatcher too: it registers events and may make the session's last (shutdown) call.</summary>
    public static Props Props(NvmlSession session, NvmlInventory inventory, string nodeId, string source, GpuCollectorSettings settings) =>
        Akka.Actor.Props.Create(() => new GpuCollectorActor(session, inventory, nodeId, source, settings)).WithDispatcher(GpuDeviceActor.Dispatcher);

    /// <summary>
    /// A device actor that throws outside its own guard is restarted (it answers
    /// <see cref="DeviceRestarted"/>); one that keeps failing is stopped and shown as unavailable.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(maxNrOfRetries: 10, withinTimeRange: TimeSpan.FromMinutes(1), localOnlyDecider: _ => Directive.Restart);

    protected override void PreStart()
    {
        _holdsSession = _session.TryAcquire();
        if (!_holdsSession)
        {
            _events = "off: the NVML session has ended";
            return;
        }
        foreach (var gpu in _inventory.Gpus)
        {
            var actor = Context.ActorOf(GpuDeviceActor.Props(_session, gpu, _nodeId, _source, _settings), ActorName(gpu.Uuid));
            Context.Watch(actor);
            _devices[gpu.Uuid] = new DeviceSlot(gpu, actor, GpuDeviceActor.DeviceLabels(_nodeId, gpu));
        }
        var self = Self;
        _watcher = NvmlEventWatcher.Start(_session, _inventory.Gpus, e => self.Tell(e), out var unavailable);
        _events = _watcher is null ? $"off: {unavailable}" : $"watching {_watcher.Watched.Count} GPU(s)";
    }

    protected override void PostStop()
    {
        // The watcher thread frees its event set and releases its own hold within one wait slice.
        _watcher?.Dispose();
        if (_holdsSession) _session.Release();
        _holdsSession = false;
    }

    /// <summary>Actor names allow only some characters; UUIDs are safe, but a driver's odd string must not crash us.</summary>
    internal static string ActorName(string uuid) =>
        "gpu-" + new string(uuid.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '_').ToArray());

    private void Collect()
    {
        if (_collection is not null) Finish(); // an Ask that gave up: answer it anyway, then start afresh
        var sequence = ++_sequence;
        var collection = new Collection(sequence, Sender);
        var now = DateTimeOffset.UtcNow;
        foreach (var slot in _devices.Values)
        {
            if (slot.Stopped) continue;
            if (slot.AskedAt is { } askedAt)
            {
                // Still inside the previous request: do not queue another behind a hung call.
                if (now - askedAt > _settings.Watchdog && !slot.Stalled)
                {
                    slot.Stalled = true;
                    _log.Warning("GPU {Index} ({Uuid}) has not answered for {Seconds:F0} s: an NVML call is hanging in the driver", slot.Gpu.Index, slot.Gpu.Uuid, (now - askedAt).TotalSeconds);
                }
                continue;
            }
            slot.AskedAt = now;
            slot.Actor.Tell(new SampleDevice(sequence));
            collection.Awaiting.Add(slot.Gpu.Uuid);
        }
        _collection = collection;
        if (collection.Awaiting.Count == 0) Finish();
        else Timers.StartSingleTimer("deadline", new CollectionDeadline(sequence), _settings.CollectTimeout);
    }

    private void Handle(DeviceSampled answer)
    {
        if (!_devices.TryGetValue(answer.Uuid, out var slot)) return;
        slot.AskedAt = null;
        slot.Stalled = false;
        slot.Last = answer.Status;
        _libraryFailure ??= answer.LibraryFailure;
        if (_collection is { } c && c.Sequence == answer.Sequence && c.Awaiting.Remove(answer.Uuid))
        {
            c.Samples.AddRange(answer.Samples);
            if (c.Awaiting.Count == 0) Finish();
        }
        else
        {
            _lateAnswers++; // answered after its collection closed: those samples are stale, the next tick has fresh ones
        }
    }

    private void Handle(DeviceRestarted restarted)
    {
        if (!_devices.TryGetValue(restarted.Uuid, out var slot)) return;
        _log.Warning("GPU {Index} ({Uuid}): its actor restarted after {Reason}", slot.Gpu.Index, slot.Gpu.Uuid, restarted.Reason);
        slot.AskedAt = null;
        slot.Stalled = false;
        slot.Last = StatusOf(slot) with { Error = $"restarted after {restarted.Reason}" };
        if (_collection is { } c && c.Awaiting.Remove(restarted.Uuid) && c.Awaiting.Count == 0) Finish();
    }

    private void Handle(Terminated terminated)
    {
        var slot = _devices.Values.FirstOrDefault(s => s.Actor.Equals(terminated.ActorRef));
        if (slot is null) return;
        slot.Stopped = true;
        slot.AskedAt = null;
        slot.Last = StatusOf(slot) with { State = GpuDeviceStatus.Unavailable, Error = "its actor stopped after failing repeatedly" };
        if (_collection is { } c && c.Awaiting.Remove(slot.Gpu.Uuid) && c.Awaiting.Count == 0) Finish();
    }

    private void Handle(NvmlEvent e)
    {
        if (e.Outcome != NvmlReturn.Success)
        {
            _events = e.Outcome == NvmlReturn.GpuIsLost
                ? $"watching; a wait reported a lost GPU at {DateTimeOffset.UtcNow:O}"
                : $"stopped: nvmlEventSetWait returned {(int)e.Outcome} ({_session.Library.ErrorString(e.Outcome)})";
            return;
        }
        if (e.Gpu is null || !_devices.TryGetValue(e.Gpu.Uuid, out var slot)) return; // a device we do not sample
        if (e.IsEcc)
        {
            slot.EccEvents++;
            _log.Warning("GPU {Index} ({Uuid}) reported an ECC error event ({Kind})", slot.Gpu.Index, slot.Gpu.Uuid, (e.EventType & NvmlEventTypes.DoubleBitEccError) != 0 ? "double-bit" : "single-bit");
        }
        if (!e.IsXid) return;
        var now = DateTimeOffset.UtcNow;
        if (!e.IsApplicationXid) slot.XidCount++;
        slot.LastXid = e.EventData;
        slot.LastXidAt = now;
        _log.Warning("GPU {Index} ({Uuid}) reported Xid {Xid}{Kind}", slot.Gpu.Index, slot.Gpu.Uuid, e.EventData, e.IsApplicationXid ? " (application error)" : "");
        if (_xidSamples.Count >= MaxPendingXidSamples)
        {
            _xidDropped++;
            return;
        }
        var labels = slot.Labels.Add(new MetricLabel(GpuLabels.Code, e.EventData.ToString(CultureInfo.InvariantCulture)));
        _xidSamples.Add(new MetricSample(GpuMetrics.Xid, MetricType.System, e.EventData, now, _source, Labels: labels));
    }

    private void Finish()
    {
        var c = _collection!;
        _collection = null;
        Timers.Cancel("deadline");
        var now = DateTimeOffset.UtcNow;
        c.Samples.AddRange(_xidSamples);
        _xidSamples.Clear();
        if (_watcher is not null)
        {
            foreach (var slot in _devices.Values)
                c.Samples.Add(new MetricSample(GpuMetrics.XidErrors, MetricType.System, slot.XidCount, now, _source, Labels: slot.Labels));
        }
        var statuses = _devices.Values.OrderBy(s => s.Gpu.Index).Select(StatusOf).ToImmutableArray();
        c.ReplyTo.Tell(new GpusCollected(c.Samples.ToImmutable(), new GpuCollectorStatus(statuses, _events, _lateAnswers, _xidDropped), _libraryFailure));
    }

    private static GpuDeviceStatus StatusOf(DeviceSlot slot)
    {
        var status = slot.Last ?? new GpuDeviceStatus(slot.Gpu.Index, slot.Gpu.Uuid, slot.Gpu.Name, slot.Gpu.PciBusId, GpuDeviceStatus.Ok, null, [], 0, slot.Gpu.MigDevices.Count, 0, 0, null, null);
        if (slot.Stalled)
            status = status with { State = GpuDeviceStatus.Stalled, Error = $"an NVML call has not returned since {slot.AskedAt:O}" };
        return status with { XidCount = slot.XidCount, LastXid = slot.LastXid, LastXidAt = slot.LastXidAt, EccEvents = slot.EccEvents };
    }

    private sealed class DeviceSlot(NvmlGpu gpu, IActorRef actor, ImmutableArray<MetricLabel> labels)
    {
        public NvmlGpu Gpu { get; } = gpu;
        public IActorRef Actor { get; } = actor;
        public ImmutableArray<MetricLabel> Labels { get; } = labels;
        public DateTimeOffset? AskedAt { get; set; }
        public bool Stalled { get; set; }
        public GpuDeviceStatus? Last { get; set; }
        public long XidCount { get; set; }
        public ulong? LastXid { get; set; }
        public DateTimeOffset? LastXidAt { get; set; }
        public long EccEvents { get; set; }
        public bool Stopped { get; set; }
    }

    private sealed class Collection(long sequence, IActorRef replyTo)
    {
        public long Sequence { get; } = sequence;
        public IActorRef ReplyTo { get; } = replyTo;
        public HashSet<string> Awaiting { get; } = new(StringComparer.Ordinal);
        public ImmutableArray<MetricSample>.Builder Samples { get; } = ImmutableArray.CreateBuilder<MetricSample>();
    }

    private sealed record CollectionDeadline(long Sequence);
}
