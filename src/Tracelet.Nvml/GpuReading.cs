namespace Tracelet.Nvml;

/// <summary>
/// One sample of one device, reused tick after tick so that sampling allocates nothing: values
/// indexed by <see cref="GpuField"/> with a presence bit each (absent ≠ zero), and the running
/// compute processes in a buffer that only grows.
/// </summary>
public sealed class GpuReading
{
    public static readonly int FieldCount = Enum.GetValues<GpuField>().Length;

    private readonly double[] _values = new double[FieldCount];
    private ulong _present;

    /// <summary>Processes seen this tick: the first <see cref="ProcessCount"/> entries of <see cref="Processes"/>.</summary>
    public Interop.NvmlProcessInfo[] Processes { get; internal set; } = new Interop.NvmlProcessInfo[8];

    public int ProcessCount { get; internal set; }

    /// <summary>When the sample was taken (UTC).</summary>
    public DateTimeOffset Timestamp { get; internal set; }

    public bool Has(GpuField field) => (_present & (1UL << (int)field)) != 0;

    /// <summary>The value, or NaN when absent.</summary>
    public double this[GpuField field] => Has(field) ? _values[(int)field] : double.NaN;

    public bool TryGet(GpuField field, out double value)
    {
        value = _values[(int)field];
        return Has(field);
    }

    /// <summary>How many fields are present.</summary>
    public int PresentCount => System.Numerics.BitOperations.PopCount(_present);

    internal void Set(GpuField field, double value)
    {
        _values[(int)field] = value;
        _present |= 1UL << (int)field;
    }

    internal void Clear()
    {
        _present = 0;
        ProcessCount = 0;
    }
}
