using System.Collections.Immutable;

namespace Tracelet.Actors.Plugins.Lifecycle;

/// <summary>
/// The failures of one plugin within the supervision window (<c>within</c>): a plugin that fails more
/// than <c>max-restarts</c> times inside it is given up on. Immutable, so a decision can be replayed.
/// </summary>
public sealed record SupervisionWindow(ImmutableQueue<DateTimeOffset> Failures)
{
    /// <summary>No failure recorded.</summary>
    public static SupervisionWindow Empty { get; } = new(ImmutableQueue<DateTimeOffset>.Empty);

    /// <summary>Failures still inside the window at the time of the last <see cref="Add"/>.</summary>
    public int Count => Failures.Count();

    /// <summary>The window after a failure at <paramref name="now"/>: failures older than <paramref name="within"/> fall out.</summary>
    public SupervisionWindow Add(DateTimeOffset now, TimeSpan within)
    {
        var failures = Failures;
        while (!failures.IsEmpty && now - failures.Peek() > within) failures = failures.Dequeue();
        return new SupervisionWindow(failures.Enqueue(now));
    }

    /// <summary>Whether this many failures exceed the restart budget.</summary>
    public bool GivesUp(SupervisionSettings s) => Count > s.MaxRestarts;
}
