using System.Collections.Immutable;
using LibGit2Sharp;

namespace Tracelet.Collectors.Git;

/// <summary>Reads HEAD, the HEAD commit, the working tree status and the remotes of a repository through libgit2.</summary>
internal static class GitReader
{
    private static readonly StatusOptions StatusOptions = new()
    {
        IncludeUntracked = true,
        RecurseUntrackedDirs = true,
        IncludeIgnored = false,
        DetectRenamesInIndex = false,
        DetectRenamesInWorkDir = false,
        IncludeUnaltered = false,
    };

    /// <summary>Reads the repository that holds <paramref name="path"/> (the path or a parent). Never throws: failures come back in <see cref="GitSnapshot.Error"/>.</summary>
    public static GitSnapshot Read(string path)
    {
        try
        {
            if (!Directory.Exists(path)) return new GitSnapshot { Repository = path, Error = $"path not found: {path}" };
            var discovered = LibGit2Sharp.Repository.Discover(path);
            if (discovered is null) return new GitSnapshot { Repository = path, Error = $"not a git repository: {path}" };
            using var repository = new LibGit2Sharp.Repository(discovered);
            return Read(repository);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException)
        {
            return new GitSnapshot { Repository = path, Error = $"libgit2 not available: {(e.InnerException ?? e).Message}" };
        }
        catch (Exception e)
        {
            return new GitSnapshot { Repository = path, Error = $"cannot read the repository at {path}: {e.Message}" };
        }
    }

    private static GitSnapshot Read(LibGit2Sharp.Repository repository)
    {
        var info = repository.Info;
        var location = TrimSeparator(info.WorkingDirectory ?? info.Path);
        var head = repository.Head;
        var tip = head.Tip;
        int? changed = null, untracked = null;
        if (!info.IsBare)
        {
            var (c, u) = (0, 0);
            foreach (var entry in repository.RetrieveStatus(StatusOptions))
            {
                if (entry.State == FileStatus.NewInWorkdir) u++;
                else if (entry.State is not (FileStatus.Ignored or FileStatus.Unaltered)) c++;
            }
            (changed, untracked) = (c, u);
        }
        var remotes = ImmutableArray.CreateBuilder<(string, string)>();
        foreach (var remote in repository.Network.Remotes) remotes.Add((remote.Name, remote.Url));
        return new GitSnapshot
        {
            Repository = location,
            Branch = info.IsHeadDetached ? null : head.FriendlyName,
            Detached = info.IsHeadDetached,
            Sha = tip?.Sha,
            Author = tip is null ? null : $"{tip.Author.Name} <{tip.Author.Email}>",
            Message = tip?.MessageShort,
            CommitTime = tip?.Author.When,
            Changed = changed,
            Untracked = untracked,
            Remotes = remotes.ToImmutable(),
        };
    }

    private static string TrimSeparator(string path) =>
        path.Length > 1 ? path.TrimEnd(Path.DirectorySeparatorChar) : path;
}
