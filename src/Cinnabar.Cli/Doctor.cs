namespace Cinnabar.Cli;

/// <summary>cinnabar doctor: placeholder until it lands.</summary>
public static class Doctor
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("cinnabar doctor: not implemented yet");
        return 1;
    }
}
