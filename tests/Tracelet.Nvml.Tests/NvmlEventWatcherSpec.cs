using System.Collections.Concurrent;
using Tracelet.Nvml.Interop;
using Xunit;

namespace Tracelet.Nvml.Tests;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlEventWatcherSpec : FakeNvmlSpec
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public void Xid_events_arrive_with_their_GPU_and_application_Xids_are_marked()
    {
        var session = Open();
        var gpus = session.Discover().Gpus;
        var events = new BlockingCollection<NvmlEvent>();
        var watcher = StartWatcher(session, gpus, events.Add, out var why, sliceMilliseconds: 50);
        Assert.True(watcher is not null, why);

        Control.InjectXid(0, 79);
        Control.InjectXid(1, 43);

        Assert.True(events.TryTake(out var first, Patience));
        Assert.Equal((gpus[0].Uuid, 79ul, true, false), (first!.Gpu?.Uuid, first.EventData, first.IsXid, first.IsApplicationXid));
        Assert.True(events.TryTake(out var second, Patience));
        Assert.Equal((gpus[1].Uuid, 43ul, true), (second!.Gpu?.Uuid, second.EventData, second.IsApplicationXid));
        session.Release();
    }

    [Fact]
    public void A_lost_GPU_is_reported_by_the_wait_once()
    {
        var session = Open();
        var gpus = session.Discover().Gpus;
        var events = new BlockingCollection<NvmlEvent>();
        var watcher = StartWatcher(session, gpus, events.Add, out _, sliceMilliseconds: 50)!;

        Control.SetGpuLost(1, 0);

        Assert.True(events.TryTake(out var lost, Patience));
        Assert.Equal(NvmlReturn.GpuIsLost, lost!.Outcome);
        Assert.False(events.TryTake(out _, TimeSpan.FromMilliseconds(300)), "the loss was reported more than once");
        session.Release();
    }

    [Fact]
    public void Disposing_ends_the_thread_frees_the_set_and_releases_the_session()
    {
        var session = Open();
        var watcher = StartWatcher(session, session.Discover().Gpus, _ => { }, out _, sliceMilliseconds: 100)!;
        session.Release(); // only the watcher holds NVML now

        watcher.Dispose();

        Assert.True(watcher.Join(TimeSpan.FromSeconds(5)), "the watcher thread did not end");
        Assert.Equal(1ul, Control.CallCount("nvmlEventSetFree"));
        Assert.Equal(0, Control.RefCount);
        Assert.False(session.IsOpen);
    }
}
