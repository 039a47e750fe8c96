namespace Tracelet.Actors.Configuration;

/// <summary>
/// The node's configuration cannot be used. The message names the file, the line (where known)
/// and the key, so that an operator can fix it without reading code.
/// </summary>
public sealed class TraceletConfigException : Exception
{
    /// <summary>Creates the exception; the message is composed from the parts.</summary>
    public TraceletConfigException(string source, int? line, int? column, string? key, string reason)
        : base(Compose(source, line, column, key, reason))
    {
        Source = source;
        Line = line;
        Key = key;
        Reason = reason;
    }

    /// <summary>The file (or "environment", "command line") the problem is in.</summary>
    public new string Source { get; }

    /// <summary>The 1-based line, when known.</summary>
    public int? Line { get; }

    /// <summary>The offending key path, when there is one.</summary>
    public string? Key { get; }

    /// <summary>What is wrong.</summary>
    public string Reason { get; }

    private static string Compose(string source, int? line, int? column, string? key, string reason)
    {
        var where = line is null ? source : column is null ? $"{source}:{line}" : $"{source}:{line}:{column}";
        return key is null ? $"{where}: {reason}" : $"{where}: {key}: {reason}";
    }
}
