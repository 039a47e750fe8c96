using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using Tracelet.Cli.Api;
using Tracelet.Cli.Output;

namespace Tracelet.Cli.Commands;

/// <summary>The options every command takes, and what the commands share: the node client and the output settings.</summary>
internal sealed partial class CommonOptions
{
    public Option<string?> Url { get; } = new("--url", "-u")
    {
        Description = $"The node API to talk to [env: TRACELET_URL; default: {CliEnvironment.DefaultUrl}]",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Bearer token for nodes that listen beyond loopback [env: TRACELET_HTTP_TOKEN]",
        Recursive = true,
    };

    /// <summary>The wait when --timeout is not given (and the command has no longer one of its own).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    // No DefaultValueFactory: help would print the default as a TimeSpan (00:00:05); the description says it as typed.
    public Option<TimeSpan?> Timeout { get; } = new("--timeout")
    {
        Description = $"How long to wait for the node's answer, e.g. 5s, 500ms [default: {Durations.Format(DefaultTimeout)}]",
        Recursive = true,
        CustomParser = r => ParseDuration(r),
    };

    public Option<bool> Json { get; } = new("--json") { Description = "Print JSON for scripts instead of tables (never coloured)" };

    public CliEnvironment Environment { get; }

    public CommonOptions(CliEnvironment environment) => Environment = environment;

    public Ansi Ansi(ParseResult result) => new(Environment.UseAnsi && !(result.GetResult(Json) is not null && result.GetValue(Json)));

    /// <summary>The node client for --url (or an explicit URL), TRACELET_URL, or the default.</summary>
    /// <param name="commandTimeout">
    /// The wait when --timeout is not given: commands that change plugins wait as long as the node
    /// does (60 s), so that a slow restart is not reported as a connection error and retried twice.
    /// </param>
    public NodeClient Client(ParseResult result, string? urlOverride = null, TimeSpan? commandTimeout = null)
    {
        var url = urlOverride ?? result.GetValue(Url) ?? Environment.Get("TRACELET_URL") ?? CliEnvironment.DefaultUrl;
        url = NormalizeUrl(url) ?? throw new CliFailureException(ExitCodes.UsageOrConnection,
            $"'{url}' is not a node URL (expected e.g. {CliEnvironment.DefaultUrl})");
        var token = result.GetValue(Token) ?? Environment.Get("TRACELET_HTTP_TOKEN");
        var timeout = result.GetValue(Timeout) ?? commandTimeout ?? DefaultTimeout;
        return new NodeClient(url, token, timeout);
    }

    /// <summary>An http(s) URL as given, or host:port with http:// added; null when it is neither.</summary>
    public static string? NormalizeUrl(string value)
    {
        if (HostAndPort().IsMatch(value)) value = "http://" + value;
        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? value
            : null;
    }

    /// <summary>Whether a --node value names a URL (scheme or host:port) rather than a node id.</summary>
    public static bool LooksLikeUrl(string value) => value.Contains("://", StringComparison.Ordinal) || HostAndPort().IsMatch(value);

    /// <summary>Durations as in the node's HOCON: 500ms, 2s, 1m; a bare number is seconds.</summary>
    public static TimeSpan ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value.Trim() : "";
        var match = Duration().Match(text);
        if (match.Success && double.TryParse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number > 0)
        {
            return match.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(number),
                "m" => TimeSpan.FromMinutes(number),
                _ => TimeSpan.FromSeconds(number),
            };
        }
        result.AddError($"'{text}' is not a duration (e.g. 500ms, 2s, 1m)");
        return default;
    }

    [GeneratedRegex(@"^[A-Za-z0-9.\-]+:\d+$")]
    private static partial Regex HostAndPort();

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)(ms|s|m)?$")]
    private static partial Regex Duration();
}
