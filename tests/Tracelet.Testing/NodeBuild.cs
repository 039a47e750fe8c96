using System.Net;
using System.Net.Sockets;

namespace Tracelet.Testing;

/// <summary>Where the repository, the built node and the dotnet host are, seen from the running bench.</summary>
public static class NodeBuild
{
    /// <summary>The repository root: the first folder above the running program's binaries that holds Tracelet.Actors.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>
    /// The node built in the running program's configuration and target framework: the test and
    /// bench projects reference Tracelet.Node (without its assembly) so that building them builds
    /// the node into src/Tracelet.Node/bin/&lt;configuration&gt;/&lt;tfm&gt;/.
    /// </summary>
    public static string NodeDll
    {
        get
        {
            var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var tfm = output.Name;
            var configuration = output.Parent?.Name ?? "Release";
            return Path.Combine(RepositoryRoot, "src", "Tracelet.Node", "bin", configuration, tfm, "Tracelet.Node.dll");
        }
    }

    /// <summary>
    /// The dotnet host that runs framework-dependent apps. Under <c>dotnet run</c> a program
    /// runs from its apphost, so the host comes from DOTNET_HOST_PATH, DOTNET_ROOT or PATH.
    /// </summary>
    public static string DotnetHost { get; } = FindDotnetHost();

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tracelet.Actors.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Tracelet.Actors.sln above {AppContext.BaseDirectory}: run from a build output inside the repository");
    }

    private static string FindDotnetHost()
    {
        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath)) return hostPath;
        if (Environment.ProcessPath is { } self && Path.GetFileName(self) == name) return self;
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, name))) return Path.Combine(root, name);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return name;
    }
}
