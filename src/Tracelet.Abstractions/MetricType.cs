namespace Tracelet.Abstractions;

/// <summary>The Python Tracelet's 15 metric types, in its order. The numbers travel on the wire: never renumber.</summary>
public enum MetricType
{
    /// <summary>A number per step (loss, utilization...).</summary>
    Scalar = 0,
    /// <summary>A tensor, carried as a reference.</summary>
    Tensor = 1,
    /// <summary>A file, carried as a path or URI in <see cref="MetricSample.Text"/>.</summary>
    Artifact = 2,
    /// <summary>A run parameter.</summary>
    Parameter = 3,
    /// <summary>A host or device measurement.</summary>
    System = 4,
    /// <summary>Anything else.</summary>
    Custom = 5,
    /// <summary>A histogram.</summary>
    Histogram = 6,
    /// <summary>An image, carried as a reference.</summary>
    Image = 7,
    /// <summary>Free text.</summary>
    Text = 8,
    /// <summary>A figure, carried as a reference.</summary>
    Figure = 9,
    /// <summary>An embedding, carried as a reference.</summary>
    Embedding = 10,
    /// <summary>A video, carried as a reference.</summary>
    Video = 11,
    /// <summary>Audio, carried as a reference.</summary>
    Audio = 12,
    /// <summary>A 3-D mesh, carried as a reference.</summary>
    Mesh = 13,
    /// <summary>Hyper-parameters with their result metrics.</summary>
    HParams = 14,
}
