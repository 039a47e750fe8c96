using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>
/// Fails on purpose. Config: <c>fail-in</c> = "initialize", "start" or "collect" (the default),
/// <c>fail-after</c> = successful collections before collect throws (default 0), <c>message</c>.
/// </summary>
public sealed class ThrowingCollector : CollectorPlugin
{
    public const string PluginName = "test-thrower";
    public const string DefaultMessage = "boom";

    private long _collections;

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Collector)
    {
        Description = "throws where its config says",
    };

    private string FailIn => Config.GetString("fail-in", "collect");

    private string Message => Config.GetString("message", DefaultMessage);

    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken);
        if (FailIn == "initialize") throw new InvalidOperationException(Message);
    }

    public override ValueTask StartAsync(CancellationToken cancellationToken) =>
        FailIn == "start" ? throw new InvalidOperationException(Message) : ValueTask.CompletedTask;

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        if (FailIn == "collect" && _collections >= Config.GetInt64("fail-after", 0))
            throw new InvalidOperationException(Message);
        _collections++;
        writer.Write("test.thrower.collections", _collections);
        return ValueTask.CompletedTask;
    }

    public override IReadOnlyDictionary<string, object?> GetStatus() => new Dictionary<string, object?> { ["collections"] = _collections };
}
