namespace Tracelet.Actors.Pipeline;

/// <summary>What a backend link does when its buffer is full. Chosen per backend in HOCON.</summary>
public enum OverflowPolicy
{
    /// <summary>Drop the oldest buffered samples: live metrics prefer the newest (the default).</summary>
    DropOldest = 0,
    /// <summary>Drop the incoming samples.</summary>
    DropNewest = 1,
    /// <summary>Tell the node's collectors to skip their collections until there is room; counted as skipped.</summary>
    Block = 2,
    /// <summary>Keep every sample in the node's SQLite store and deliver it when the backend is back, also after a restart.</summary>
    Durable = 3,
}

/// <summary>Why samples were dropped: the keys of the dropped counters in status.</summary>
public static class DropReason
{
    public const string Overflow = "overflow";
    public const string Blocked = "blocked";
    public const string Rejected = "rejected";
    public const string BackendError = "backend-error";
    public const string Shutdown = "shutdown";
    public const string DiskError = "disk-error";
}
