using Tracelet.Actors.Configuration;
using Tracelet.Node;
using Tracelet.Node.Configuration;

// Exit codes (NodeExitCode): 0 clean stop, 2 configuration error (the message names file, line and key),
// 3 downed by the cluster (split-brain resolver); anything else is an unexpected failure.
var root = NodeCommandLine.CreateRootCommand();
root.SetAction(async (parse, ct) =>
{
    WebApplication app;
    try
    {
        var commandLine = NodeCommandLine.From(parse);
        var environment = TraceletConfigLoader.ProcessEnvironment();
        var config = NodeConfigLoader.Load(commandLine.ConfigFiles, environment, commandLine.Overrides);
        app = NodeHost.Build(config, environment);
    }
    catch (TraceletConfigException e)
    {
        await Console.Error.WriteLineAsync($"tracelet: configuration error: {e.Message}");
        return NodeExitCode.ConfigurationError;
    }
    await app.RunAsync();
    return NodeExitCode.AfterStop(Environment.ExitCode);
});
return await root.Parse(args).InvokeAsync();
