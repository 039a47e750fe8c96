using System.Text.Json;

namespace Tracelet.Backends.Mlflow;

/// <summary>
/// The run this node logs to, kept in the data directory so that a restarted plugin (after a
/// failed write, or a crash) goes on logging to the same run instead of starting a new one.
/// </summary>
internal sealed record MlflowRunFile(string TrackingUri, string Experiment, string ExperimentId, string RunId)
{
    public static MlflowRunFile? Read(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<MlflowRunFile>(File.ReadAllText(path)) : null;
        }
        catch (JsonException)
        {
            // A file cut short by a crash is as good as none: a new run is created.
            return null;
        }
    }

    /// <summary>Written to a temporary file and renamed, so a crash never leaves half a file.</summary>
    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this));
        File.Move(temporary, path, overwrite: true);
    }
}
