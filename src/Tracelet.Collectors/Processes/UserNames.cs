using System.Globalization;

namespace Tracelet.Collectors.Processes;

/// <summary>
/// User names by uid. On the real host they come from the system's user database (getpwuid_r:
/// /etc/passwd, but also LDAP or SSSD users of a cluster); with a passwd file given (a fixture, or
/// no libc to ask) from that file, parsed again at most once a minute. A uid nobody knows is shown
/// as its number and asked again at most once a minute, so a user added later is named then.
/// </summary>
internal sealed class UserNames(string? passwdFile, TimeProvider time)
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(1);
    private readonly Dictionary<uint, string> _names = [];
    private readonly Dictionary<uint, (string Text, long Since)> _unknown = [];
    private readonly Dictionary<uint, string> _file = [];
    private bool _systemUnavailable;
    private long? _fileLoadedAt;

    /// <summary>Why the passwd file or the system's user database could not be read the last time, or null.</summary>
    public string? LoadError { get; private set; }

    /// <summary>The name of <paramref name="uid"/>, or the uid as text.</summary>
    public string NameOf(uint uid)
    {
        if (_names.TryGetValue(uid, out var name)) return name;
        if (_unknown.TryGetValue(uid, out var unknown) && time.GetElapsedTime(unknown.Since) < RetryAfter) return unknown.Text;
        name = Lookup(uid);
        if (name is not null)
        {
            _unknown.Remove(uid);
            _names[uid] = name;
            return name;
        }
        var text = uid.ToString(CultureInfo.InvariantCulture);
        _unknown[uid] = (text, time.GetTimestamp());
        return text;
    }

    private string? Lookup(uint uid)
    {
        if (passwdFile is null && !_systemUnavailable)
        {
            try
            {
                return SystemUsers.NameOf(uid);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
            {
                _systemUnavailable = true;
                LoadError = $"getpwuid_r: {e.Message}; using /etc/passwd";
            }
        }
        if (_fileLoadedAt is null || time.GetElapsedTime(_fileLoadedAt.Value) >= RetryAfter) LoadFile(passwdFile ?? "/etc/passwd");
        return _file.GetValueOrDefault(uid);
    }

    private void LoadFile(string path)
    {
        _fileLoadedAt = time.GetTimestamp();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LoadError = $"{path}: {e.Message}";
            return;
        }
        if (passwdFile is not null) LoadError = null;
        _file.Clear();
        foreach (var line in lines)
        {
            // name:password:uid:gid:gecos:home:shell
            var parts = line.Split(':');
            if (parts.Length >= 3 && uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
                _file.TryAdd(uid, parts[0]);
        }
    }
}
