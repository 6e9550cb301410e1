namespace Cinnabar.Cli;

/// <summary>
/// cinnabar: the operator's tool for Cinnabar and Redis 7.0 clusters.
///   cinnabar cluster create|check|fix|reshard|rebalance|add-node|del-node|info|call|set-timeout ...
///   cinnabar doctor HOST:PORT [--fix] [--yes] [--json]
///   cinnabar watch HOST:PORT [--once] [--interval ms] [--interval ms]
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 1 : 0;
        }
        var rest = args[1..];
        switch (args[0])
        {
            case "cluster": return ClusterTool.Run(rest);
            case "doctor": return Doctor.Doctor.Run(rest);
            case "watch": return Watch.Run(rest);
            default:
                Console.Error.WriteLine($"Unknown command '{args[0]}'.\n{Usage}");
                return 1;
        }
    }

    public const string Usage = """
        Usage: cinnabar <command> [arguments]

          cluster create|check|fix|reshard|rebalance|add-node|del-node|info|call|set-timeout ...
                          manage a cluster, with redis-cli --cluster's semantics and options
          doctor HOST:PORT [--fix] [--yes] [--json]
                          find what is wrong with a cluster, show the evidence and the remedy
          watch HOST:PORT [--once] [--interval ms]
                          live view of the cluster, refreshed every second
        """;
}
