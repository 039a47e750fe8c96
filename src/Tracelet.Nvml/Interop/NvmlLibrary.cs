using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Tracelet.Nvml.Interop;

/// <summary>
/// One loaded <c>libnvidia-ml.so.1</c> and its table of function pointers. Every symbol is looked
/// up once, at load, newest version first; an absent symbol is a null pointer and its methods
/// answer <see cref="NvmlReturn.FunctionNotFound"/> instead of throwing. Methods are the raw layer:
/// they return the NVML code and never allocate, so the sampling path can call them every tick.
/// </summary>
/// <remarks>
/// A library is loaded once per path and never unloaded (driver libraries do not like dlclose),
/// so <see cref="Load"/> with the same path returns the same instance. Thread-safe, as NVML is.
/// </remarks>
public sealed unsafe partial class NvmlLibrary
{
    /// <summary>The SONAME the driver always ships. Never the dev-only <c>libnvidia-ml.so</c>.</summary>
    public const string SoName = "libnvidia-ml.so.1";

    /// <summary>The environment variable operators set to point at a library outside the usual places.</summary>
    public const string PathEnvironmentVariable = "TRACELET_NVML_PATH";

    /// <summary>Where drivers put the library when the loader's search path does not find it (WSL2, NixOS...).</summary>
    public static readonly IReadOnlyList<string> FallbackDirectories =
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib64",
        "/usr/lib/wsl/lib",
        "/run/opengl-driver/lib",
    ];

    private static readonly ConcurrentDictionary<string, NvmlLibrary> Loaded = new(StringComparer.Ordinal);
    private static readonly Lock LoadLock = new();

    private readonly nint _handle;

    private NvmlLibrary(string path, nint handle)
    {
        Path = path;
        _handle = handle;
        ResolveSystem();
        ResolveDevice();
        ResolveEvents();
    }

    /// <summary>The path or name the library was loaded from.</summary>
    public string Path { get; }

    /// <summary>True for the test fake (it exports <c>fakenvml_marker</c>); a real driver never does.</summary>
    public bool IsFake => NativeLibrary.TryGetExport(_handle, "fakenvml_marker", out _);

    /// <summary>True when this library lacks a symbol we require (init, shutdown, count, handle lookup, error string).</summary>
    public bool IsIncompatible => _init == null || _shutdown == null || _errorString == null || _getCount == null || _getHandleByIndex == null;

    /// <summary>
    /// Loads NVML: from <paramref name="explicitPath"/> verbatim when given, else from
    /// <see cref="PathEnvironmentVariable"/>, else by SONAME through the loader's search path, else
    /// from <see cref="FallbackDirectories"/>. Never throws: a failure comes back with its reason.
    /// </summary>
    public static NvmlLoadResult Load(string? explicitPath = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var fromEnvironment = environment is null
            ? Environment.GetEnvironmentVariable(PathEnvironmentVariable)
            : environment.GetValueOrDefault(PathEnvironmentVariable);
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(explicitPath)) candidates.Add(explicitPath);
        else if (!string.IsNullOrWhiteSpace(fromEnvironment)) candidates.Add(fromEnvironment);
        else
        {
            candidates.Add(SoName);
            candidates.AddRange(FallbackDirectories.Select(d => System.IO.Path.Combine(d, SoName)));
        }

        var failures = new List<string>();
        lock (LoadLock)
        {
            foreach (var candidate in candidates)
            {
                if (Loaded.TryGetValue(candidate, out var cached)) return Check(cached);
                if (candidate.Contains('/') && !File.Exists(candidate))
                {
                    failures.Add($"{candidate}: no such file");
                    continue;
                }
                if (!NativeLibrary.TryLoad(candidate, out var handle))
                {
                    failures.Add($"{candidate}: {DescribeLoadFailure(candidate)}");
                    continue;
                }
                var library = new NvmlLibrary(candidate, handle);
                Loaded[candidate] = library;
                return Check(library);
            }
        }
        return NvmlLoadResult.Failed($"{SoName} not found ({string.Join("; ", failures)})");
    }

    private static NvmlLoadResult Check(NvmlLibrary library) =>
        library.IsIncompatible
            ? NvmlLoadResult.Failed($"{library.Path} is not a usable NVML: it lacks nvmlInit_v2, nvmlShutdown, nvmlErrorString, nvmlDeviceGetCount_v2 or nvmlDeviceGetHandleByIndex_v2")
            : NvmlLoadResult.Loaded(library);

    private static string DescribeLoadFailure(string candidate)
    {
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(candidate));
            return "loaded on retry";
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            // dlopen's own message says why (not found, wrong ELF class, not an ELF file); .NET appends advice we drop.
            var message = e.Message.Split('\n', 2)[0];
            var advice = message.IndexOf(" In order to help", StringComparison.Ordinal);
            return (advice > 0 ? message[..advice] : message).Trim();
        }
    }

    private nint Export(string name) => NativeLibrary.TryGetExport(_handle, name, out var address) ? address : 0;

    /// <summary>The first of <paramref name="names"/> that the library exports, with its name; (0, null) when none.</summary>
    private (nint Address, string? Name) ExportNewest(params string[] names)
    {
        foreach (var name in names)
        {
            var address = Export(name);
            if (address != 0) return (address, name);
        }
        return (0, null);
    }

    /// <summary>Which symbol each versioned function resolved to (null = absent), for status and tests.</summary>
    public IReadOnlyDictionary<string, string?> ResolvedVersions => _resolved;

    private readonly Dictionary<string, string?> _resolved = new(StringComparer.Ordinal);

    private nint Resolve(string function, params string[] newestFirst)
    {
        var (address, name) = ExportNewest(newestFirst);
        _resolved[function] = name;
        return address;
    }
}

/// <summary>The outcome of <see cref="NvmlLibrary.Load"/>: a library, or why there is none.</summary>
public sealed record NvmlLoadResult(NvmlLibrary? Library, string? Error)
{
    public static NvmlLoadResult Loaded(NvmlLibrary library) => new(library, null);

    public static NvmlLoadResult Failed(string error) => new(null, error);
}
