using System.Text;
using System.Text.Json;

namespace Tracelet.Cli.Output;

/// <summary>Indented JSON on stdout for --json: never coloured, one document per command.</summary>
internal static class JsonOutput
{
    public static void Write(TextWriter output, JsonElement json) => Write(output, json.WriteTo);

    public static void Write(TextWriter output, Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(writer);
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
