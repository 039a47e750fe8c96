using System.IO.Compression;
using System.Text.Json;
using Xunit;

namespace Tracelet.Backends.Tests.Jsonl;

/// <summary>Reads what the jsonl backend left on disk, the way a user would.</summary>
internal static class JsonlFiles
{
    public static string[] Rotated(string dir) =>
        Directory.GetFiles(dir, "node-a-*").Where(p => !p.EndsWith(".tmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();

    public static IEnumerable<string> Lines(string path)
    {
        using var stream = File.OpenRead(path);
        using Stream content = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
        using var reader = new StreamReader(content);
        var all = reader.ReadToEnd();
        Assert.True(all.Length == 0 || all.EndsWith('\n'), $"{path} does not end with a newline");
        return all.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    /// <summary>The "value" of every record, rotated files oldest first, then the active file.</summary>
    public static List<double> Values(string dir) =>
        Rotated(dir).Append(Path.Combine(dir, "node-a.jsonl"))
            .Where(File.Exists)
            .SelectMany(Lines)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("value").GetDouble())
            .ToList();

    public static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }
}
