using System.Security.Cryptography;
using System.Text;

namespace Tracelet.Node.Http;

/// <summary>
/// The one place the HTTP API checks its bearer token. Bound beyond loopback, every request needs
/// <c>Authorization: Bearer &lt;token&gt;</c> except GET /healthz (a readiness probe, which says only
/// "ok" or "starting"); on loopback, only mutations (POST) do, and only when a token is configured.
/// A bearer token that is sent is always checked, on every path and address: a wrong one, or one
/// sent to a node without a token, is refused, so that a caller who believes it authenticates is
/// told it does not instead of being let through unnoticed.
/// A refused request is answered 401 and logged with its remote address, never with the token.
/// </summary>
internal static class BearerTokenGuard
{
    public static void Use(WebApplication app, NodeSettings settings)
    {
        // Compared as SHA-256 digests with a fixed-time comparison: neither the content nor the length leaks through timing.
        var expected = string.IsNullOrEmpty(settings.HttpToken) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(settings.HttpToken));
        var everyRequest = !settings.HttpIsLoopback;
        var log = app.Services.GetRequiredService<ILogger<NodeHost>>();
        app.Use(async (http, next) =>
        {
            var sent = Sent(http.Request);
            string? refusal = sent switch
            {
                null when expected is null || !NeedsToken(http.Request, everyRequest) => null,
                null => "a bearer token is required (Authorization: Bearer <tracelet.http.token>)",
                _ when expected is null => "this node has no token (tracelet.http.token is not set): send none",
                _ when !Matches(sent, expected) => "the bearer token is wrong (it must be tracelet.http.token)",
                _ => null,
            };
            if (refusal is null)
            {
                await next(http);
                return;
            }
            log.LogWarning("Refused {Method} {Path} from {Remote}: {Reason}",
                http.Request.Method, http.Request.Path.Value, http.Connection.RemoteIpAddress, sent is null ? "missing bearer token" : "wrong bearer token");
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await http.Response.WriteAsync(refusal + "\n");
        });
    }

    private static bool NeedsToken(HttpRequest request, bool everyRequest) =>
        everyRequest
            ? !(HttpMethods.IsGet(request.Method) && request.Path.Equals("/healthz", StringComparison.Ordinal))
            : !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method));

    /// <summary>The bearer token the request carries, or null when it carries none (other schemes are not ours to judge).</summary>
    private static string? Sent(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : null;
    }

    private static bool Matches(string sent, byte[] expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(sent)), expected);
}
