using Xunit;

namespace Tracelet.Cluster.Tests;

/// <summary>Polls until an assertion passes (AwaitAssert for async reads), or fails with its last message.</summary>
internal static class Eventually
{
    public static async Task<T> Holds<T>(Func<Task<T>> read, Action<T> assert, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await read();
            try
            {
                assert(value);
                return value;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }
}
