using Tracelet.Actors.Configuration;
using Tracelet.Node;

// Exit codes: 0 clean stop, 2 configuration error (the message names file, line and key).
var root = NodeCommandLine.CreateRootCommand();
root.SetAction(async (parse, ct) =>
{
    WebApplication app;
    try
    {
        var commandLine = NodeCommandLine.From(parse);
        var environment = TraceletConfigLoader.ProcessEnvironment();
        var config = TraceletConfigLoader.Load(commandLine.ConfigFiles, environment, commandLine.Overrides);
        app = NodeHost.Build(config, environment);
    }
    catch (TraceletConfigException e)
    {
        await Console.Error.WriteLineAsync($"tracelet: configuration error: {e.Message}");
        return 2;
    }
    await app.RunAsync();
    return Environment.ExitCode;
});
return await root.Parse(args).InvokeAsync();
