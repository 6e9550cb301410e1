using System.Globalization;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Replication;

/// <summary>REPLICAOF / SLAVEOF, ROLE and WAIT's replica refusal (replication.c replicaofCommand, roleCommand, waitCommand).</summary>
public static class ReplicaCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("replicaof", ReplicaOf);
        t.Register("slaveof", ReplicaOf);
        t.Register("role", Role);
        t.Register("wait", Wait);
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

    /// <summary>ROLE: [master, offset, [[ip, port, ack]...]] or [slave, host, port, state, offset].</summary>
    static void Role(Client c)
    {
        var repl = c.Server.Repl;
        if (repl.MasterHost == null)
        {
            c.Reply.ArrayHeader(3);
            c.Reply.Bulk("master"u8);
            c.Reply.Integer(repl.MasterReplOffset);
            repl.WriteRoleReplicas(c);
            return;
        }
        c.Reply.ArrayHeader(5);
        c.Reply.Bulk("slave"u8);
        c.Reply.Bulk(repl.MasterHost);
        c.Reply.Integer(repl.MasterPort);
        c.Reply.Bulk(repl.RoleStateName);
        c.Reply.Integer(repl.RoleOffset);
    }

    /// <summary>WAIT on a replica is refused before its arguments are looked at.</summary>
    static void Wait(Client c)
    {
        var repl = c.Server.Repl;
        if (repl.MasterHost != null)
        {
            c.Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
            return;
        }
        repl.WaitAsMaster(c);
    }
}
