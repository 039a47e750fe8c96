using System.Collections.Immutable;
using Akka.Configuration;

namespace Tracelet.Actors.Configuration;

/// <summary>Where a setting came from: a file and a line, or a source without lines (an environment variable, the command line).</summary>
public readonly record struct SettingOrigin(string File, int? Line);

/// <summary>The node's merged configuration, with the file and line of every key a file set.</summary>
public sealed record LoadedConfig(Config Config, ImmutableDictionary<string, SettingOrigin> Origins)
{
    /// <summary>The file and line that set <paramref name="path"/>, or the closest enclosing key that was set in a file.</summary>
    public SettingOrigin? OriginOf(string path)
    {
        for (var p = path; p.Length > 0; p = p.Contains('.') ? p[..p.LastIndexOf('.')] : "")
        {
            if (Origins.TryGetValue(p, out var origin)) return origin;
        }
        return null;
    }

    /// <summary>A configuration error about <paramref name="path"/>, located where a file set it.</summary>
    public TraceletConfigException Error(string path, string reason)
    {
        var origin = OriginOf(path);
        return origin is { } o
            ? new TraceletConfigException(o.File, o.Line, null, path, reason)
            : new TraceletConfigException("configuration", null, null, path, reason);
    }

    /// <summary>A setting as text; "" when absent.</summary>
    public string Text(string path)
    {
        try
        {
            return Config.GetString(path, "") ?? "";
        }
        catch (Exception e) when (e is not TraceletConfigException)
        {
            throw Error(path, $"expected a string: {e.Message}");
        }
    }

    /// <summary>A boolean setting (on/off, true/false, yes/no).</summary>
    public bool Bool(string path)
    {
        var text = Text(path).ToLowerInvariant();
        return text switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            _ => throw Error(path, $"'{text}' is not a boolean (use on/off or true/false)"),
        };
    }

    /// <summary>A duration setting (500ms, 2s, 1m...).</summary>
    public TimeSpan Duration(string path)
    {
        var text = Text(path);
        if (Tracelet.Abstractions.DurationText.TryParse(text, out var d)) return d;
        throw Error(path, $"'{text}' is not a duration (write it like 500ms, 2s, 1m)");
    }

    /// <summary>A duration setting that must be longer than zero.</summary>
    public TimeSpan PositiveDuration(string path)
    {
        var d = Duration(path);
        if (d > TimeSpan.Zero) return d;
        throw Error(path, $"'{Text(path)}' must be longer than zero (write it like 500ms, 2s, 1m)");
    }

    /// <summary>A whole-number setting within a range (a port, a count): 19501.5 is refused, not truncated.</summary>
    public long Integer(string path, long min, long max)
    {
        var text = Text(path);
        if (long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            return n;
        throw Error(path, $"'{text}' is not a whole number between {min} and {max}");
    }

    /// <summary>A size setting (64MiB, 1GiB, 500000) in bytes, at least <paramref name="min"/>.</summary>
    public long Bytes(string path, long min)
    {
        long? size;
        try
        {
            size = Config.GetByteSize(path);
        }
        catch (Exception e) when (e is not TraceletConfigException)
        {
            throw Error(path, $"'{Text(path)}' is not a size (write it like 64MiB, 1GiB): {e.Message}");
        }
        if (size is not { } n || n < min) throw Error(path, $"'{Text(path)}' is not a size of at least {min} bytes (write it like 64MiB)");
        return n;
    }

    /// <summary>A number setting within a range.</summary>
    public double Number(string path, double min, double max)
    {
        var text = Text(path);
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            return n;
        throw Error(path, $"'{text}' is not a number between {min} and {max}");
    }
}
