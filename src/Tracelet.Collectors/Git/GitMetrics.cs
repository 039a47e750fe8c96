namespace Tracelet.Collectors.Git;

/// <summary>
/// Names of the git collector's metrics (docs/metrics.md, "git"). Text values travel as
/// <c>MetricType.Text</c> samples (the text in <c>MetricSample.Text</c>, the value NaN); numbers as
/// <c>MetricType.System</c>. Every sample carries the label <c>repository</c> (the working tree's path).
/// </summary>
public static class GitMetrics
{
    /// <summary>Text: the checked-out branch; absent when HEAD is detached.</summary>
    public const string Branch = "git.branch";

    /// <summary>1 when HEAD is detached (a commit checked out, no branch), else 0.</summary>
    public const string Detached = "git.detached";

    /// <summary>Text: the full SHA of the HEAD commit; absent before the first commit.</summary>
    public const string Commit = "git.commit";

    /// <summary>Text: the HEAD commit's author, "Name &lt;email&gt;".</summary>
    public const string CommitAuthor = "git.commit.author";

    /// <summary>Text: the first line of the HEAD commit's message.</summary>
    public const string CommitMessage = "git.commit.message";

    /// <summary>The HEAD commit's author time, Unix seconds.</summary>
    public const string CommitTime = "git.commit.time";

    /// <summary>1 when tracked files differ from HEAD (staged or not), else 0.</summary>
    public const string Dirty = "git.dirty";

    /// <summary>Tracked files that differ from HEAD (staged or not).</summary>
    public const string Changed = "git.changed";

    /// <summary>Files not tracked and not ignored.</summary>
    public const string Untracked = "git.untracked";

    /// <summary>Text: a remote's URL, one sample per remote with the label <c>remote</c> (its name).</summary>
    public const string Remote = "git.remote";

    /// <summary>Label on every sample: the working tree (or the git directory of a bare repository).</summary>
    public const string RepositoryLabel = "repository";
}
