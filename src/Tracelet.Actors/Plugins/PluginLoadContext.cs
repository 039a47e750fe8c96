using System.Reflection;
using System.Runtime.Loader;

namespace Tracelet.Actors.Plugins;

/// <summary>
/// One load context per plugin assembly, so that two plugins can bring different versions of the
/// same dependency. Tracelet.Abstractions (and anything the host already loaded) is shared with the
/// host: otherwise the plugin's IPlugin would be a different type from ours.
/// </summary>
internal sealed class PluginLoadContext(string assemblyPath) : AssemblyLoadContext(name: Path.GetFileNameWithoutExtension(assemblyPath), isCollectible: false)
{
    private readonly AssemblyDependencyResolver _resolver = new(assemblyPath);
    private readonly string _folder = Path.GetDirectoryName(assemblyPath)!;

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName)) return null;
        var path = _resolver.ResolveAssemblyToPath(assemblyName);
        if (path is null)
        {
            var local = Path.Combine(_folder, assemblyName.Name + ".dll");
            if (File.Exists(local)) path = local;
        }
        return path is null ? null : LoadFromAssemblyPath(path);
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
