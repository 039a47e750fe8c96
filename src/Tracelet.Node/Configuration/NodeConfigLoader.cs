using System.Collections.Immutable;
using System.Text;
using Akka.Configuration;
using Tracelet.Actors.Configuration;

namespace Tracelet.Node.Configuration;

/// <summary>
/// Loads the node's configuration: the reference files (the runtime's, then the node's own), then
/// the given HOCON files in order (a later file wins), then TRACELET_* environment overrides.
/// Refuses malformed files and unknown <c>tracelet.*</c> keys, naming the file, line and key.
/// </summary>
internal static partial class NodeConfigLoader
{
    private const string ResourceName = "Tracelet.Node.reference.conf";

    private static readonly Lazy<(string Text, ImmutableHashSet<string> Keys)> Reference = new(() =>
    {
        using var stream = typeof(NodeConfigLoader).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing");
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        var keys = HoconSyntaxChecker.Check(TraceletConfigLoader.ReferenceText, "reference.conf").Keys
            .Union(HoconSyntaxChecker.Check(text, "reference.conf").Keys)
            .ToImmutableHashSet();
        return (text, keys);
    });

    /// <summary>Environment variables that override settings, and the key each one sets.</summary>
    public static readonly ImmutableDictionary<string, string> EnvironmentOverrides = new Dictionary<string, string>
    {
        ["TRACELET_NODE_ID"] = "tracelet.node-id",
        ["TRACELET_DATA_DIR"] = "tracelet.data-dir",
        ["TRACELET_POSTGRES"] = "tracelet.persistence.connection-string",
        ["TRACELET_PERSISTENCE_PROVIDER"] = "tracelet.persistence.provider",
        ["TRACELET_HTTP_HOSTNAME"] = "tracelet.http.hostname",
        ["TRACELET_HTTP_PORT"] = "tracelet.http.port",
        ["TRACELET_HTTP_TOKEN"] = "tracelet.http.token",
        ["TRACELET_CLUSTER_HOSTNAME"] = "tracelet.cluster.hostname",
        ["TRACELET_CLUSTER_PORT"] = "tracelet.cluster.port",
        ["TRACELET_CLUSTER_SEED_NODES"] = "tracelet.cluster.seed-nodes",
    }.ToImmutableDictionary();

    /// <summary>Overrides whose value is a comma-separated list (a Kubernetes env entry holds one string).</summary>
    private static readonly ImmutableHashSet<string> ListOverrides = ["TRACELET_CLUSTER_SEED_NODES"];

    /// <summary>The defaults of both reference files (plus Akka's own).</summary>
    public static Config ReferenceConfig() =>
        ConfigurationFactory.ParseString(Reference.Value.Text).WithFallback(TraceletConfigLoader.ReferenceConfig());

    /// <summary>Loads and checks the configuration.</summary>
    /// <param name="files">HOCON files, lowest precedence first.</param>
    /// <param name="environment">Environment variables (pass <c>Environment.GetEnvironmentVariables()</c> as a dictionary).</param>
    /// <param name="overrides">HOCON text with the highest precedence (command-line options), or null.</param>
    public static LoadedConfig Load(IEnumerable<string> files, IReadOnlyDictionary<string, string> environment, string? overrides = null)
    {
        var origins = ImmutableDictionary.CreateBuilder<string, SettingOrigin>();
        var config = ReferenceConfig();
        foreach (var file in files)
        {
            var full = Path.GetFullPath(file);
            if (!File.Exists(full)) throw new TraceletConfigException(file, null, null, null, "configuration file not found");
            var text = File.ReadAllText(full);
            var keys = ParseChecked(text, file, out var fileConfig);
            foreach (var (path, line) in keys)
            {
                CheckKnown(path, file, line);
                origins[path] = new SettingOrigin(file, line);
            }
            config = fileConfig.WithFallback(config);
        }

        var env = EnvironmentHocon(environment);
        if (env.Length > 0) config = ParseTrusted(env, "environment").WithFallback(config);
        // A bad value from a variable is blamed on the variable: without its own origin, the error
        // would name the line of a role file that set the enclosing section.
        foreach (var (variable, key) in EnvironmentOverrides)
        {
            if (environment.TryGetValue(variable, out var value) && !string.IsNullOrEmpty(value))
                origins[key] = new SettingOrigin($"environment variable {variable}", null);
        }
        if (!string.IsNullOrWhiteSpace(overrides))
        {
            var keys = ParseChecked(overrides, "command line", out var cli);
            foreach (var (path, _) in keys)
            {
                CheckKnown(path, "command line", null);
                origins[path] = new SettingOrigin("command line", null);
            }
            config = cli.WithFallback(config);
        }
        return new LoadedConfig(config, origins.ToImmutable());
    }

    private static ImmutableDictionary<string, int> ParseChecked(string text, string source, out Config config)
    {
        var (keys, normalized) = HoconSyntaxChecker.CheckAndNormalize(text, source);
        config = ParseTrusted(normalized, source);
        return keys;
    }

    private static Config ParseTrusted(string text, string source)
    {
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is FormatException or ConfigurationException or ArgumentException)
        {
            // Akka names an offset ("Unknown token at position 67"); an operator needs a line and column.
            var reason = e.Message.Split('\n')[0].Trim().TrimEnd(':');
            var position = AkkaPosition().Match(reason);
            if (!position.Success) throw new TraceletConfigException(source, null, null, null, reason);
            var (line, column) = HoconSyntaxChecker.LineAndColumn(text, int.Parse(position.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            throw new TraceletConfigException(source, line, column, null, AkkaPosition().Replace(reason, "").Trim());
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\s*at position (\d+)")]
    private static partial System.Text.RegularExpressions.Regex AkkaPosition();

    /// <summary>Refuses a <c>tracelet.*</c> key that neither reference file defines.</summary>
    private static void CheckKnown(string path, string source, int? line)
    {
        if (path != "tracelet" && !path.StartsWith("tracelet.", StringComparison.Ordinal)) return; // akka.* is Akka's
        if (path.StartsWith("tracelet.plugins.", StringComparison.Ordinal))
        {
            // tracelet.plugins.<name>[.enabled|.config...|.pipeline...]
            var rest = path["tracelet.plugins.".Length..];
            var dot = rest.IndexOf('.');
            if (dot < 0) return;
            var setting = rest[(dot + 1)..];
            var head = setting.Split('.')[0];
            if (head is "enabled" or "config" or "pipeline") return;
            throw new TraceletConfigException(source, line, null, path,
                $"unknown plugin setting '{head}' (a plugin section takes enabled, config {{ }} and pipeline {{ }})");
        }
        var reference = Reference.Value.Keys;
        if (reference.Contains(path)) return;
        throw new TraceletConfigException(source, line, null, path, "unknown setting (not in reference.conf; check the spelling)");
    }

    private static string EnvironmentHocon(IReadOnlyDictionary<string, string> environment)
    {
        var sb = new StringBuilder();
        foreach (var (variable, key) in EnvironmentOverrides.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!environment.TryGetValue(variable, out var value) || string.IsNullOrEmpty(value)) continue;
            var hocon = ListOverrides.Contains(variable)
                ? "[" + string.Join(", ", value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(TraceletConfigLoader.Quote)) + "]"
                : TraceletConfigLoader.Quote(value);
            sb.Append(key).Append(" = ").Append(hocon).Append('\n');
        }
        return sb.ToString();
    }
}
