using System.Globalization;

namespace Tracelet.Collectors.Processes;

/// <summary>
/// User names by uid from a passwd file, parsed once and again only when an unknown uid shows up
/// (at most once a minute); an unknown uid is shown as its number.
/// </summary>
internal sealed class UserNames(string passwdFile, TimeProvider time)
{
    private static readonly TimeSpan ReloadAfter = TimeSpan.FromMinutes(1);
    private readonly Dictionary<uint, string> _names = [];
    private long? _loadedAt;

    /// <summary>Why the file could not be read the last time, or null.</summary>
    public string? LoadError { get; private set; }

    /// <summary>The name of <paramref name="uid"/>, or the uid as text.</summary>
    public string NameOf(uint uid)
    {
        if (_names.TryGetValue(uid, out var name)) return name;
        if (_loadedAt is null || time.GetElapsedTime(_loadedAt.Value) >= ReloadAfter)
        {
            Load();
            if (_names.TryGetValue(uid, out name)) return name;
        }
        name = uid.ToString(CultureInfo.InvariantCulture);
        _names[uid] = name; // remembered until the next reload
        return name;
    }

    private void Load()
    {
        _loadedAt = time.GetTimestamp();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(passwdFile);
            LoadError = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LoadError = $"{passwdFile}: {e.Message}";
            return;
        }
        _names.Clear();
        foreach (var line in lines)
        {
            // name:password:uid:gid:gecos:home:shell
            var parts = line.Split(':');
            if (parts.Length >= 3 && uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
                _names.TryAdd(uid, parts[0]);
        }
    }
}
