using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Tracelet.Bench.Pipeline;

/// <summary>
/// Akka's logger for the pipeline benchmark's actor systems: warnings and errors go to the
/// bench's progress log (stderr, '#'), never to stdout, which holds only figures. Counts the
/// warnings that tell of an overloaded cluster (heartbeats late, nodes marked unreachable).
/// </summary>
internal sealed class BenchLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private static int s_heartbeatWarnings;
    private static int s_unreachableWarnings;

    public BenchLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Log);
    }

    /// <summary>Where log lines go (the bench context's log) while a benchmark runs.</summary>
    public static Action<string>? Sink { get; set; }

    /// <summary>"heartbeat interval is growing too large" warnings so far.</summary>
    public static int HeartbeatWarnings => Volatile.Read(ref s_heartbeatWarnings);

    /// <summary>"Marking node(s) as UNREACHABLE" warnings so far.</summary>
    public static int UnreachableWarnings => Volatile.Read(ref s_unreachableWarnings);

    /// <summary>The HOCON that installs this logger (and keeps Akka's start-up logger off stdout).</summary>
    public static string Hocon => $"""
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        akka.loggers = ["{typeof(BenchLogger).FullName}, {typeof(BenchLogger).Assembly.GetName().Name}"]
        """;

    private static string FirstLine(string text)
    {
        var end = text.AsSpan().IndexOfAny('\r', '\n');
        return end < 0 ? text : text[..end];
    }

    private static void Log(LogEvent e)
    {
        var text = e.Message?.ToString() ?? "";
        if (text.Contains("heartbeat interval is growing too large", StringComparison.OrdinalIgnoreCase)) Interlocked.Increment(ref s_heartbeatWarnings);
        if (text.Contains("as UNREACHABLE", StringComparison.OrdinalIgnoreCase)) Interlocked.Increment(ref s_unreachableWarnings);
        // One line each: every stderr line of the bench starts with '#' (stack traces stay out).
        var cause = e.Cause is null ? "" : $" ({e.Cause.GetType().Name}: {FirstLine(e.Cause.Message)})";
        Sink?.Invoke($"akka {e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToLowerInvariant()} {e.LogSource}: {FirstLine(text)}{cause}");
    }
}
