using Akka.Configuration;

namespace Tracelet.Actors.Configuration;

/// <summary>
/// The runtime's reference configuration (reference.conf, embedded in this assembly) and the
/// small HOCON helpers that building a configuration around it needs. Reading a node's files,
/// roles and environment overrides is the node executable's job.
/// </summary>
public static class TraceletConfigLoader
{
    private const string ResourceName = "Tracelet.Actors.reference.conf";

    private static readonly Lazy<string> Reference = new(() =>
    {
        using var stream = typeof(TraceletConfigLoader).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>The text of reference.conf, for a loader that checks keys against it.</summary>
    public static string ReferenceText => Reference.Value;

    /// <summary>Only the defaults of reference.conf (plus Akka's own).</summary>
    public static Config ReferenceConfig() => ConfigurationFactory.ParseString(Reference.Value);

    /// <summary>Quotes a string for HOCON.</summary>
    public static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>The process environment as a dictionary.</summary>
    public static IReadOnlyDictionary<string, string> ProcessEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
}
