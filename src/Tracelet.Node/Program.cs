using Tracelet.Actors.Configuration;
using Tracelet.Node;
using Tracelet.Node.Configuration;

// Exit codes (NodeExitCode): 0 clean stop, 2 the node cannot start (a configuration error naming file, line
// and key; an unknown option; a data directory or port it cannot use), always as one line on stderr;
// 3 downed by the cluster (split-brain resolver); anything else is an unexpected failure.
var root = NodeCommandLine.CreateRootCommand();
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    await Console.Error.WriteLineAsync($"tracelet: {parsed.Errors[0].Message} (see --help)");
    return NodeExitCode.ConfigurationError;
}
root.SetAction(async (parse, _) =>
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
    catch (NodeStartupException e)
    {
        await Console.Error.WriteLineAsync($"tracelet: {e.Message}");
        return NodeExitCode.ConfigurationError;
    }
    await using (app)
    {
        try
        {
            await app.StartAsync(CancellationToken.None);
        }
        catch (IOException e)
        {
            // Kestrel's "address already in use" and the like: the listener, not a fault of the node.
            await Console.Error.WriteLineAsync($"tracelet: cannot start the status API: {e.Message.Split('\n')[0].Trim()}");
            return NodeExitCode.ConfigurationError;
        }
        await app.WaitForShutdownAsync(CancellationToken.None);
    }
    return NodeExitCode.AfterStop(Environment.ExitCode);
});
return await parsed.InvokeAsync();
