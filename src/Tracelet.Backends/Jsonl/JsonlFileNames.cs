using System.Globalization;
using System.Text.RegularExpressions;

namespace Tracelet.Backends.Jsonl;

/// <summary>
/// Names of the active file (<c>&lt;stem&gt;.jsonl</c>) and of rotated ones
/// (<c>&lt;stem&gt;-&lt;yyyyMMddTHHmmssfff&gt;Z.jsonl[.gz]</c>, UTC), which sort oldest first by name.
/// </summary>
internal sealed class JsonlFileNames
{
    private const string TimestampFormat = "yyyyMMdd'T'HHmmssfff'Z'";
    private readonly Regex _rotated;

    public JsonlFileNames(string activePath)
    {
        ActivePath = activePath;
        Directory = System.IO.Path.GetDirectoryName(activePath)!;
        var file = System.IO.Path.GetFileName(activePath);
        Stem = file.EndsWith(".jsonl", StringComparison.Ordinal) ? file[..^".jsonl".Length] : file;
        _rotated = new Regex($@"^{Regex.Escape(Stem)}-\d{{8}}T\d{{9}}Z\.jsonl(\.gz)?$", RegexOptions.CultureInvariant);
    }

    public string ActivePath { get; }

    public string Directory { get; }

    public string Stem { get; }

    /// <summary>A free name for a file rotated at <paramref name="at"/>; a clash moves it on by a millisecond so names stay in order.</summary>
    public string RotatedPath(DateTimeOffset at)
    {
        while (true)
        {
            var path = System.IO.Path.Combine(Directory, $"{Stem}-{at.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture)}.jsonl");
            if (!File.Exists(path) && !File.Exists(path + ".gz")) return path;
            at = at.AddMilliseconds(1);
        }
    }

    /// <summary>Rotated files, compressed or not, oldest first.</summary>
    public List<string> ListRotated() =>
        System.IO.Directory.EnumerateFiles(Directory)
            .Where(p => _rotated.IsMatch(System.IO.Path.GetFileName(p)))
            .OrderBy(p => System.IO.Path.GetFileName(p), StringComparer.Ordinal)
            .ToList();

    /// <summary>Half-written archives left by a crash during compression.</summary>
    public IEnumerable<string> ListPartialArchives() =>
        System.IO.Directory.EnumerateFiles(Directory, $"{Stem}-*.jsonl.gz.tmp");
}
