using Akka.Actor;
using Tracelet.Abstractions;
using Tracelet.Actors.Pipeline;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// Creates the actor that runs one plugin instance: a backend gets a <see cref="BackendInboxActor"/>
/// (its links' far end), every other plugin a <see cref="CollectorRunnerActor"/>. Both speak the
/// same protocol with the manager (<see cref="StartInstance"/>, <see cref="StopInstance"/>,
/// <see cref="InstanceInitialized"/>...).
/// </summary>
internal static class PluginInstance
{
    /// <param name="keepFailedWrites">
    /// A backend whose links are durable: a write that throws is not acknowledged, so its producers keep
    /// the batch and send it again to the next incarnation (zero loss), instead of counting it lost.
    /// </param>
    public static Props Props(PluginDescriptor descriptor, PluginContext context, int incarnation, PluginManagerSettings settings, IActorRef pipeline, bool keepFailedWrites) =>
        typeof(BackendPlugin).IsAssignableFrom(descriptor.PluginType)
            ? BackendInboxActor.Props(descriptor, context, incarnation, settings, pipeline, keepFailedWrites)
            : CollectorRunnerActor.Props(descriptor, context, incarnation, settings, pipeline);

    /// <summary>The exception a plugin threw, out of the reflection and task wrappers around it.</summary>
    public static Exception Unwrap(Exception e) =>
        e is System.Reflection.TargetInvocationException or TypeInitializationException or AggregateException && e.InnerException is not null
            ? Unwrap(e.InnerException!)
            : e;

    /// <summary>Faults that restarting cannot cure: the plugin goes to Error at once.</summary>
    public static bool IsPermanent(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or PluginPermanentException)
                return true;
        }
        return false;
    }

    /// <summary>How an error reads in status and in <see cref="InstanceFailed"/>.</summary>
    public static string Describe(Exception e) => $"{e.GetType().Name}: {e.Message}";
}

/// <summary>The plugin calls an instance actor makes, one at a time.</summary>
internal enum PluginCall
{
    Initialize,
    Start,
    Collect,
    Write,
    Stop,
    Status,
}

/// <summary>
/// One plugin call's outcome, back on the actor's thread: its value (default when it threw), its
/// error, and the plugin's status read right after it on the same thread-pool turn.
/// </summary>
internal sealed record CallResult<T>(PluginCall Call, T? Value, Exception? Error, IReadOnlyDictionary<string, object?>? Status) : ICallResult;

/// <summary>Any <see cref="CallResult{T}"/>: the call it answers is over.</summary>
internal interface ICallResult;
