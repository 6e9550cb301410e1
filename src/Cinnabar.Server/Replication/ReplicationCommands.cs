using System.Text;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Replication;

/// <summary>REPLCONF, SYNC/PSYNC (replicationCommand family of replication.c), WAIT and ROLE.</summary>
public static class ReplicationCommands
{
    const int NetHostStrLen = 256;   // NET_HOST_STR_LEN

    public static void Register(CommandTable t)
    {
        t.Register("replconf", Replconf);
        t.Register("psync", Sync);
        t.Register("sync", Sync);
        t.Register("wait", Wait);
        t.Register("role", Role);
    }

    /// <summary>replconfCommand: option/value pairs; ACK and GETACK never reply.</summary>
    static void Replconf(Client c)
    {
        if (c.ArgCount % 2 == 0) { c.Syntax(); return; }
        var s = c.Server;
        var r = c.ReplicaLink ??= new ReplicaLink(c);
        for (int j = 1; j < c.ArgCount; j += 2)
        {
            if (c.ArgIs(j, "listening-port"))
            {
                if (!c.TryArgLong(j + 1, out long port)) return;
                r.ListeningPort = (int)port;
            }
            else if (c.ArgIs(j, "ip-address"))
            {
                var addr = c.Arg(j + 1);
                if (addr.Length >= NetHostStrLen)
                {
                    c.Error($"ERR REPLCONF ip-address provided by replica instance is too long: {addr.Length} bytes");
                    return;
                }
                r.IpAddress = Encoding.Latin1.GetString(addr);
            }
            else if (c.ArgIs(j, "capa"))
            {
                // Capabilities this master does not know are ignored.
                if (c.ArgIs(j + 1, "eof")) r.CapaEof = true;
                else if (c.ArgIs(j + 1, "psync2")) r.CapaPsync2 = true;
            }
            else if (c.ArgIs(j, "ack"))
            {
                // From a replica only, about the stream it processed; never answered.
                if (!r.IsReplica) return;
                if (!Numbers.TryParseInt64(c.Arg(j + 1), out long offset)) return;
                s.Repl.Master.Ack(r, offset);
                return;
            }
            else if (c.ArgIs(j, "getack"))
            {
                if (s.Repl.IsReplica) s.Repl.GetAckFromMaster(c);
                return;
            }
            else if (c.ArgIs(j, "rdb-only"))
            {
                if (!Numbers.TryParseInt64(c.Arg(j + 1), out long v)) { c.NotInteger(); return; }
                if (v < 0 || v > 1) { c.Error("ERR value is out of range, value must between 0 and 1"); return; }
                r.RdbOnly = v == 1;
            }
            else if (c.ArgIs(j, "rdb-filter-only"))
            {
                // Only the "functions" filter exists (redis-cli --functions-rdb); the RDB is not filtered here.
                foreach (var f in c.ArgString(j + 1).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!f.Equals("functions", StringComparison.OrdinalIgnoreCase))
                    {
                        c.Error($"ERR Unsupported rdb-filter-only option: {f}");
                        return;
                    }
                }
            }
            else
            {
                c.Error($"ERR Unrecognized REPLCONF option: {c.ArgText(j)}");
                return;
            }
        }
        c.Reply.Ok();
    }

    /// <summary>syncCommand: PSYNC replid offset [FAILOVER], or the pre-PSYNC SYNC.</summary>
    static void Sync(Client c)
    {
        var s = c.Server;
        var repl = s.Repl;
        var m = repl.Master;
        if (c.ReplicaLink is { IsReplica: true } || (c.Flags & ClientFlags.Monitor) != 0) return;
        bool psync = c.ArgIs(0, "psync");
        if (psync && c.ArgCount > 3 && c.ArgIs(3, "failover"))
        {
            if (!repl.IsReplica) { c.Error("ERR PSYNC FAILOVER can't be sent to a master."); return; }
            if (!string.Equals(c.ArgString(1), repl.ReplId, StringComparison.OrdinalIgnoreCase))
            {
                c.Error("ERR PSYNC FAILOVER replid must match my replid.");
                return;
            }
            repl.FailoverRequest(c);
        }
        if (repl.IsReplica && !repl.MasterLinkUp)
        {
            c.Error("NOMASTERLINK Can't SYNC while not connected with my master");
            return;
        }
        if (c.Reply.Pending > 0)
        {
            c.Error("ERR SYNC and PSYNC are invalid with pending output");
            return;
        }
        var r = c.ReplicaLink ??= new ReplicaLink(c);
        s.Log.Notice($"Replica {r.Name} asks for synchronization");
        if (psync)
        {
            if (!Numbers.TryParseInt64(c.Arg(2), out long offset))
            {
                c.NotInteger();
                s.Log.Warning($"Replica {r.Name} asks for synchronization but with a wrong offset");
                return;
            }
            string replid = c.ArgString(1);
            if (m.TryPartialResync(r, replid, offset))
            {
                m.StatSyncPartialOk++;
                return;
            }
            // "?" asks for a full sync on purpose: not a failed partial resync.
            if (replid.Length == 0 || replid[0] != '?') m.StatSyncPartialErr++;
        }
        else r.PrePsync = true;
        m.StartFullResync(r);
    }

    static readonly Action<Client> WaitTimedOut = c => c.Reply.Integer(c.Server.Repl.Master.CountAcks(c.WaitOffset));

    /// <summary>WAIT numreplicas timeout: replicas that acknowledged this client's last write.</summary>
    static void Wait(Client c)
    {
        var s = c.Server;
        if (s.Repl.IsReplica)
        {
            c.Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
            return;
        }
        if (!c.TryArgLong(1, out long numReplicas)) return;
        if (!s.TryParseBlockTimeout(c, 2, seconds: false, out long deadlineMs)) return;
        var m = s.Repl.Master;
        long offset = c.WOff;
        int acks = m.CountAcks(offset);
        if (acks >= numReplicas || !c.CanBlock)
        {
            c.Reply.Integer(acks);
            return;
        }
        c.WaitOffset = offset;
        c.WaitReplicas = numReplicas;
        s.BlockForKeys(c, Array.Empty<byte[]>(), deadlineMs, Storage.ValueType.None, WaitTimedOut);
        m.AddWaiting(c);
    }

    static void Role(Client c)
    {
        var repl = c.Server.Repl;
        if (repl.IsReplica) repl.RoleAsReplica(c);
        else repl.Master.ReplyRole(c);
    }
}
