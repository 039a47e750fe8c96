namespace Tracelet.Node;

/// <summary>
/// The node cannot start for a reason outside its configuration files (a data directory it cannot
/// write, a port another process holds). Shown as one line and exit code 2, like a configuration error.
/// </summary>
internal sealed class NodeStartupException(string message, Exception? inner = null) : Exception(message, inner);
