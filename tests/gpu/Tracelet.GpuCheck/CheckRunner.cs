namespace Tracelet.GpuCheck;

/// <summary>Runs named checks, prints PASS/FAIL lines and remembers failures for the exit code.</summary>
internal sealed class CheckRunner
{
    public int Failures { get; private set; }

    public int Passes { get; private set; }

    /// <summary>Runs <paramref name="body"/>; it returns a one-line detail, or throws to fail.</summary>
    public void Check(string name, Func<string> body)
    {
        try
        {
            var detail = body();
            Passes++;
            Console.WriteLine($"PASS {name}: {detail}");
        }
        catch (Exception e)
        {
            Failures++;
            Console.WriteLine($"FAIL {name}: {e.GetType().Name}: {e.Message}");
        }
    }

    public static void That(bool condition, string message)
    {
        if (!condition) throw new InvalidOperationException(message);
    }
}
