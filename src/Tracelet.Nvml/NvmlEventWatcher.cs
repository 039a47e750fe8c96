using Tracelet.Nvml.Interop;

namespace Tracelet.Nvml;

/// <summary>
/// Waits for NVML events (Xid errors, ECC, lost GPUs) on a dedicated thread, never an actor's:
/// <c>nvmlEventSetWait</c> blocks. Waits in short slices so <see cref="Dispose"/> is honoured
/// within one slice; the thread frees the event set before giving back its hold on the session.
/// </summary>
public sealed class NvmlEventWatcher : IDisposable
{
    /// <summary>The events asked for (masked by what each device supports).</summary>
    public const ulong WatchedEvents = NvmlEventTypes.XidCriticalError | NvmlEventTypes.SingleBitEccError | NvmlEventTypes.DoubleBitEccError;

    private readonly NvmlSession _session;
    private readonly nint _set;
    private readonly IReadOnlyDictionary<nint, NvmlGpu> _byHandle;
    private readonly Action<NvmlEvent> _onEvent;
    private readonly uint _sliceMilliseconds;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private volatile bool _stopping;

    private NvmlEventWatcher(NvmlSession session, nint set, IReadOnlyDictionary<nint, NvmlGpu> byHandle, Action<NvmlEvent> onEvent, uint sliceMilliseconds)
    {
        _session = session;
        _set = set;
        _byHandle = byHandle;
        _onEvent = onEvent;
        _sliceMilliseconds = sliceMilliseconds;
        _thread = new Thread(Run) { IsBackground = true, Name = "tracelet-nvml-events" };
    }

    /// <summary>The GPUs whose events are registered (some devices support none).</summary>
    public IReadOnlyCollection<NvmlGpu> Watched => (IReadOnlyCollection<NvmlGpu>)_byHandle.Values;

    /// <summary>
    /// Creates the event set, registers <paramref name="gpus"/> (MIG: the parent; events carry the
    /// instance ids) and starts the thread. Null with a reason when this driver has no events.
    /// <paramref name="onEvent"/> runs on the watcher thread: keep it to a Tell.
    /// </summary>
    public static NvmlEventWatcher? Start(NvmlSession session, IEnumerable<NvmlGpu> gpus, Action<NvmlEvent> onEvent, out string? unavailable, uint sliceMilliseconds = 500)
    {
        var lib = session.Library;
        unavailable = null;
        if (!lib.SupportsEvents)
        {
            unavailable = "this driver exports no event functions";
            return null;
        }
        if (!session.TryAcquire())
        {
            unavailable = "the NVML session has ended";
            return null;
        }
        var rc = lib.TryCreateEventSet(out var set);
        if (rc != NvmlReturn.Success)
        {
            session.Release();
            unavailable = $"nvmlEventSetCreate returned {(int)rc} ({lib.ErrorString(rc)})";
            return null;
        }
        var registered = new Dictionary<nint, NvmlGpu>();
        foreach (var gpu in gpus)
        {
            if (lib.TryGetSupportedEventTypes(gpu.Handle, out var supported) != NvmlReturn.Success) continue;
            var mask = supported & WatchedEvents;
            if (mask != 0 && lib.RegisterEvents(gpu.Handle, mask, set) == NvmlReturn.Success)
                registered[gpu.Handle.Value] = gpu;
        }
        if (registered.Count == 0)
        {
            lib.FreeEventSet(set);
            session.Release();
            unavailable = "no GPU supports Xid or ECC events";
            return null;
        }
        var watcher = new NvmlEventWatcher(session, set, registered, onEvent, sliceMilliseconds);
        watcher._thread.Start();
        return watcher;
    }

    private void Run()
    {
        var lib = _session.Library;
        var lostReported = false;
        try
        {
            while (!_stopping)
            {
                var rc = lib.WaitForEvent(_set, _sliceMilliseconds, out var data);
                if (_stopping) break;
                switch (rc)
                {
                    case NvmlReturn.Success:
                        lostReported = false;
                        _byHandle.TryGetValue(data.Device, out var gpu);
                        Deliver(new NvmlEvent(gpu, data.EventType, data.EventData, data.GpuInstanceId, data.ComputeInstanceId, NvmlReturn.Success));
                        break;
                    case NvmlReturn.Timeout:
                        break;
                    case NvmlReturn.GpuIsLost:
                        // Names no device, and a driver may answer it to every wait from now on: report it
                        // once, and wait a slice before asking again instead of spinning.
                        if (!lostReported) Deliver(new NvmlEvent(null, 0, 0, NvmlProcessInfo.NoInstance, NvmlProcessInfo.NoInstance, rc));
                        lostReported = true;
                        _stop.Wait((int)_sliceMilliseconds);
                        break;
                    default:
                        // The set is unusable: report and stop watching.
                        Deliver(new NvmlEvent(null, 0, 0, NvmlProcessInfo.NoInstance, NvmlProcessInfo.NoInstance, rc));
                        return;
                }
            }
        }
        finally
        {
            lib.FreeEventSet(_set);
            _session.Release();
        }
    }

    private void Deliver(NvmlEvent e)
    {
        try
        {
            _onEvent(e);
        }
        catch (Exception)
        {
            // The callback is a Tell; if it throws there is no one to tell. Keep watching.
        }
    }

    /// <summary>Asks the thread to stop after its current slice; it frees the set and releases the session itself.</summary>
    public void Dispose()
    {
        _stopping = true;
        _stop.Set();
    }

    /// <summary>Waits for the thread to end (tests, shutdown paths that may block).</summary>
    public bool Join(TimeSpan timeout) => _thread.Join(timeout);
}

/// <summary>
/// One event. <see cref="Gpu"/> is null when the wait itself failed (<see cref="Outcome"/> says
/// why: GPU_IS_LOST without a device, or a broken set).
/// </summary>
public sealed record NvmlEvent(NvmlGpu? Gpu, ulong EventType, ulong EventData, uint GpuInstanceId, uint ComputeInstanceId, NvmlReturn Outcome)
{
    public bool IsXid => Outcome == NvmlReturn.Success && (EventType & NvmlEventTypes.XidCriticalError) != 0;

    /// <summary>A single- or double-bit ECC error event.</summary>
    public bool IsEcc => Outcome == NvmlReturn.Success && (EventType & (NvmlEventTypes.SingleBitEccError | NvmlEventTypes.DoubleBitEccError)) != 0;

    /// <summary>
    /// Xids caused by the application (illegal address, MMU faults from user code...), not the
    /// hardware: reported but not counted as device faults, as k8s-device-plugin does.
    /// </summary>
    public bool IsApplicationXid => IsXid && EventData is 13 or 31 or 43 or 45 or 68;
}
