namespace Tracelet.Abstractions;

/// <summary>
/// A Tracelet plugin. Each instance runs inside its own actor, which makes every call one at a
/// time: a plugin never needs locks. Calls run on the thread pool, so a slow call never blocks
/// the actor system, but a plugin should still honour the cancellation token.
/// </summary>
/// <remarks>
/// Discovery creates one throw-away instance to read <see cref="Metadata"/>: keep constructors cheap
/// and free of side effects, and do real work in <see cref="InitializeAsync"/>.
/// A public parameterless constructor is required.
/// </remarks>
public interface IPlugin
{
    /// <summary>Name, version, type, dependencies and config schema.</summary>
    PluginMetadata Metadata { get; }

    /// <summary>Accepts configuration (already validated against the schema). Throwing puts the plugin in Error.</summary>
    ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken);

    /// <summary>Begins work. Collectors are sampled only after this returns.</summary>
    ValueTask StartAsync(CancellationToken cancellationToken);

    /// <summary>Ends work and releases resources. Called once for every successful start, also on node shutdown.</summary>
    ValueTask StopAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A small key/value view of the plugin's health, shown under <c>status</c> in the node's
    /// status. Called often: keep it cheap and never do I/O here.
    /// </summary>
    IReadOnlyDictionary<string, object?> GetStatus();
}
