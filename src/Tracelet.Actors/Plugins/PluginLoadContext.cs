using System.Reflection;
using System.Runtime.Loader;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// One collectible load context per loaded version of a plugin assembly, so that two plugins can
/// bring different versions of the same dependency and an upgraded version can be unloaded.
/// Tracelet.Abstractions (and anything the host already loaded) is shared with the host: otherwise
/// the plugin's IPlugin would be a different type from ours. Assemblies are loaded from their bytes,
/// never mapped from the file, so that copying a new version over a file cannot change the code of
/// the version that is running.
/// </summary>
internal sealed class PluginLoadContext(string assemblyPath) : AssemblyLoadContext(name: assemblyPath, isCollectible: true)
{
    private readonly AssemblyDependencyResolver _resolver = new(assemblyPath);
    private readonly string _folder = Path.GetDirectoryName(assemblyPath)!;

    /// <summary>Loads the plugin assembly itself from the bytes that were hashed.</summary>
    public Assembly LoadPlugin(byte[] image) => LoadFromStream(new MemoryStream(image, writable: false));

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName)) return null;
        var path = _resolver.ResolveAssemblyToPath(assemblyName);
        if (path is null)
        {
            var local = Path.Combine(_folder, assemblyName.Name + ".dll");
            if (File.Exists(local)) path = local;
        }
        return path is null ? null : LoadFromStream(new MemoryStream(File.ReadAllBytes(path), writable: false));
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    private static bool IsShared(AssemblyName name) =>
        name.Name is "Tracelet.Abstractions" ||
        Default.Assemblies.Any(a => string.Equals(a.GetName().Name, name.Name, StringComparison.Ordinal) && name.Name!.StartsWith("System.", StringComparison.Ordinal));
}
