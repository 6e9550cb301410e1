using System.Globalization;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Replication;

/// <summary>REPLICAOF / SLAVEOF (replication.c replicaofCommand); ROLE and WAIT are in ReplicationCommands.</summary>
public static class ReplicaCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("replicaof", ReplicaOf);
        t.Register("slaveof", ReplicaOf);
    }

    static void ReplicaOf(Client c)
    {
        var server = c.Server;
        var repl = server.Repl;
        if (server.ClusterEnabled)
        {
            c.Error("ERR REPLICAOF not allowed in cluster mode.");
            return;
        }
        if (c.ArgIs(1, "no") && c.ArgIs(2, "one"))
        {
            if (repl.MasterHost != null)
            {
                repl.UnsetMaster();
                server.Log.Notice($"MASTER MODE enabled (user request from '{server.ClientInfoLine(c)}')");
            }
            c.Reply.Ok();
            return;
        }
        if (!Numbers.TryParseInt64(c.Arg(2), out long port) || port < 0 || port > 65535)
        {
            c.Error("ERR Invalid master port");
            return;
        }
        string host = c.ArgString(1);
        if (repl.MasterHost != null && string.Equals(repl.MasterHost, host, StringComparison.OrdinalIgnoreCase) && repl.MasterPort == port)
        {
            server.Log.Notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            c.Reply.Raw("+OK Already connected to specified master\r\n"u8);
            return;
        }
        repl.SetMaster(host, (int)port);
        server.Log.Notice($"REPLICAOF {repl.MasterHost}:{repl.MasterPort} enabled (user request from '{server.ClientInfoLine(c)}')");
        c.Reply.Ok();
    }
}
