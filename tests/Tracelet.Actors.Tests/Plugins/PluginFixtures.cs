using Xunit;

namespace Tracelet.Actors.Tests.Plugins;

/// <summary>The builds of the swap-counter test plugin (one source, assembly Tracelet.SwapPlugin).</summary>
public enum SwapPluginVersion
{
    /// <summary>swap-counter 1.0.0.</summary>
    V1,

    /// <summary>swap-counter 2.0.0.</summary>
    V2,

    /// <summary>swap-counter 3.0.0, whose StartAsync throws.</summary>
    Broken,
}

/// <summary>
/// Folder plugin assemblies built for tests but never referenced (the swap builds share one assembly
/// name), found where this project's build copied them: plugin-fixtures/&lt;project&gt;/ in its output.
/// </summary>
public static class PluginFixtures
{
    /// <summary>The file name every swap-counter build has, as it would be deployed.</summary>
    public const string SwapPluginFile = "Tracelet.SwapPlugin.dll";

    /// <summary>The file name of the plugin built against Tracelet.Abstractions 2.0.0.</summary>
    public const string FutureAbiPluginFile = "Tracelet.FutureAbiPlugin.dll";

    /// <summary>The built swap-counter assembly of one version.</summary>
    public static string SwapPluginBuild(SwapPluginVersion version) => Built($"Tracelet.SwapPlugin.{version}", SwapPluginFile);

    /// <summary>The built plugin that references Tracelet.Abstractions 2.0.0.</summary>
    public static string FutureAbiPluginBuild => Built("Tracelet.FutureAbiPlugin", FutureAbiPluginFile);

    /// <summary>
    /// Puts one version of swap-counter into <paramref name="folder"/> (replacing what is there, as an
    /// operator deploying an upgrade would) and returns the file's path.
    /// </summary>
    public static string CopySwapPlugin(string folder, SwapPluginVersion version) =>
        Deploy(SwapPluginBuild(version), Path.Combine(folder, SwapPluginFile));

    /// <summary>Writes <paramref name="source"/>'s bytes to <paramref name="target"/> through a temporary file and a move, so that no reader sees half a file.</summary>
    public static string Deploy(string source, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temporary = target + ".partial";
        File.Copy(source, temporary, overwrite: true);
        File.Move(temporary, target, overwrite: true);
        return target;
    }

    private static string Built(string project, string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "plugin-fixtures", project, file);
        Assert.True(File.Exists(path), $"the build should have put {file} of {project} at {path}");
        return path;
    }
}
