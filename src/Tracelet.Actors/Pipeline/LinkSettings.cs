namespace Tracelet.Actors.Pipeline;

/// <summary>How producers treat one backend's link (from the backend's <c>tracelet.plugins.&lt;name&gt;.pipeline</c> section).</summary>
/// <param name="Overflow">What happens when the buffer is full.</param>
/// <param name="BufferSamples">Samples waiting behind the window, at most.</param>
/// <param name="BufferBytes">Their estimated size, at most.</param>
/// <param name="WindowSamples">Samples sent and not yet acknowledged, at most (the credit).</param>
public sealed record LinkSettings(OverflowPolicy Overflow, int BufferSamples, long BufferBytes, int WindowSamples)
{
    public static LinkSettings Default { get; } = new(OverflowPolicy.DropOldest, 100_000, 64L * 1024 * 1024, 20_000);
}
