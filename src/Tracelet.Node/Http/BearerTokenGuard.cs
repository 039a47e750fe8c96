using System.Security.Cryptography;
using System.Text;

namespace Tracelet.Node.Http;

/// <summary>
/// The one place the HTTP API checks its bearer token. Bound beyond loopback, every request needs
/// <c>Authorization: Bearer &lt;token&gt;</c> except GET /healthz (a readiness probe, which says only
/// "ok" or "starting"); on loopback, only mutations (POST) do, and only when a token is configured.
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
            if (expected is null || !NeedsToken(http.Request, everyRequest) || Presented(http.Request, expected))
            {
                await next(http);
                return;
            }
            log.LogWarning("Refused {Method} {Path} from {Remote}: missing or wrong bearer token",
                http.Request.Method, http.Request.Path.Value, http.Connection.RemoteIpAddress);
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await http.Response.WriteAsync("a bearer token is required (Authorization: Bearer <tracelet.http.token>)\n");
        });
    }

    private static bool NeedsToken(HttpRequest request, bool everyRequest) =>
        everyRequest
            ? !(HttpMethods.IsGet(request.Method) && request.Path.Equals("/healthz", StringComparison.Ordinal))
            : !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method));

    private static bool Presented(HttpRequest request, byte[] expected)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(digest, expected);
    }
}
