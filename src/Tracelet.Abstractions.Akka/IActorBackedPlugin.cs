using Akka.Actor;

namespace Tracelet.Abstractions.Akka;

/// <summary>
/// A plugin that does its work in actors of its own (the GPU collector: one actor per GPU on a
/// dedicated thread each). Once <see cref="Tracelet.Abstractions.IPlugin.StartAsync"/> has
/// returned, the plugin's actor creates the worker from <see cref="CreateWorker"/> as its child
/// named <c>worker</c>, so the worker lives and dies with the plugin and is supervised by it.
/// </summary>
public interface IActorBackedPlugin
{
    /// <summary>The worker's props. Called on the plugin's actor, between plugin calls; must not block.</summary>
    Props CreateWorker();

    /// <summary>Hands the plugin its worker, before the first collection. Called on the plugin's actor.</summary>
    void AttachWorker(IActorRef worker);
}
