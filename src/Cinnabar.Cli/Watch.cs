namespace Cinnabar.Cli;

/// <summary>cinnabar watch: placeholder until it lands.</summary>
public static class Watch
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("cinnabar watch: not implemented yet");
        return 1;
    }
}
