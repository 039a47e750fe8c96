using Tracelet.Nvml.Interop;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Nvml.Tests;

/// <summary>The fake's state is process-global: every spec that drives it runs in this one collection, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FakeNvmlCollection
{
    public const string Name = "fake-nvml";
}

/// <summary>Loads the fake by absolute path (never by SONAME) and resets it before each test.</summary>
public abstract class FakeNvmlSpec : IDisposable
{
    private readonly List<NvmlEventWatcher> _watchers = [];

    protected FakeNvmlSpec(string profile = FakeNvml.Current)
    {
        Control = FakeNvml.Control(profile);
        Control.Reset();
        var loaded = NvmlLibrary.Load(FakeNvml.PathFor(profile));
        Assert.True(loaded.Library is not null, loaded.Error);
        // The guard that keeps these tests off a real driver: only the fake exports this marker.
        Assert.True(loaded.Library!.IsFake, $"{loaded.Library.Path} is not the fake NVML");
        Library = loaded.Library;
    }

    protected FakeNvmlControl Control { get; }

    protected NvmlLibrary Library { get; }

    protected NvmlSession Open() => NvmlSession.Open(Library);

    /// <summary>Starts a watcher that is stopped and joined after the test, so its thread cannot touch the next test's fake.</summary>
    protected NvmlEventWatcher? StartWatcher(NvmlSession session, IEnumerable<NvmlGpu> gpus, Action<NvmlEvent> onEvent, out string? unavailable, uint sliceMilliseconds = 50)
    {
        var watcher = NvmlEventWatcher.Start(session, gpus, onEvent, out unavailable, sliceMilliseconds);
        if (watcher is not null) _watchers.Add(watcher);
        return watcher;
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
            Assert.True(watcher.Join(TimeSpan.FromSeconds(5)), "an event watcher thread did not end");
        }
    }
}
