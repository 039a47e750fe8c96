using Akka.Actor;
using Akka.TestKit;
using Tracelet.Abstractions;
using Tracelet.Actors.Plugins;
using Xunit;
using Xunit.Abstractions;

namespace Tracelet.Actors.Tests;

/// <summary>
/// A TestKit whose ActorSystem journals to the SQLite file of a fresh <see cref="TestNode"/>, with
/// helpers that talk to a PluginManager and wait for what an operator would see in status.
/// </summary>
public abstract class PluginManagerSpecBase : Akka.TestKit.Xunit2.TestKit
{
    /// <summary>How long a lifecycle command may take here: the first write also creates the journal tables.</summary>
    protected static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);

    private protected PluginManagerSpecBase(TestNode node, string systemName, ITestOutputHelper output)
        : base(node.SystemConfig, systemName, output)
    {
        Node = node;
    }

    private protected TestNode Node { get; }

    /// <summary>Starts a PluginManager that discovers the test plugins, with these settings (default: the node's).</summary>
    protected IActorRef StartManager(TraceletSettings? settings = null, ActorSystem? system = null, string name = "plugin-manager", Func<DiscoveryResult>? discover = null,
        IPluginUpgradeSource? upgrades = null)
    {
        discover ??= Node.Discover;
        return (system ?? Sys).ActorOf(PluginManagerActor.Props(settings ?? Node.Settings, discover, upgrades: upgrades), name);
    }

    protected T Ask<T>(IActorRef manager, object message, ActorSystem? system = null)
    {
        var probe = CreateTestProbe(system ?? Sys);
        manager.Tell(message, probe.Ref);
        return probe.ExpectMsg<T>(Dilated(CommandTimeout));
    }

    protected NodePluginStatus Status(IActorRef manager, ActorSystem? system = null) =>
        Ask<CurrentPluginStatus>(manager, GetPluginStatus.Instance, system).Status;

    /// <summary>Waits until discovery and boot are done and no operation is running.</summary>
    protected NodePluginStatus AwaitReady(IActorRef manager, ActorSystem? system = null)
    {
        NodePluginStatus? status = null;
        AwaitAssert(() =>
        {
            status = Status(manager, system);
            Assert.True(status.Ready, "the PluginManager is not ready yet");
        }, Dilated(CommandTimeout), TimeSpan.FromMilliseconds(50));
        return status!;
    }

    /// <summary>Sends a lifecycle command and expects it to succeed with the plugin in <paramref name="state"/>.</summary>
    protected void Succeeds(IActorRef manager, IPluginManagerCommand command, PluginState state, ActorSystem? system = null)
    {
        var result = Ask<PluginOperationResult>(manager, command, system);
        var succeeded = Assert.IsType<PluginOperationSucceeded>(result);
        Assert.Equal(state, succeeded.State);
    }

    /// <summary>Sends a lifecycle command and expects an explicit failure.</summary>
    protected PluginOperationFailed Fails(IActorRef manager, IPluginManagerCommand command, ActorSystem? system = null) =>
        Assert.IsType<PluginOperationFailed>(Ask<PluginOperationResult>(manager, command, system));

    /// <summary>Polls status until the plugin's entry passes <paramref name="assert"/>; returns that entry.</summary>
    protected PluginStatusEntry AwaitPlugin(IActorRef manager, string name, Action<PluginStatusEntry> assert, ActorSystem? system = null, TimeSpan? within = null)
    {
        PluginStatusEntry? entry = null;
        AwaitAssert(() =>
        {
            var status = Status(manager, system);
            Assert.True(status.Plugins.TryGetValue(name, out entry), $"'{name}' is not in status");
            assert(entry!);
        }, Dilated(within ?? CommandTimeout), TimeSpan.FromMilliseconds(50));
        return entry!;
    }

    protected PluginStatusEntry AwaitState(IActorRef manager, string name, PluginStatusState state, ActorSystem? system = null) =>
        AwaitPlugin(manager, name, e => Assert.Equal(state, e.State), system);

    protected static long Number(IReadOnlyDictionary<string, object?>? map, string key)
    {
        Assert.NotNull(map);
        Assert.True(map.TryGetValue(key, out var value), $"'{key}' is missing from {string.Join(", ", map.Keys)}");
        return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Node.Dispose();
    }
}
