namespace Tracelet.Abstractions;

/// <summary>
/// Throw this (or let a <see cref="DllNotFoundException"/> escape) when retrying cannot help: a
/// missing native library, a device that does not exist. The runtime then puts the plugin in Error
/// at once instead of restarting it with backoff.
/// </summary>
public class PluginPermanentException : Exception
{
    /// <summary>Creates the exception with a message that names the cause.</summary>
    public PluginPermanentException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public PluginPermanentException(string message, Exception inner) : base(message, inner) { }
}
