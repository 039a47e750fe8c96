using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Tracelet.Testing;

/// <summary>
/// Builds the fake libnvidia-ml.so.1 (tests/native/fake-nvml/fake_nvml.c) with cc into a temp
/// folder keyed by the source's hash, once per source version, and hands out its absolute path.
/// Tests load NVML only from here: never by SONAME, so a developer's real driver is never touched.
/// </summary>
public static class FakeNvml
{
    /// <summary>Every symbol (the <c>current</c> profile).</summary>
    public const string Current = "current";

    /// <summary>A ≈R470/R510 driver: no memory v2, no TemperatureV, no clocks-event names, no processes v3, no EventSetWait v2.</summary>
    public const string Legacy = "legacy";

    /// <summary>Only init, shutdown, error string, count, handle, name and UUID.</summary>
    public const string Minimal = "minimal";

    private static readonly Lock BuildLock = new();
    private static readonly Dictionary<string, string> Built = [];

    /// <summary>The fake's C source in this repository.</summary>
    public static string SourceFile => Path.Combine(NodeBuild.RepositoryRoot, "tests", "native", "fake-nvml", "fake_nvml.c");

    /// <summary>The absolute path of the built library for <paramref name="profile"/>, compiling it first if needed.</summary>
    public static string PathFor(string profile = Current)
    {
        lock (BuildLock)
        {
            if (Built.TryGetValue(profile, out var path)) return path;
            path = Build(profile);
            Built[profile] = path;
            return path;
        }
    }

    private static string Build(string profile)
    {
        var source = SourceFile;
        if (!File.Exists(source)) throw new FileNotFoundException($"the fake NVML source is missing: {source}");
        var hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(source)))[..16].ToLowerInvariant();
        var dir = Path.Combine(Path.GetTempPath(), $"tracelet-fake-nvml-{hash}", profile);
        var output = Path.Combine(dir, "libnvidia-ml.so.1");
        if (File.Exists(output)) return output;
        Directory.CreateDirectory(dir);
        // Build beside the target and rename: a parallel test process never loads a half-written file.
        var partial = Path.Combine(dir, $"libnvidia-ml.so.1.{Environment.ProcessId}.tmp");
        var define = profile switch
        {
            Current => null,
            Legacy => "-DFAKE_NVML_PROFILE_LEGACY",
            Minimal => "-DFAKE_NVML_PROFILE_MINIMAL",
            _ => throw new ArgumentException($"unknown fake NVML profile '{profile}'", nameof(profile)),
        };
        var arguments = new List<string>
        {
            "-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden",
            "-Wl,-soname,libnvidia-ml.so.1", "-Wl,-Bsymbolic", "-o", partial, source, "-lpthread",
        };
        if (define is not null) arguments.Insert(0, define);
        var compiler = FindCompiler();
        var start = new ProcessStartInfo(compiler) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {compiler}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) throw new TimeoutException($"{compiler} did not finish building the fake NVML in 2 minutes");
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{compiler} failed to build the fake NVML ({profile}), exit {process.ExitCode}:\n{stdout.Result}{stderr.Result}");
        File.Move(partial, output, overwrite: true);
        return output;
    }

    private static string FindCompiler()
    {
        foreach (var name in new[] { Environment.GetEnvironmentVariable("CC"), "cc", "gcc" })
        {
            if (string.IsNullOrEmpty(name)) continue;
            if (name.Contains('/')) return name;
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
            }
        }
        throw new InvalidOperationException("no C compiler: the NVML tests build a fake libnvidia-ml.so.1 with cc. Run `./test.sh` (it installs gcc) or install gcc (apt-get install gcc).");
    }

    /// <summary>The fake's control API (fakenvml_*), through the same loaded copy the binding uses.</summary>
    public static FakeNvmlControl Control(string profile = Current) => new(PathFor(profile));
}

