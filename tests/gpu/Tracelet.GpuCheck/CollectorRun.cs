using System.Collections.Concurrent;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Tracelet.Abstractions;
using Tracelet.Actors;
using Tracelet.Actors.Configuration;
using Tracelet.Actors.Persistence;
using Tracelet.Actors.Plugins;
using Tracelet.Collectors.Gpu;

namespace Tracelet.GpuCheck;

/// <summary>
/// The gpu collector through the real plugin runtime (PluginManager, SQLite journal, plugin
/// actors) on the real driver, for a few seconds: what a node would publish and show in status.
/// </summary>
internal static class CollectorRun
{
    public static async Task RunAsync(string libraryPath, bool allowFake, TimeSpan duration, CheckRunner runner)
    {
        var dataDir = Directory.CreateTempSubdirectory("tracelet-gpu-check-").FullName;
        var hocon = $$"""
            tracelet {
              node-id = "gpu-check"
              data-dir = {{TraceletConfigLoader.Quote(dataDir)}}
              discovery { built-in-assemblies = [], user-directory = off, environment-variable = off }
              plugin-manager.status-interval = 500ms
            }
            """;
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(TraceletConfigLoader.ReferenceConfig());
        var settings = TraceletSettings.Create(config);
        var system = ActorSystem.Create("gpu-check", PersistenceHocon.Create(settings).WithFallback(config));
        try
        {
            var manager = system.ActorOf(PluginManagerActor.Props(settings, () =>
                PluginDiscovery.Discover(settings.Discovery, new Dictionary<string, string>(), [typeof(GpuCollector).Assembly, typeof(CheckSink).Assembly])), "plugin-manager");
            var timeout = TimeSpan.FromSeconds(60);
            for (var i = 0; i < 100 && !(await manager.Ask<CurrentPluginStatus>(GetPluginStatus.Instance, timeout)).Status.Ready; i++) await Task.Delay(100);
            await manager.Ask<PluginOperationResult>(new StartPlugin(CheckSink.PluginName), timeout);
            var gpuConfig = PluginConfig.Parse($$"""{ "interval": "1s", "library-path": {{JsonSerializer.Serialize(libraryPath)}}, "allow-fake": {{(allowFake ? "true" : "false")}} }""");
            var init = await manager.Ask<PluginOperationResult>(new InitializePlugin("gpu", gpuConfig), timeout);
            var start = await manager.Ask<PluginOperationResult>(new StartPlugin("gpu"), timeout);
            Console.WriteLine($"# collector: initialize -> {init}, start -> {start}");
            await Task.Delay(duration);
            var status = (await manager.Ask<CurrentPluginStatus>(GetPluginStatus.Instance, timeout)).Status.Plugins["gpu"];
            Console.WriteLine();
            Console.WriteLine("## gpu plugin status after the run");
            Console.WriteLine(JsonSerializer.Serialize(new { State = status.State.ToString(), status.Error, Runtime = (object?)status.Runtime, status.Status }, new JsonSerializerOptions { WriteIndented = true }));
            var samples = CheckSink.Samples.ToArray();
            Console.WriteLine($"## {samples.Length} samples received; last value of each metric:");
            foreach (var group in samples.GroupBy(s => (s.Name, Labels: string.Join(",", s.Labels.Where(l => l.Key is not ("node" or "model" or "uuid")).Select(l => $"{l.Key}={l.Value}")))).OrderBy(g => g.Key.Name))
                Console.WriteLine($"#   {group.Key.Name} {{{group.Key.Labels}}} = {group.Last().Value}");
            runner.Check("collector through the plugin runtime", () =>
            {
                CheckRunner.That(status.State == PluginStatusState.Active, $"gpu plugin is {status.State}: {status.Error}");
                var up = samples.Where(s => s.Name == GpuMetrics.Up).ToList();
                CheckRunner.That(up.Count > 0 && up.All(s => s.Value == 1), "no gpu.up = 1 samples");
                CheckRunner.That(samples.Any(s => s.Name == GpuMetrics.PowerUsage) && samples.Any(s => s.Name == GpuMetrics.MemoryUsed), "power or memory samples missing");
                return $"{samples.Length} samples; gpu.up = 1 from {up.Select(s => s.Labels.First(l => l.Key == "uuid").Value).Distinct().Count()} device(s) (GPUs and MIG devices)";
            });
            await manager.Ask<AllPluginsStopped>(StopAllPlugins.Instance, timeout);
        }
        finally
        {
            await system.Terminate();
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>Keeps what the gpu collector publishes so the check can print it.</summary>
public sealed class CheckSink : BackendPlugin
{
    public const string PluginName = "gpu-check-sink";

    public static readonly ConcurrentQueue<MetricSample> Samples = new();

    public override PluginMetadata Metadata { get; } = new(PluginName, "1.0.0", PluginType.Backend) { Description = "gpu check sink" };

    public override ValueTask WriteAsync(MetricBatch batch, CancellationToken cancellationToken)
    {
        foreach (var s in batch.Samples) Samples.Enqueue(s);
        return ValueTask.CompletedTask;
    }
}
