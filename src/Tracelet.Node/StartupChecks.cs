using System.Net;
using System.Net.Sockets;

namespace Tracelet.Node;

/// <summary>
/// What the node checks before anything starts, so that a person sees one line naming the problem
/// instead of a failure deep inside a started host: the first journal write failing with a
/// SqliteException stack trace that never names the path, or Kestrel's bind error logged by the
/// host with its stack after the actor system has already started.
/// </summary>
internal static class StartupChecks
{
    public static void EnsureWritable(string directory, string? databaseFile)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".tracelet-write-probe-{Environment.ProcessId}");
            // A few KiB, written through: on a full disk, creating an empty file can still succeed.
            using (var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough | FileOptions.DeleteOnClose))
            {
                stream.Write(new byte[8192]);
                stream.Flush(flushToDisk: true);
            }
            if (databaseFile is not null && File.Exists(databaseFile))
            {
                using var db = new FileStream(databaseFile, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeStartupException($"data directory {directory} is not writable: {e.Message} (set tracelet.data-dir, TRACELET_DATA_DIR or --data-dir to a writable folder)", e);
        }
    }

    /// <summary>Binds the status API's address for a moment; a name other than localhost is left to Kestrel.</summary>
    public static void EnsureListenable(string hostname, int port)
    {
        if (port == 0) return;
        IPAddress? address = hostname switch
        {
            "localhost" => IPAddress.Loopback,
            "0.0.0.0" or "*" or "+" => IPAddress.Any,
            _ => IPAddress.TryParse(hostname, out var ip) ? ip : null,
        };
        if (address is null) return;
        var listener = new TcpListener(address, port);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            throw new NodeStartupException($"cannot listen on {hostname}:{port} for the status API: {e.Message} (another process holds it? choose another with --http-port or tracelet.http.port)", e);
        }
        finally
        {
            listener.Stop();
        }
    }
}
