namespace Tracelet.Abstractions;

/// <summary>
/// Convenience base for plugins: keeps the <see cref="PluginContext"/>, and gives empty
/// start/stop and status. Derive from <see cref="CollectorPlugin"/> or <see cref="BackendPlugin"/>.
/// </summary>
public abstract class PluginBase : IPlugin
{
    private PluginContext? _context;

    /// <inheritdoc />
    public abstract PluginMetadata Metadata { get; }

    /// <summary>The context given at initialization. Throws before it.</summary>
    protected PluginContext Context => _context ?? throw new InvalidOperationException($"plugin '{Metadata.Name}' is not initialized");

    /// <summary>The validated configuration.</summary>
    protected PluginConfig Config => Context.Config;

    /// <inheritdoc />
    public virtual ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        _context = context;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public virtual ValueTask StartAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public virtual ValueTask StopAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public virtual IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?>();
}
