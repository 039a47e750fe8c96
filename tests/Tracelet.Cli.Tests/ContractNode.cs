using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tracelet.Cli.Tests;

/// <summary>
/// An HTTP server on a free 127.0.0.1 port that answers like a node's API with the JSON a test sets,
/// and records every request (method, path with query, Authorization header).
/// </summary>
public sealed class ContractNode : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, Func<(int Status, string Body)>> _routes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();

    public ContractNode()
    {
        Url = $"http://127.0.0.1:{FreePort()}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public ConcurrentQueue<(string Method, string PathAndQuery, string? Authorization)> Requests { get; } = new();

    /// <summary>Answers "METHOD /path?query" (query optional in the key: the path alone matches any query).</summary>
    public void On(string methodAndPath, int status, string body) => _routes[methodAndPath] = () => (status, body);

    public void On(string methodAndPath, Func<(int Status, string Body)> answer) => _routes[methodAndPath] = answer;

    /// <summary>Requests to this path are accepted and never answered, like a hung node.</summary>
    public void Hang(string methodAndPath) => _routes[methodAndPath] = () => throw new HangException();

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            var request = context.Request;
            var pathAndQuery = request.Url!.PathAndQuery;
            Requests.Enqueue((request.HttpMethod, pathAndQuery, request.Headers["Authorization"]));
            if (!_routes.TryGetValue($"{request.HttpMethod} {pathAndQuery}", out var answer) &&
                !_routes.TryGetValue($"{request.HttpMethod} {request.Url.AbsolutePath}", out answer))
                answer = () => (404, "not found\n");
            try
            {
                var (status, body) = answer();
                var bytes = Encoding.UTF8.GetBytes(body);
                context.Response.StatusCode = status;
                context.Response.ContentType = body.StartsWith('{') ? "application/json" : "text/plain";
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
            catch (HangException)
            {
                // Left open until the server is disposed.
            }
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return; // a test may stop the node early to refuse connections
        _stop.Cancel();
        _listener.Close();
    }

    private sealed class HangException : Exception;
}
