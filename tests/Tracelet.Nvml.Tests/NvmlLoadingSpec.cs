using Tracelet.Nvml.Interop;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Nvml.Tests;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlLoadingSpec
{
    [Fact]
    public void A_missing_library_is_a_reason_not_an_exception()
    {
        var missing = Path.Combine(Path.GetTempPath(), "tracelet-no-such-dir", NvmlLibrary.SoName);
        var result = NvmlLibrary.Load(missing);
        Assert.Null(result.Library);
        Assert.Contains(missing, result.Error);
        Assert.Contains("no such file", result.Error);
    }

    [Fact]
    public void A_file_that_is_not_a_library_is_refused_with_the_loaders_reason()
    {
        var dir = Directory.CreateTempSubdirectory("tracelet-brokenlib-");
        var broken = Path.Combine(dir.FullName, NvmlLibrary.SoName);
        File.WriteAllText(broken, "this is not an ELF file");
        try
        {
            var result = NvmlLibrary.Load(broken);
            Assert.Null(result.Library);
            Assert.StartsWith($"{NvmlLibrary.SoName} not found ({broken}:", result.Error);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_environment_variable_names_the_library_when_no_path_is_given()
    {
        var path = FakeNvml.PathFor();
        var result = NvmlLibrary.Load(null, new Dictionary<string, string?> { [NvmlLibrary.PathEnvironmentVariable] = path });
        Assert.Equal(path, result.Library?.Path);
    }

    [Fact]
    public void The_same_path_loads_once()
    {
        var path = FakeNvml.PathFor();
        Assert.Same(NvmlLibrary.Load(path).Library, NvmlLibrary.Load(path).Library);
    }

    [Fact]
    public void Versioned_symbols_resolve_to_the_newest_the_library_exports()
    {
        var current = NvmlLibrary.Load(FakeNvml.PathFor(FakeNvml.Current)).Library!;
        Assert.Equal("nvmlDeviceGetMemoryInfo_v2", current.ResolvedVersions["MemoryInfoV2"]);
        Assert.Equal("nvmlDeviceGetTemperatureV", current.ResolvedVersions["TemperatureV"]);
        Assert.Equal("nvmlDeviceGetCurrentClocksEventReasons", current.ResolvedVersions["ClockEventReasons"]);
        Assert.Equal("nvmlDeviceGetComputeRunningProcesses_v3", current.ResolvedVersions["ComputeProcesses"]);
        Assert.Equal("nvmlEventSetWait_v2", current.ResolvedVersions["EventSetWait"]);
        Assert.Equal("nvmlDeviceGetPciInfo_v3", current.ResolvedVersions["PciInfo"]);

        var legacy = NvmlLibrary.Load(FakeNvml.PathFor(FakeNvml.Legacy)).Library!;
        Assert.Null(legacy.ResolvedVersions["MemoryInfoV2"]);
        Assert.Null(legacy.ResolvedVersions["TemperatureV"]);
        Assert.Equal("nvmlDeviceGetCurrentClocksThrottleReasons", legacy.ResolvedVersions["ClockEventReasons"]);
        Assert.Equal("nvmlDeviceGetComputeRunningProcesses_v2", legacy.ResolvedVersions["ComputeProcesses"]);
        Assert.Equal("nvmlEventSetWait", legacy.ResolvedVersions["EventSetWait"]);
        Assert.Equal("v1", legacy.MemoryVersion);
    }

    [Fact]
    public void Two_variants_loaded_at_once_keep_separate_state()
    {
        var current = FakeNvml.Control(FakeNvml.Current);
        var legacy = FakeNvml.Control(FakeNvml.Legacy);
        current.Reset();
        legacy.Reset();
        var lib = NvmlLibrary.Load(FakeNvml.PathFor(FakeNvml.Current)).Library!;
        using (var _ = new SessionScope(lib))
        {
            Assert.Equal(1, current.RefCount);
            Assert.Equal(0, legacy.RefCount);
        }
        Assert.Equal(0, current.RefCount);
    }

    private sealed class SessionScope : IDisposable
    {
        private readonly NvmlSession _session;

        public SessionScope(NvmlLibrary lib) => _session = NvmlSession.Open(lib);

        public void Dispose() => _session.Release();
    }
}