/// <summary>Steers one loaded fake: reset, configure, inject faults, read call counters.</summary>
public sealed unsafe class FakeNvmlControl
{
    private readonly delegate* unmanaged<void> _reset;
    private readonly delegate* unmanaged<byte*, int> _configure;
    private readonly delegate* unmanaged<byte*, int, ulong> _callCount;
    private readonly delegate* unmanaged<byte*, uint> _lastLength;
    private readonly delegate* unmanaged<int> _refCount;
    private readonly delegate* unmanaged<int, void> _setInitResult;
    private readonly delegate* unmanaged<int, int, void> _setGpuLost;
    private readonly delegate* unmanaged<int, ulong, void> _injectXid;
    private readonly delegate* unmanaged<uint, void> _setLatency;
    private readonly delegate* unmanaged<int, uint, void> _setHang;

    internal FakeNvmlControl(string path)
    {
        Path = path;
        // dlopen of the same path returns the handle the binding already holds: one copy, one state.
        var handle = NativeLibrary.Load(path);
        if (!NativeLibrary.TryGetExport(handle, "fakenvml_marker", out _))
            throw new InvalidOperationException($"{path} is not the Tracelet fake NVML (no fakenvml_marker): refusing to drive it");
        _reset = (delegate* unmanaged<void>)NativeLibrary.GetExport(handle, "fakenvml_reset");
        _configure = (delegate* unmanaged<byte*, int>)NativeLibrary.GetExport(handle, "fakenvml_configure");
        _callCount = (delegate* unmanaged<byte*, int, ulong>)NativeLibrary.GetExport(handle, "fakenvml_call_count");
        _lastLength = (delegate* unmanaged<byte*, uint>)NativeLibrary.GetExport(handle, "fakenvml_last_length");
        _refCount = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "fakenvml_refcount");
        _setInitResult = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(handle, "fakenvml_set_init_result");
        _setGpuLost = (delegate* unmanaged<int, int, void>)NativeLibrary.GetExport(handle, "fakenvml_set_gpu_lost");
        _injectXid = (delegate* unmanaged<int, ulong, void>)NativeLibrary.GetExport(handle, "fakenvml_inject_xid");
        _setLatency = (delegate* unmanaged<uint, void>)NativeLibrary.GetExport(handle, "fakenvml_set_latency_us");
        _setHang = (delegate* unmanaged<int, uint, void>)NativeLibrary.GetExport(handle, "fakenvml_set_hang");
    }

    public string Path { get; }

    /// <summary>Defaults again: 2 devices (device 1 with MIG), counters zeroed, faults cleared, refcount 0.</summary>
    public void Reset() => _reset();

    /// <summary>e.g. "devices=4;mig_device=-1;fan_unsupported=0,1".</summary>
    public void Configure(string settings)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(settings + '\0');
        int rc;
        fixed (byte* p = bytes) rc = _configure(p);
        if (rc != 0) throw new ArgumentException($"the fake NVML refused '{settings}'");
    }

    /// <summary>Calls made to an NVML function (full name, e.g. "nvmlDeviceGetFanSpeed"), on one device or all (-1).</summary>
    public ulong CallCount(string function, int device = -1)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(function + '\0');
        fixed (byte* p = bytes) return _callCount(p, device);
    }

    /// <summary>The last buffer length passed to a string or array function.</summary>
    public uint LastLength(string function)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(function + '\0');
        fixed (byte* p = bytes) return _lastLength(p);
    }

    /// <summary>NVML's init count right now.</summary>
    public int RefCount => _refCount();

    public void SetInitResult(int code) => _setInitResult(code);

    /// <summary>The device answers GPU_IS_LOST to everything after <paramref name="afterCalls"/> more calls.</summary>
    public void SetGpuLost(int device, int afterCalls) => _setGpuLost(device, afterCalls);

    public void InjectXid(int device, ulong xid) => _injectXid(device, xid);

    public void SetLatencyMicroseconds(uint microseconds) => _setLatency(microseconds);

    /// <summary>Every call on <paramref name="device"/> sleeps this long (0 = no hang), as a driver stuck in an ioctl would.</summary>
    public void SetHang(int device, uint milliseconds) => _setHang(device, milliseconds);
}
