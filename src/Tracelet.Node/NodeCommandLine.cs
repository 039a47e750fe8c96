using System.CommandLine;
using System.Text;
using Tracelet.Actors.Configuration;

namespace Tracelet.Node;

/// <summary>The node's command line: which files to load and a few common overrides.</summary>
internal sealed record NodeCommandLine(IReadOnlyList<string> ConfigFiles, string? Overrides)
{
    private static readonly Option<string[]> RoleOption = new("--role")
    {
        Description = "Role file(s) from the node's hocon/ folder, e.g. single-node (the default)",
        AllowMultipleArgumentsPerToken = true,
    };

    private static readonly Option<string[]> ConfigOption = new("--config", "-c")
    {
        Description = "Extra HOCON file(s), applied after the role files (later wins)",
        AllowMultipleArgumentsPerToken = true,
    };

    private static readonly Option<string?> NodeIdOption = new("--node-id") { Description = "Stable node id (tracelet.node-id)" };
    private static readonly Option<string?> DataDirOption = new("--data-dir") { Description = "Data directory (tracelet.data-dir)" };
    private static readonly Option<int?> HttpPortOption = new("--http-port") { Description = "Status API port (tracelet.http.port)" };

    public static RootCommand CreateRootCommand() =>
        new("Tracelet node: runs the plugins of this machine and serves the status API on 127.0.0.1:8558.")
        {
            RoleOption, ConfigOption, NodeIdOption, DataDirOption, HttpPortOption,
        };

    public static NodeCommandLine From(ParseResult result)
    {
        var roles = result.GetValue(RoleOption) is { Length: > 0 } r ? r : ["single-node"];
        var files = new List<string>();
        foreach (var role in roles)
        {
            var path = Path.Combine(AppContext.BaseDirectory, "hocon", role.EndsWith(".conf", StringComparison.Ordinal) ? role : role + ".conf");
            if (!File.Exists(path))
                throw new TraceletConfigException("command line", null, null, "--role", $"no role file '{role}' in {Path.GetDirectoryName(path)}");
            files.Add(path);
        }
        files.AddRange(result.GetValue(ConfigOption) ?? []);

        var overrides = new StringBuilder();
        if (result.GetValue(NodeIdOption) is { } id) overrides.Append("tracelet.node-id = ").AppendLine(TraceletConfigLoader.Quote(id));
        if (result.GetValue(DataDirOption) is { } dir) overrides.Append("tracelet.data-dir = ").AppendLine(TraceletConfigLoader.Quote(dir));
        if (result.GetValue(HttpPortOption) is { } port) overrides.Append("tracelet.http.port = ").AppendLine(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new NodeCommandLine(files, overrides.Length == 0 ? null : overrides.ToString());
    }
}
