using Cinnabar.Cli.Tool;

namespace Cinnabar.Cli;

/// <summary>
/// cinnabar cluster ...: redis-cli --cluster's subcommands, options, output and exit codes (Tool/), plus --dry-run
/// on the commands that change a cluster and repairs where redis-cli gives up.
/// </summary>
public static class ClusterTool
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "-h" or "--help")
        {
            Console.WriteLine(Help);
            return args.Length == 0 ? 1 : 0;
        }
        ToolOptions o;
        try { o = ToolOptions.Parse(args[1..], stopAfterCommand: args[0] == "call"); }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine("[ERR] " + e.Message);
            return 1;
        }
        // "host port" is accepted as well as "host:port" (as redis-cli does).
        if (args[0] is not ("create" or "add-node" or "call") && o.Positional.Count >= 2 && int.TryParse(o.Positional[1], out _) && !o.Positional[0].Contains(':'))
        {
            o.Positional[0] += ":" + o.Positional[1];
            o.Positional.RemoveAt(1);
        }
        try
        {
            return args[0] switch
            {
                "create" => Membership.Create(o),
                "check" => CheckFix.Run(o, fix: false),
                "fix" => CheckFix.Run(o, fix: true),
                "info" => Misc.Info(o),
                "reshard" => Reshard.RunReshard(o),
                "rebalance" => Reshard.RunRebalance(o),
                "add-node" => Membership.AddNode(o),
                "del-node" => Membership.DelNode(o),
                "call" => Misc.Call(o),
                "set-timeout" => Misc.SetTimeout(o),
                _ => Unknown(args[0]),
            };
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or FormatException)
        {
            ToolOutput.Err("[ERR] " + e.Message);
            return 1;
        }
    }

    static int Unknown(string cmd)
    {
        Console.Error.WriteLine($"[ERR] Unknown --cluster subcommand '{cmd}'\n{Help}");
        return 1;
    }

    public static int Usage(string cmd)
    {
        Console.Error.WriteLine($"[ERR] Wrong number of arguments for specified --cluster sub command ({cmd})\n{Help}");
        return 1;
    }

    public const string Help = """
        Cluster Manager Commands (cinnabar cluster <command> ...):
          create         host1:port1 ... hostN:portN
                         --cluster-replicas <arg>  --cluster-yes
          check          <host:port> or <host> <port>
                         --cluster-search-multiple-owners
          info           <host:port> or <host> <port>
          fix            <host:port> or <host> <port>
                         --cluster-search-multiple-owners
                         --cluster-fix-with-unreachable-masters
                         --cluster-yes  --dry-run
          reshard        <host:port> or <host> <port>
                         --cluster-from <arg>  --cluster-to <arg>  --cluster-slots <arg>
                         --cluster-yes  --cluster-timeout <arg>  --cluster-pipeline <arg>
                         --cluster-replace  --dry-run
          rebalance      <host:port> or <host> <port>
                         --cluster-weight <node1=w1...nodeN=wN>  --cluster-use-empty-masters
                         --cluster-timeout <arg>  --cluster-simulate  --cluster-pipeline <arg>
                         --cluster-threshold <arg>  --cluster-replace  --dry-run
          add-node       new_host:new_port existing_host:existing_port
                         --cluster-slave  --cluster-master-id <arg>
          del-node       host:port node_id  [--dry-run]
          call           host:port command arg arg .. arg
                         --cluster-only-masters  --cluster-only-replicas
          set-timeout    host:port milliseconds

        --dry-run prints every command that would change the cluster, and sends none of them.
        """;
}
