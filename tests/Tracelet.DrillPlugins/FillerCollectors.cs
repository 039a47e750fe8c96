using Tracelet.Abstractions;

namespace Tracelet.DrillPlugins;

/// <summary>
/// A collector that writes one sample per interval: fifteen of them (plugins are singletons by name)
/// give the cluster benchmark its ~40 plugins per node.
/// </summary>
public abstract class FillerCollector(string name) : CollectorPlugin
{
    private long _collections;

    public override PluginMetadata Metadata { get; } = new(name, "1.0.0", PluginType.Collector)
    {
        Description = "one sample per interval (benchmark filler)",
        Author = "Tracelet tests",
    };

    protected override TimeSpan DefaultInterval => TimeSpan.FromSeconds(10);

    public override ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        _collections++;
        writer.Write("test.filler.collections", _collections);
        return ValueTask.CompletedTask;
    }
}

public sealed class Filler01Collector() : FillerCollector("test-filler-01");
public sealed class Filler02Collector() : FillerCollector("test-filler-02");
public sealed class Filler03Collector() : FillerCollector("test-filler-03");
public sealed class Filler04Collector() : FillerCollector("test-filler-04");
public sealed class Filler05Collector() : FillerCollector("test-filler-05");
public sealed class Filler06Collector() : FillerCollector("test-filler-06");
public sealed class Filler07Collector() : FillerCollector("test-filler-07");
public sealed class Filler08Collector() : FillerCollector("test-filler-08");
public sealed class Filler09Collector() : FillerCollector("test-filler-09");
public sealed class Filler10Collector() : FillerCollector("test-filler-10");
public sealed class Filler11Collector() : FillerCollector("test-filler-11");
public sealed class Filler12Collector() : FillerCollector("test-filler-12");
public sealed class Filler13Collector() : FillerCollector("test-filler-13");
public sealed class Filler14Collector() : FillerCollector("test-filler-14");
public sealed class Filler15Collector() : FillerCollector("test-filler-15");
