using Tracelet.Abstractions;

namespace Tracelet.TestPlugins;

/// <summary>
/// Fails on purpose. Config: <c>fail-in</c> = "initialize", "start" or "collect" (the default),
/// <c>fail-after</c> = successful collections before collect throws (default 0), <c>message</c>,
/// <c>fail-times</c> = how many attempts of that phase fail before it works (default: all), counted
/// across instances per <c>fault</c> name, so a fault can "go away" like a database that comes up.
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

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Attempts = new(StringComparer.Ordinal);

    /// <summary>Makes the fault named <paramref name="fault"/> fail again from its first attempt (a fault that comes back).</summary>
    public static void ResetFault(string fault) => Attempts.TryRemove(fault, out _);

    /// <summary>How many attempts the fault named <paramref name="fault"/> has seen.</summary>
    public static int AttemptsOf(string fault) => Attempts.GetValueOrDefault(fault);

    public override async ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        await base.InitializeAsync(context, cancellationToken);
        if (FailIn == "initialize" && FailsThisTime()) throw new InvalidOperationException(Message);
    }

    public override ValueTask StartAsync(CancellationToken cancellationToken) =>
        FailIn == "start" && FailsThisTime() ? throw new InvalidOperationException(Message) : ValueTask.CompletedTask;

    private bool FailsThisTime()
    {
        var attempt = Attempts.AddOrUpdate(Config.GetString("fault", PluginName), 1, (_, n) => n + 1);
        var failTimes = Config.GetInt64("fail-times", long.MaxValue);
        return attempt <= failTimes;
    }

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
