using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Abstractions.Akka;
using Tracelet.Nvml;
using Tracelet.Nvml.Interop;

namespace Tracelet.Collectors.Gpu;

/// <summary>
/// NVIDIA GPUs through our own NVML bindings. The plugin owns the node's one NVML session; its
/// worker actor runs one actor per GPU (keyed by UUID) on a dedicated thread each, and an Xid
/// event watcher on another. Without a usable NVML (no library, no driver, a container without
/// the "utility" capability) it goes to Error once with "NVML not available: &lt;reason&gt;".
/// </summary>
public sealed class GpuCollector : CollectorPlugin, IActorBackedPlugin
{
    private GpuCollectorSettings _settings = GpuCollectorSettings.Create(PluginConfig.Empty);
    private NvmlSession? _session;
    private NvmlInventory? _inventory;
    private IActorRef? _worker;
    private GpuCollectorStatus? _lastStatus;
    private volatile bool _abandoned;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("gpu", "1.0.0", PluginType.Collector)
    {
        Description = "NVIDIA GPUs through NVML: utilization, memory, power, energy, clocks, throttling, PCIe, NVLink, ECC, remapped rows, processes, MIG, Xid events",
        Author = "Tracelet",
        Capabilities = ["gpu", "nvml", "xid"],
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "seconds, or a duration like \"10s\"" },
                "library-path": { "type": "string", "description": "absolute path of libnvidia-ml.so.1; empty: TRACELET_NVML_PATH, then the loader's search path and the usual driver folders" },
                "processes": { "type": "boolean", "description": "sample each GPU's compute processes and their memory" },
                "job-labels": { "type": "boolean", "description": "label process samples with LOCAL_RANK, RANK, SLURM_JOB_ID, CUDA_VISIBLE_DEVICES from /proc/<pid>/environ" },
                "pcie-throughput": { "type": "boolean", "description": "sample PCIe TX/RX (the driver measures each for 20 ms)" },
                "collect-timeout": { "type": ["number", "string"], "description": "how long a collection waits for the GPUs" },
                "watchdog": { "type": ["number", "string"], "description": "a device call running longer than this is flagged stalled" },
                "lost-retry": { "type": ["number", "string"], "description": "how often a lost GPU is looked up again by UUID" },
                "init-timeout": { "type": ["number", "string"], "description": "how long NVML may take to initialize and find the GPUs" },
                "allow-fake": { "type": "boolean", "description": "accept the test fake of NVML (tests only)" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    protected override TimeSpan DefaultInterval => TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken).ConfigureAwait(false);
        _settings = GpuCollectorSettings.Create(context.Config);
    }

    /// <inheritdoc />
    public override async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        // Loading, nvmlInit and the first handle lookups can take seconds (no persistence mode) or
        // hang in a sick driver: they run on a thread of their own, never a pool thread, and start
        // gives up after init-timeout. A hung thread is left behind; the pool is untouched.
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Open();
                opened.TrySetResult();
            }
            catch (Exception e)
            {
                opened.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "tracelet-nvml-init" };
        thread.Start();
        try
        {
            await opened.Task.WaitAsync(_settings.InitTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _abandoned = true; // if the init thread finishes after all, it gives its session back
            throw new PluginPermanentException($"NVML not available: nvmlInit_v2 and GPU discovery did not finish within {_settings.InitTimeout.TotalSeconds:0.#} s (a driver without persistence mode, or a hung driver)");
        }
    }

    private void Open()
    {
        var loaded = NvmlLibrary.Load(_settings.LibraryPath);
        if (loaded.Library is not { } library) throw new PluginPermanentException($"NVML not available: {loaded.Error}");
        if (library.IsFake && _settings.RefuseFake)
            throw new PluginPermanentException($"NVML not available: {library.Path} is Tracelet's test fake (set allow-fake to use it)");
        try
        {
            _session = NvmlSession.Open(library);
        }
        catch (NvmlException e)
        {
            throw new PluginPermanentException($"NVML not available: {e.Message}", e);
        }
        try
        {
            _inventory = _session.Discover();
        }
        catch (NvmlException e)
        {
            _session.Release();
            _session = null;
            throw new PluginPermanentException($"NVML not available: {e.Message}", e);
        }
        if (_abandoned)
        {
            _session.Release();
            _session = null;
        }
    }

    /// <inheritdoc />
    public Props CreateWorker() =>
        GpuCollectorActor.Props(_session!, _inventory!, Context.NodeId, Metadata.Name, _settings);

    /// <inheritdoc />
    public void AttachWorker(IActorRef worker) => _worker = worker;

    /// <inheritdoc />
    public override async ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        if (_worker is null) return;
        // The worker answers within collect-timeout even when a GPU hangs; the margin covers its own mailbox.
        var collected = await _worker.Ask<GpusCollected>(CollectGpus.Instance, _settings.CollectTimeout + TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        foreach (var sample in collected.Samples) writer.Write(sample);
        _lastStatus = collected.Status;
        // NVML itself failed (uninitialized, driver/library mismatch): no GPU of this session can
        // come back, so fail this collection; the runtime restarts the plugin with a new session.
        if (collected.LibraryFailure is { } failure) throw new InvalidOperationException(failure);
    }

    /// <inheritdoc />
    public override async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        if (_worker is { } worker)
        {
            _worker = null;
            try
            {
                await worker.GracefulStop(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TaskCanceledException or AskTimeoutException)
            {
                // A device actor stuck in the driver: its own hold keeps the session open until the call returns.
            }
        }
        _session?.Release();
        _session = null;
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (_session is { } session)
        {
            status["library"] = session.Library.Path;
            status["memory_api"] = session.Library.MemoryVersion;
        }
        if (_inventory is { } inventory)
        {
            status["driver"] = inventory.DriverVersion;
            status["cuda_driver"] = inventory.CudaDriverVersion == 0 ? null : $"{inventory.CudaDriverVersion / 1000}.{inventory.CudaDriverVersion % 1000 / 10}";
            status["gpu_count"] = inventory.Gpus.Count;
            if (inventory.Failures.Count > 0)
                status["unopened"] = inventory.Failures.Select(f => $"index {f.Index}: {f.Reason}").ToArray();
        }
        if (_lastStatus is { } last)
        {
            status["events"] = last.Events;
            status["late_answers"] = last.LateAnswers;
            status["xid_samples_dropped"] = last.XidSamplesDropped;
            status["gpus"] = last.Devices.Select(DeviceStatus).ToArray();
        }
        return status;
    }

    private static Dictionary<string, object?> DeviceStatus(GpuDeviceStatus d)
    {
        var entry = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["index"] = d.Index,
            ["uuid"] = d.Uuid,
            ["name"] = d.Name,
            ["pci_bus_id"] = d.PciBusId,
            ["state"] = d.State,
            ["unsupported"] = d.Unsupported.ToArray(),
            ["transient_errors"] = d.TransientErrors,
            ["last_sample_us"] = Math.Round(d.LastSampleMicroseconds, 1),
            ["xid_count"] = d.XidCount,
            ["ecc_events"] = d.EccEvents,
        };
        if (d.Error is not null) entry["error"] = d.Error;
        if (d.MigDevices > 0) entry["mig_devices"] = d.MigDevices;
        if (d.LastXid is { } xid)
        {
            entry["last_xid"] = xid;
            entry["last_xid_at"] = d.LastXidAt;
        }
        return entry;
    }
}
