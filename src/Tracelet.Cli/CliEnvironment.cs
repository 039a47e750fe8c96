namespace Tracelet.Cli;

/// <summary>
/// What the CLI reads from outside its arguments: the output writers, environment variables and
/// whether stdout is a terminal. Tests build one by hand; <see cref="FromProcess"/> reads the real ones.
/// </summary>
public sealed record CliEnvironment(TextWriter Out, TextWriter Error, IReadOnlyDictionary<string, string> Variables, bool OutputIsTerminal)
{
    /// <summary>Where the CLI talks to when neither --url nor TRACELET_URL says otherwise.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8558";

    public static CliEnvironment FromProcess()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            if (entry.Key is string key && entry.Value is string value) variables[key] = value;
        return new CliEnvironment(Console.Out, Console.Error, variables, !Console.IsOutputRedirected);
    }

    public string? Get(string name) => Variables.TryGetValue(name, out var value) && value.Length > 0 ? value : null;

    /// <summary>Colour and screen clearing only on a terminal, and never when NO_COLOR is set (no-color.org).</summary>
    public bool UseAnsi => OutputIsTerminal && Get("NO_COLOR") is null;
}
