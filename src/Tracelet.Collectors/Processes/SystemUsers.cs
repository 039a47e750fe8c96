using System.Runtime.InteropServices;

namespace Tracelet.Collectors.Processes;

/// <summary>
/// getpwuid_r(3) from glibc, which asks every source in nsswitch.conf (files, LDAP, SSSD).
/// Tmds.LibC binds no passwd functions, so this one call is declared here.
/// </summary>
internal static unsafe partial class SystemUsers
{
    private const int ERANGE = 34;
    private const int MaxBuffer = 1 << 20;

    /// <summary>The user's name, or null when no source knows the uid. Throws <see cref="IOException"/> when the lookup itself fails.</summary>
    public static string? NameOf(uint uid)
    {
        for (var size = 1024; size <= MaxBuffer; size *= 4)
        {
            var buffer = new byte[size];
            Passwd entry;
            Passwd* result;
            int error;
            fixed (byte* b = buffer) error = getpwuid_r(uid, &entry, b, (nuint)size, &result);
            if (error == ERANGE) continue;
            if (error != 0) throw new IOException($"getpwuid_r({uid}): {Marshal.GetPInvokeErrorMessage(error)}");
            return result == null ? null : Marshal.PtrToStringUTF8((nint)result->Name);
        }
        throw new IOException($"getpwuid_r({uid}): entry larger than {MaxBuffer} bytes");
    }

    // struct passwd of glibc and musl: the five strings and two ids in this order on every Linux ABI.
    [StructLayout(LayoutKind.Sequential)]
    private struct Passwd
    {
        public byte* Name;
        public byte* Password;
        public uint Uid;
        public uint Gid;
        public byte* Gecos;
        public byte* Home;
        public byte* Shell;
    }

    [LibraryImport("libc.so.6")]
    private static partial int getpwuid_r(uint uid, Passwd* pwd, byte* buf, nuint buflen, Passwd** result);
}
