namespace Tracelet.Abstractions;

/// <summary>What a plugin does. Names follow the Python Tracelet's <c>PluginType</c>.</summary>
public enum PluginType
{
    /// <summary>Stores or forwards samples (a SQL store, files, Prometheus...).</summary>
    Backend,

    /// <summary>Produces samples at an interval (CPU, GPU, git...).</summary>
    Collector,

    /// <summary>Integrates a training framework. Reserved: no runtime support yet.</summary>
    Framework,

    /// <summary>Transforms samples between collectors and backends. Reserved: no runtime support yet.</summary>
    Processor,
}
