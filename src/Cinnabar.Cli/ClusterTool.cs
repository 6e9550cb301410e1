namespace Cinnabar.Cli;

/// <summary>cinnabar cluster ...: placeholder until the subcommands land.</summary>
public static class ClusterTool
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("cinnabar cluster: not implemented yet");
        return 1;
    }
}
