using LibGit2Sharp;
using Tracelet.Abstractions;
using Tracelet.Collectors.Git;
using Tracelet.Collectors.Tests.Fixtures;
using Tracelet.Testing;
using Xunit;

namespace Tracelet.Collectors.Tests.Git;

public sealed class GitCollectorSpec : IDisposable
{
    private readonly FixtureDirectory _fixture = new();
    private readonly Signature _author = new("Ada Lovelace", "ada@example.org", new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => _fixture.Dispose();

    private string WorkTree => Path.Combine(_fixture.Path, "repo");

    /// <summary>A repository with one commit on branch "main" and an "origin" remote.</summary>
    private Commit CreateRepository()
    {
        Repository.Init(WorkTree);
        using var repository = new Repository(WorkTree);
        File.WriteAllText(Path.Combine(WorkTree, "train.py"), "print('hi')\n");
        File.WriteAllText(Path.Combine(WorkTree, ".gitignore"), "*.log\n");
        Commands.Stage(repository, "*");
        repository.Refs.UpdateTarget("HEAD", "refs/heads/main");
        var commit = repository.Commit("Train the model\n\nWith a longer body.", _author, _author);
        repository.Network.Remotes.Add("origin", "https://example.org/team/model.git");
        return commit;
    }

    private async Task<(GitCollector Collector, RecordingSampleWriter Writer)> CollectAsync(string path)
    {
        var collector = new GitCollector();
        var config = PluginConfig.Parse($$"""{ "path": "{{path}}" }""");
        await collector.InitializeAsync(new PluginContext("test-node", _fixture.Path, config), CancellationToken.None);
        var writer = new RecordingSampleWriter();
        await collector.CollectAsync(writer, CancellationToken.None);
        return (collector, writer);
    }

    private static string Text(RecordingSampleWriter writer, string name) =>
        Assert.Single(writer.Named(name)).Text ?? throw new Xunit.Sdk.XunitException($"{name} has no text");

    [Fact]
    public async Task A_clean_checkout_gives_branch_commit_author_message_and_remotes()
    {
        var commit = CreateRepository();

        var (collector, writer) = await CollectAsync(WorkTree);

        Assert.Equal("main", Text(writer, GitMetrics.Branch));
        Assert.Equal(commit.Sha, Text(writer, GitMetrics.Commit));
        Assert.Equal("Ada Lovelace <ada@example.org>", Text(writer, GitMetrics.CommitAuthor));
        Assert.Equal("Train the model", Text(writer, GitMetrics.CommitMessage));
        Assert.Equal(_author.When.ToUnixTimeSeconds(), writer.Value(GitMetrics.CommitTime));
        Assert.Equal(0, writer.Value(GitMetrics.Detached));
        Assert.Equal(0, writer.Value(GitMetrics.Dirty));
        Assert.Equal(0, writer.Value(GitMetrics.Untracked));
        var remote = Assert.Single(writer.Named(GitMetrics.Remote));
        Assert.Equal("https://example.org/team/model.git", remote.Text);
        Assert.Contains(new MetricLabel("remote", "origin"), remote.Labels);
        Assert.All(writer.Samples, s => Assert.Contains(new MetricLabel("repository", WorkTree), s.Labels));
        Assert.All(writer.Named(GitMetrics.Branch), s => Assert.Equal(MetricType.Text, s.Type));
        Assert.Equal("main", collector.GetStatus()["head"]);
    }

    [Fact]
    public async Task A_modified_file_makes_it_dirty_and_untracked_files_are_counted_but_not_ignored_ones()
    {
        CreateRepository();
        File.AppendAllText(Path.Combine(WorkTree, "train.py"), "print('changed')\n");
        _fixture.Write("repo/notes.txt", "todo\n");
        _fixture.Write("repo/data/new.csv", "a,b\n");
        _fixture.Write("repo/run.log", "ignored\n");

        var (collector, writer) = await CollectAsync(Path.Combine(WorkTree, "data")); // a folder inside the tree

        Assert.Equal(1, writer.Value(GitMetrics.Dirty));
        Assert.Equal(1, writer.Value(GitMetrics.Changed));
        Assert.Equal(2, writer.Value(GitMetrics.Untracked));
        Assert.Equal(true, collector.GetStatus()["dirty"]);
    }

    [Fact]
    public async Task A_detached_head_has_no_branch_and_says_detached_at_the_commit()
    {
        var commit = CreateRepository();
        using (var repository = new Repository(WorkTree)) Commands.Checkout(repository, commit);

        var (collector, writer) = await CollectAsync(WorkTree);

        Assert.Empty(writer.Named(GitMetrics.Branch));
        Assert.Equal(1, writer.Value(GitMetrics.Detached));
        Assert.Equal(commit.Sha, Text(writer, GitMetrics.Commit));
        Assert.Equal($"detached at {commit.Sha[..7]}", collector.GetStatus()["head"]);
    }

    [Fact]
    public async Task A_repository_without_commits_reports_its_branch_only()
    {
        Repository.Init(WorkTree);
        _fixture.Write("repo/first.txt", "x\n");

        var (collector, writer) = await CollectAsync(WorkTree);

        Assert.Empty(writer.Named(GitMetrics.Commit));
        Assert.Equal(1, writer.Value(GitMetrics.Untracked));
        Assert.EndsWith("(no commits yet)", (string)collector.GetStatus()["head"]!);
    }

    [Fact]
    public async Task A_folder_that_is_not_a_repository_gets_a_clear_status_and_no_samples()
    {
        var plain = Path.Combine(_fixture.Path, "plain");
        Directory.CreateDirectory(plain);

        var (collector, writer) = await CollectAsync(plain);

        Assert.Empty(writer.Samples);
        Assert.Equal($"not a git repository: {plain}", collector.GetStatus()["repository"]);
    }

    [Fact]
    public async Task A_path_that_does_not_exist_gets_a_clear_status_and_no_samples()
    {
        var missing = Path.Combine(_fixture.Path, "missing");

        var (collector, writer) = await CollectAsync(missing);

        Assert.Empty(writer.Samples);
        Assert.Equal($"path not found: {missing}", collector.GetStatus()["repository"]);
    }
}
