using Akka.Actor;
using Tracelet.Actors.Plugins;

namespace Tracelet.Node.Console;

/// <summary>Prints a line as each plugin stops at shutdown, so Ctrl-C shows progress instead of silence.</summary>
internal sealed class PluginStopLinesActor : ReceiveActor
{
    // Standard output is looked up at each line: the console backend may have wrapped it.
    public PluginStopLinesActor(Func<TextWriter> output)
    {
        // The runtime stops the plugins before the host hears of the shutdown, so the first stop is where it shows.
        var first = true;
        Receive<PluginStoppedAtShutdown>(m =>
        {
            if (first) output().WriteLine(ConsoleStatusService.StoppingLine);
            first = false;
            output().WriteLine(ConsoleStatusService.StoppedLine(m.Name, m.Error));
        });
    }

    public static Props Props(Func<TextWriter> output) => Akka.Actor.Props.Create(() => new PluginStopLinesActor(output));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(PluginStoppedAtShutdown));
}
