using System.Collections.Immutable;
using Tracelet.Abstractions;

namespace Tracelet.Collectors.Git;

/// <summary>
/// Branch, commit, author, message, dirty flag, untracked count and remotes of a working tree,
/// read through libgit2 (no <c>git</c> process). The read runs beside the plugin's call, which
/// waits for it at most <c>timeout</c>: a status of a huge repository that takes longer is written
/// by the first collection after it finishes, and no second read starts meanwhile.
/// </summary>
public sealed class GitCollector : CollectorPlugin
{
    private string _path = Environment.CurrentDirectory;
    private TimeSpan _timeout = TimeSpan.FromSeconds(5);
    private Task<GitSnapshot>? _reading;
    private GitSnapshot? _last;
    private long _collections;
    private long _slowReads;

    /// <inheritdoc />
    public override PluginMetadata Metadata { get; } = new("git", "1.0.0", PluginType.Collector)
    {
        Description = "Branch, commit, author, message, dirty flag, untracked files and remotes of a git working tree",
        Author = "Tracelet",
        ConfigSchema = """
            {
              "type": "object",
              "properties": {
                "interval": { "type": ["number", "string"], "description": "seconds, or a duration like \"60s\"" },
                "path": { "type": "string", "minLength": 1, "description": "the working tree, or a folder inside it (default: the node's current directory)" },
                "timeout": { "type": ["number", "string"], "description": "how long one collection waits for the read (default 5s); a slower read is written by a later collection" }
              },
              "additionalProperties": false
            }
            """,
    };

    /// <inheritdoc />
    protected override TimeSpan DefaultInterval => TimeSpan.FromSeconds(60);

    /// <inheritdoc />
    public override ValueTask InitializeAsync(PluginContext context, CancellationToken cancellationToken)
    {
        _path = Path.GetFullPath(context.Config.GetString("path", _path));
        _timeout = context.Config.GetDuration("timeout", _timeout);
        if (_timeout <= TimeSpan.Zero) throw new ArgumentException($"config key 'timeout' must be positive, got {_timeout}");
        return base.InitializeAsync(context, cancellationToken);
    }

    /// <inheritdoc />
    public override async ValueTask CollectAsync(ISampleWriter writer, CancellationToken cancellationToken)
    {
        _collections++;
        var path = _path;
        var reading = _reading ??= Task.Run(() => GitReader.Read(path), CancellationToken.None);
        try
        {
            await reading.WaitAsync(_timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _slowReads++;
            return; // still reading: the next collection takes the result
        }
        catch (OperationCanceledException)
        {
            return; // the plugin is stopping
        }
        _reading = null;
        var snapshot = await reading.ConfigureAwait(false); // GitReader.Read never throws
        _last = snapshot;
        if (snapshot.Error is null) Write(writer, snapshot);
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> GetStatus()
    {
        var status = new Dictionary<string, object?>
        {
            ["path"] = _path,
            ["collections"] = _collections,
            ["slow_reads"] = _slowReads,
        };
        if (_reading is { IsCompleted: false }) status["reading"] = $"a read is still running (longer than {_timeout.TotalSeconds:0.###} s)";
        if (_last is { } last)
        {
            status["repository"] = last.Error ?? last.Repository;
            if (last.Error is null)
            {
                status["head"] = last.Head;
                status["dirty"] = last.Changed > 0;
            }
        }
        return status;
    }

    private void Write(ISampleWriter writer, GitSnapshot snapshot)
    {
        ImmutableArray<MetricLabel> labels = [new(GitMetrics.RepositoryLabel, snapshot.Repository)];
        if (snapshot.Branch is { } branch) WriteText(writer, GitMetrics.Branch, branch, labels);
        writer.Write(GitMetrics.Detached, snapshot.Detached ? 1 : 0, labels.AsSpan());
        if (snapshot.Sha is { } sha)
        {
            WriteText(writer, GitMetrics.Commit, sha, labels);
            WriteText(writer, GitMetrics.CommitAuthor, snapshot.Author!, labels);
            WriteText(writer, GitMetrics.CommitMessage, snapshot.Message ?? "", labels);
            writer.Write(GitMetrics.CommitTime, snapshot.CommitTime!.Value.ToUnixTimeSeconds(), labels.AsSpan());
        }
        if (snapshot.Changed is { } changed)
        {
            writer.Write(GitMetrics.Dirty, changed > 0 ? 1 : 0, labels.AsSpan());
            writer.Write(GitMetrics.Changed, changed, labels.AsSpan());
        }
        if (snapshot.Untracked is { } untracked) writer.Write(GitMetrics.Untracked, untracked, labels.AsSpan());
        foreach (var (name, url) in snapshot.Remotes)
            WriteText(writer, GitMetrics.Remote, url, labels.Add(new MetricLabel("remote", name)));
    }

    private void WriteText(ISampleWriter writer, string name, string text, ImmutableArray<MetricLabel> labels) =>
        writer.Write(new MetricSample(name, MetricType.Text, double.NaN, writer.Now, Metadata.Name, Labels: labels, Text: text));
}
