namespace Tracelet.Actors.Plugins;

/// <summary>Exponential backoff with jitter between supervised restarts.</summary>
internal static class RestartBackoff
{
    /// <summary>The delay before restart number <paramref name="attempt"/> (1-based), with a jitter sample in [0, 1).</summary>
    public static TimeSpan Delay(SupervisionSettings s, int attempt, double jitterSample)
    {
        var exponent = Math.Min(attempt - 1, 30);
        var raw = Math.Min(s.MaxBackoff.TotalMilliseconds, s.MinBackoff.TotalMilliseconds * Math.Pow(2, exponent));
        var jitter = 1 + (jitterSample * s.RandomFactor);
        return TimeSpan.FromMilliseconds(Math.Min(s.MaxBackoff.TotalMilliseconds, raw * jitter));
    }
}
