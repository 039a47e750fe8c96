using Tracelet.Nvml.Interop;

namespace Tracelet.Nvml;

/// <summary>
/// The throwing layer, for initialization and discovery only: the sampling path reads
/// <see cref="NvmlReturn"/> codes and never throws for expected per-metric outcomes.
/// </summary>
public sealed class NvmlException(NvmlReturn code, string function, string message) : Exception(message)
{
    public NvmlReturn Code { get; } = code;

    public string Function { get; } = function;

    public NvmlErrorClass Class => NvmlErrors.Classify(Code);

    /// <summary>Throws when <paramref name="code"/> is not success, with the driver's own text for it.</summary>
    public static void ThrowIfFailed(NvmlLibrary library, NvmlReturn code, string function)
    {
        if (code != NvmlReturn.Success) throw Create(library, code, function);
    }

    public static NvmlException Create(NvmlLibrary library, NvmlReturn code, string function) =>
        new(code, function, $"{function} returned {(int)code} ({library.ErrorString(code)})");
}
