using System.Collections.Immutable;

namespace Tracelet.Collectors.Git;

/// <summary>What one read of a repository found; <see cref="Error"/> is set instead when it could not be read.</summary>
internal sealed record GitSnapshot
{
    /// <summary>The working tree (or git directory when bare), or the configured path when not a repository.</summary>
    public required string Repository { get; init; }

    /// <summary>Why nothing else is set ("not a git repository: ..."), or null.</summary>
    public string? Error { get; init; }

    /// <summary>The branch HEAD points at (also before its first commit), or null when detached.</summary>
    public string? Branch { get; init; }

    /// <summary>True when HEAD points at a commit, not a branch.</summary>
    public bool Detached { get; init; }

    /// <summary>The HEAD commit, or null before the first commit.</summary>
    public string? Sha { get; init; }

    /// <summary>"Name &lt;email&gt;" of the HEAD commit's author.</summary>
    public string? Author { get; init; }

    /// <summary>The first line of the HEAD commit's message.</summary>
    public string? Message { get; init; }

    /// <summary>The HEAD commit's author time.</summary>
    public DateTimeOffset? CommitTime { get; init; }

    /// <summary>Tracked files that differ from HEAD; null for a bare repository.</summary>
    public int? Changed { get; init; }

    /// <summary>Untracked, not ignored files; null for a bare repository.</summary>
    public int? Untracked { get; init; }

    /// <summary>Remote names and URLs.</summary>
    public ImmutableArray<(string Name, string Url)> Remotes { get; init; } = [];

    /// <summary>How HEAD reads for people: "main", "detached at 1a2b3c4", "main (no commits yet)".</summary>
    public string Head => Detached ? $"detached at {Sha?[..Math.Min(7, Sha.Length)]}"
        : Sha is null ? $"{Branch} (no commits yet)" : Branch ?? "";
}
