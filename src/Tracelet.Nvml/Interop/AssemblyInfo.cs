// Every NVML signature we use is blittable (primitives, pointers, unmanaged structs), so the
// runtime never generates marshalling stubs: a call is a plain native call and allocates nothing.
[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]
