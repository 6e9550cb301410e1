using System.Text;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// clusterCommand: the CLUSTER subcommands that read or change the cluster configuration (cluster-algorithms.md §11,
/// §12, §14). KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT (the keyspace side) live with the routing code. Every
/// handler takes <see cref="ClusterState.Sync"/>, and ends with <see cref="ClusterState.AfterChanges"/> (save, state,
/// new view) and a wake-up of the bus thread for whatever it queued.
/// </summary>
public static class ClusterCommand
{
    public static void Register(CommandTable t)
    {
        t.Register("cluster|info", c => Locked(c, Info));
        t.Register("cluster|nodes", c => Locked(c, (s, cl) => cl.Reply.Verbatim(s.GenNodesDescription())));
        t.Register("cluster|slots", c => Locked(c, Slots));
        t.Register("cluster|shards", c => Locked(c, Shards));
        t.Register("cluster|myid", c => Locked(c, (s, cl) => cl.Reply.Bulk(s.Myself.Name)));
        t.Register("cluster|meet", c => Locked(c, Meet, wakeBus: true));   // the bus connects to the new node now, not at its next cron
        t.Register("cluster|forget", c => Locked(c, Forget));
        t.Register("cluster|reset", c => Locked(c, Reset));
        t.Register("cluster|saveconfig", c => Locked(c, SaveConfig));
        t.Register("cluster|set-config-epoch", c => Locked(c, SetConfigEpoch));
        t.Register("cluster|bumpepoch", c => Locked(c, BumpEpoch));
        t.Register("cluster|count-failure-reports", c => Locked(c, CountFailureReports));
        t.Register("cluster|links", c => Locked(c, Links));
        t.Register("cluster|addslots", c => Locked(c, (s, cl) => AddDelSlots(s, cl, del: false, ranges: false)));
        t.Register("cluster|delslots", c => Locked(c, (s, cl) => AddDelSlots(s, cl, del: true, ranges: false)));
        t.Register("cluster|addslotsrange", c => Locked(c, (s, cl) => AddDelSlots(s, cl, del: false, ranges: true)));
        t.Register("cluster|delslotsrange", c => Locked(c, (s, cl) => AddDelSlots(s, cl, del: true, ranges: true)));
        t.Register("cluster|flushslots", c => Locked(c, FlushSlots));
        t.Register("cluster|setslot", c => Locked(c, SetSlot));
        t.Register("cluster|replicate", c => Locked(c, Replicate));
        t.Register("cluster|replicas", c => Locked(c, Replicas));
        t.Register("cluster|slaves", c => Locked(c, Replicas));
        t.Register("cluster|failover", c => Locked(c, Failover));
        t.Register("cluster|help", c => HelpReply.Write(c, "CLUSTER", HelpLines));
    }

    public const string Disabled = "ERR This instance has cluster support disabled";

    /// <summary>
    /// Runs a CLUSTER subcommand under the cluster lock, then what it left to do (state, nodes.conf, the view). The
    /// bus thread is not woken: messages a command queues wake it themselves, and waking it after every command
    /// made each CLUSTER SETSLOT of a resharding wait for a thread switch and the lock.
    /// </summary>
    static void Locked(Client c, Action<ClusterState, Client> handler, bool wakeBus = false)
    {
        var state = c.Server.Cluster;
        if (state == null)
        {
            c.Error(Disabled);
            return;
        }
        lock (state.Sync)
        {
            handler(state, c);
            state.AfterChanges();
        }
        if (wakeBus) state.Bus.Wake();
    }

    // ---------------------------------------------------------------- INFO

    static void Info(ClusterState s, Client c)
    {
        int assigned = 0, ok = 0, pfail = 0, fail = 0;
        for (int j = 0; j < ClusterState.Slots; j++)
        {
            var n = s.SlotOwner[j];
            if (n == null) continue;
            assigned++;
            if (n.Failed) fail++;
            else if (n.TimedOut) pfail++;
            else ok++;
        }
        var myEpoch = s.Myself.IsSlave && s.Myself.SlaveOf != null ? s.Myself.SlaveOf.ConfigEpoch : s.Myself.ConfigEpoch;
        var sb = new StringBuilder();
        sb.Append("cluster_state:").Append(s.State == ClusterState.StateOk ? "ok" : "fail").Append("\r\n");
        sb.Append("cluster_slots_assigned:").Append(assigned).Append("\r\n");
        sb.Append("cluster_slots_ok:").Append(ok).Append("\r\n");
        sb.Append("cluster_slots_pfail:").Append(pfail).Append("\r\n");
        sb.Append("cluster_slots_fail:").Append(fail).Append("\r\n");
        sb.Append("cluster_known_nodes:").Append(s.Nodes.Count).Append("\r\n");
        sb.Append("cluster_size:").Append(s.Size).Append("\r\n");
        sb.Append("cluster_current_epoch:").Append(s.CurrentEpoch).Append("\r\n");
        sb.Append("cluster_my_epoch:").Append(myEpoch).Append("\r\n");
        AppendStats(sb, s.StatsSent, "sent");
        AppendStats(sb, s.StatsReceived, "received");
        sb.Append("total_cluster_links_buffer_limit_exceeded:").Append(s.LinksBufferLimitExceeded).Append("\r\n");
        c.Reply.Verbatim(sb.ToString());
    }

    static void AppendStats(StringBuilder sb, long[] counters, string dir)
    {
        long total = 0;
        for (int i = 0; i < counters.Length; i++)
        {
            if (counters[i] == 0) continue;
            total += counters[i];
            sb.Append("cluster_stats_messages_").Append(BusMessage.TypeNames[i]).Append('_').Append(dir).Append(':').Append(counters[i]).Append("\r\n");
        }
        sb.Append("cluster_stats_messages_").Append(dir).Append(':').Append(total).Append("\r\n");
    }

    // ---------------------------------------------------------------- SLOTS / SHARDS

    static void Slots(ClusterState s, Client c)
    {
        var runs = new List<(int start, int end, ClusterNode n)>();
        ClusterNode cur = null;
        int start = 0;
        for (int i = 0; i <= ClusterState.Slots; i++)
        {
            var owner = i < ClusterState.Slots ? s.SlotOwner[i] : null;
            if (cur != null && (i == ClusterState.Slots || owner != cur)) runs.Add((start, i - 1, cur));
            if (i < ClusterState.Slots && owner != cur)
            {
                cur = owner;
                start = i;
            }
        }
        c.Reply.ArrayHeader(runs.Count);
        foreach (var (from, to, n) in runs)
        {
            var replicas = n.Replicas.Where(r => ReplicaAvailable(s, r)).ToList();
            c.Reply.ArrayHeader(3 + replicas.Count);
            c.Reply.Integer(from);
            c.Reply.Integer(to);
            NodeEntry(s, c, n);
            foreach (var r in replicas) NodeEntry(s, c, r);
        }
    }

    /// <summary>isReplicaAvailable: not FAIL and a known, non-zero replication offset.</summary>
    static bool ReplicaAvailable(ClusterState s, ClusterNode r)
    {
        if (r.Failed) return false;
        long offset = r.IsMyself ? s.ReplicationOffset() : r.ReplOffset;
        return offset != 0;
    }

    /// <summary>addNodeToNodeReply: [endpoint, port, id, {extra networking metadata}].</summary>
    static void NodeEntry(ClusterState s, Client c, ClusterNode n)
    {
        string type = c.Server.Settings.ClusterPreferredEndpointType;
        c.Reply.ArrayHeader(4);
        if (type == "ip") c.Reply.Bulk(n.Ip);
        else if (type == "hostname") c.Reply.Bulk(n.Hostname.Length > 0 ? n.Hostname : "?");
        else c.Reply.Null();
        c.Reply.Integer(n.Port);
        c.Reply.Bulk(n.Name);
        int len = (type != "ip" ? 1 : 0) + (type != "hostname" && n.Hostname.Length > 0 ? 1 : 0);
        c.Reply.MapHeader(len);
        if (type != "ip")
        {
            c.Reply.Bulk("ip");
            c.Reply.Bulk(n.Ip);
        }
        if (type != "hostname" && n.Hostname.Length > 0)
        {
            c.Reply.Bulk("hostname");
            c.Reply.Bulk(n.Hostname);
        }
    }

    static void Shards(ClusterState s, Client c)
    {
        var masters = s.Nodes.Values.Where(n => n.IsMaster).ToList();
        c.Reply.ArrayHeader(masters.Count);
        foreach (var m in masters)
        {
            c.Reply.MapHeader(2);
            c.Reply.Bulk("slots");
            var ranges = SlotRanges(m);
            c.Reply.ArrayHeader(ranges.Count * 2);
            foreach (var (from, to) in ranges)
            {
                c.Reply.Integer(from);
                c.Reply.Integer(to);
            }
            c.Reply.Bulk("nodes");
            c.Reply.ArrayHeader(1 + m.Replicas.Count);
            ShardNode(s, c, m);
            foreach (var r in m.Replicas) ShardNode(s, c, r);
        }
    }

    static List<(int, int)> SlotRanges(ClusterNode n)
    {
        var list = new List<(int, int)>();
        int start = -1;
        for (int j = 0; j <= ClusterState.Slots; j++)
        {
            bool bit = j < ClusterState.Slots && n.HasSlot(j);
            if (bit && start < 0) start = j;
            if (!bit && start >= 0)
            {
                list.Add((start, j - 1));
                start = -1;
            }
        }
        return list;
    }

    /// <summary>addNodeDetailsToShardReply.</summary>
    static void ShardNode(ClusterState s, Client c, ClusterNode n)
    {
        long offset = n.IsMyself ? s.ReplicationOffset() : n.ReplOffset;
        int pairs = 6 + (n.Port != 0 ? 1 : 0) + (n.Hostname.Length > 0 ? 1 : 0);
        c.Reply.MapHeader(pairs);
        c.Reply.Bulk("id");
        c.Reply.Bulk(n.Name);
        if (n.Port != 0)
        {
            c.Reply.Bulk("port");
            c.Reply.Integer(n.Port);
        }
        c.Reply.Bulk("ip");
        c.Reply.Bulk(n.Ip);
        c.Reply.Bulk("endpoint");
        c.Reply.Bulk(s.PreferredEndpoint(n));
        if (n.Hostname.Length > 0)
        {
            c.Reply.Bulk("hostname");
            c.Reply.Bulk(n.Hostname);
        }
        c.Reply.Bulk("role");
        c.Reply.Bulk(n.IsSlave ? "replica" : "master");
        c.Reply.Bulk("replication-offset");
        c.Reply.Integer(offset);
        c.Reply.Bulk("health");
        c.Reply.Bulk(n.Failed ? "fail" : n.IsSlave && offset == 0 ? "loading" : "online");
    }

    // ---------------------------------------------------------------- MEET / FORGET / RESET

    static void Meet(ClusterState s, Client c)
    {
        if (c.ArgCount is not (4 or 5))
        {
            c.Error($"ERR unknown subcommand or wrong number of arguments for '{c.ArgString(1)}'. Try CLUSTER HELP.");
            return;
        }
        string ipArg = c.ArgString(2);
        if (!Protocol.Numbers.TryParseInt64(c.Arg(3), out long port))
        {
            c.Error("ERR Invalid TCP base port specified: " + c.ArgString(3));
            return;
        }
        long cport = port + 10000;
        if (c.ArgCount == 5 && !Protocol.Numbers.TryParseInt64(c.Arg(4), out cport))
        {
            c.Error("ERR Invalid TCP bus port specified: " + c.ArgString(4));
            return;
        }
        if (!s.StartHandshake(ipArg, port, cport))
        {
            c.Error($"ERR Invalid node address specified: {ipArg}:{c.ArgString(3)}");
            return;
        }
        c.Reply.Ok();
    }

    static void Forget(ClusterState s, Client c)
    {
        string id = c.ArgString(2);
        var n = s.Lookup(id);
        if (n == null)
        {
            c.Error("ERR Unknown node " + id);
            return;
        }
        if (n == s.Myself)
        {
            c.Error("ERR I tried hard but I can't forget myself...");
            return;
        }
        if (s.Myself.IsSlave && s.Myself.SlaveOf == n)
        {
            c.Error("ERR Can't forget my master!");
            return;
        }
        s.BlacklistAdd(n.Name);
        s.DelNode(n);
        s.RequestSaveAndUpdate();
        c.Reply.Ok();
    }

    static void Reset(ClusterState s, Client c)
    {
        bool hard = false;
        if (c.ArgCount == 3)
        {
            if (c.ArgIs(2, "hard")) hard = true;
            else if (!c.ArgIs(2, "soft"))
            {
                c.Syntax();
                return;
            }
        }
        else if (c.ArgCount > 3)
        {
            c.Syntax();
            return;
        }
        if (s.Myself.IsMaster && c.Server.Dbs[0].Count != 0)
        {
            c.Error("ERR CLUSTER RESET can't be called with master nodes containing keys");
            return;
        }
        s.Reset(hard);
        c.Reply.Ok();
    }

    static void SaveConfig(ClusterState s, Client c)
    {
        if (s.SaveConfig(true)) c.Reply.Ok();
        else c.Error("ERR error saving the cluster node config: " + s.LastSaveError);
    }

    static void SetConfigEpoch(ClusterState s, Client c)
    {
        if (!c.TryArgLong(2, out long epoch)) return;
        if (epoch < 0) c.Error($"ERR Invalid config epoch specified: {epoch}");
        else if (s.Nodes.Count > 1) c.Error("ERR The user can assign a config epoch only when the node does not know any other node.");
        else if (s.Myself.ConfigEpoch != 0) c.Error("ERR Node config epoch is already non-zero");
        else
        {
            s.Myself.ConfigEpoch = (ulong)epoch;
            s.Log.Warning($"configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH");
            if (s.CurrentEpoch < (ulong)epoch) s.CurrentEpoch = (ulong)epoch;
            s.RequestSaveAndUpdate();
            c.Reply.Ok();
        }
    }

    static void BumpEpoch(ClusterState s, Client c)
    {
        bool bumped = s.BumpConfigEpochWithoutConsensus();
        c.Reply.Simple($"{(bumped ? "BUMPED" : "STILL")} {s.Myself.ConfigEpoch}");
    }

    static void CountFailureReports(ClusterState s, Client c)
    {
        string id = c.ArgString(2);
        var n = s.Lookup(id);
        if (n == null) c.Error("ERR Unknown node " + id);
        else c.Reply.Integer(s.FailureReportsCount(n));
    }

    static void Links(ClusterState s, Client c)
    {
        var links = new List<ClusterLink>();
        foreach (var n in s.Nodes.Values)
        {
            if (n.Link != null) links.Add(n.Link);
            if (n.InboundLink != null) links.Add(n.InboundLink);
        }
        c.Reply.ArrayHeader(links.Count);
        foreach (var l in links)
        {
            c.Reply.MapHeader(6);
            c.Reply.Bulk("direction");
            c.Reply.Bulk(l.Inbound ? "from" : "to");
            c.Reply.Bulk("node");
            c.Reply.Bulk(l.Node.Name);
            c.Reply.Bulk("create-time");
            c.Reply.Integer(l.CTime);
            c.Reply.Bulk("events");
            c.Reply.Bulk(l.Connecting ? "w" : l.WriteRegistered || l.SendUsed > 0 ? "rw" : "r");
            c.Reply.Bulk("send-buffer-allocated");
            c.Reply.Integer(l.Send.Length);
            c.Reply.Bulk("send-buffer-used");
            c.Reply.Integer(l.SendUsed);
        }
    }

    // ---------------------------------------------------------------- slots

    /// <summary>getSlotOrReply.</summary>
    static int SlotArg(Client c, int i)
    {
        if (!Protocol.Numbers.TryParseInt64(c.Arg(i), out long slot) || slot < 0 || slot >= ClusterState.Slots)
        {
            c.Error("ERR Invalid or out of range slot");
            return -1;
        }
        return (int)slot;
    }

    /// <summary>checkSlotAssignmentsOrReply.</summary>
    static bool CheckSlots(ClusterState s, Client c, byte[] seen, bool del, int from, int to)
    {
        for (int slot = from; slot <= to; slot++)
        {
            if (del && s.SlotOwner[slot] == null)
            {
                c.Error($"ERR Slot {slot} is already unassigned");
                return false;
            }
            if (!del && s.SlotOwner[slot] != null)
            {
                c.Error($"ERR Slot {slot} is already busy");
                return false;
            }
            if (seen[slot]++ == 1)
            {
                c.Error($"ERR Slot {slot} specified multiple times");
                return false;
            }
        }
        return true;
    }

    static void AddDelSlots(ClusterState s, Client c, bool del, bool ranges)
    {
        var seen = new byte[ClusterState.Slots];
        if (ranges)
        {
            if (c.ArgCount % 2 == 1)
            {
                c.Error($"ERR wrong number of arguments for 'cluster|{(del ? "delslotsrange" : "addslotsrange")}' command");
                return;
            }
            for (int j = 2; j < c.ArgCount; j += 2)
            {
                int from = SlotArg(c, j);
                if (from < 0) return;
                int to = SlotArg(c, j + 1);
                if (to < 0) return;
                if (from > to)
                {
                    c.Error($"ERR start slot number {from} is greater than end slot number {to}");
                    return;
                }
                if (!CheckSlots(s, c, seen, del, from, to)) return;
            }
        }
        else
        {
            for (int j = 2; j < c.ArgCount; j++)
                if (SlotArg(c, j) < 0) return;
            for (int j = 2; j < c.ArgCount; j++)
            {
                int slot = SlotArg(c, j);
                if (!CheckSlots(s, c, seen, del, slot, slot)) return;
            }
        }
        for (int j = 0; j < ClusterState.Slots; j++)
        {
            if (seen[j] == 0) continue;
            s.ImportingFrom[j] = null;
            if (del) s.DelSlot(j);
            else s.AddSlot(s.Myself, j);
        }
        s.RequestSaveAndUpdate();
        c.Reply.Ok();
    }

    static void FlushSlots(ClusterState s, Client c)
    {
        if (c.Server.Dbs[0].Count != 0)
        {
            c.Error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
            return;
        }
        s.DelNodeSlots(s.Myself);
        s.RequestSaveAndUpdate();
        c.Reply.Ok();
    }

    static void SetSlot(ClusterState s, Client c)
    {
        if (s.Myself.IsSlave)
        {
            c.Error("ERR Please use SETSLOT only with masters.");
            return;
        }
        int slot = SlotArg(c, 2);
        if (slot < 0) return;
        int argc = c.ArgCount;
        if (c.ArgIs(3, "migrating") && argc == 5)
        {
            if (s.SlotOwner[slot] != s.Myself)
            {
                c.Error($"ERR I'm not the owner of hash slot {slot}");
                return;
            }
            var n = TargetMaster(s, c, 4, "I don't know about node ");
            if (n == null) return;
            s.MigratingTo[slot] = n;
        }
        else if (c.ArgIs(3, "importing") && argc == 5)
        {
            if (s.SlotOwner[slot] == s.Myself)
            {
                c.Error($"ERR I'm already the owner of hash slot {slot}");
                return;
            }
            var n = TargetMaster(s, c, 4, "I don't know about node ");
            if (n == null) return;
            s.ImportingFrom[slot] = n;
        }
        else if (c.ArgIs(3, "stable") && argc == 4)
        {
            s.ImportingFrom[slot] = null;
            s.MigratingTo[slot] = null;
        }
        else if (c.ArgIs(3, "node") && argc == 5)
        {
            var n = TargetMaster(s, c, 4, "Unknown node ");
            if (n == null) return;
            long keys = c.Server.ClusterCountKeysInSlot(slot);
            if (s.SlotOwner[slot] == s.Myself && n != s.Myself && keys != 0)
            {
                c.Error($"ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot.");
                return;
            }
            if (keys == 0 && s.MigratingTo[slot] != null) s.MigratingTo[slot] = null;
            bool wasMine = s.SlotOwner[slot] == s.Myself;
            s.DelSlot(slot);
            s.AddSlot(n, slot);
            if (wasMine && n != s.Myself && s.Myself.NumSlots == 0 && c.Server.Settings.ClusterAllowReplicaMigration)
            {
                s.Log.Warning($"Configuration change detected. Reconfiguring myself as a replica of {n.Name}");
                s.SetMyMaster(n);
            }
            if (n == s.Myself && s.ImportingFrom[slot] != null)
            {
                if (s.BumpConfigEpochWithoutConsensus()) s.Log.Warning($"configEpoch updated after importing slot {slot}");
                s.ImportingFrom[slot] = null;
                s.BroadcastPong();
            }
        }
        else
        {
            c.Error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
            return;
        }
        s.MarkViewDirty();
        s.RequestSaveAndUpdate();
        c.Reply.Ok();
    }

    static ClusterNode TargetMaster(ClusterState s, Client c, int arg, string unknownPrefix)
    {
        string id = c.ArgString(arg);
        var n = s.Lookup(id);
        if (n == null)
        {
            c.Error("ERR " + unknownPrefix + id);
            return null;
        }
        if (n.IsSlave)
        {
            c.Error("ERR Target node is not a master");
            return null;
        }
        return n;
    }

    // ---------------------------------------------------------------- replication (issue 6)

    static void Replicate(ClusterState s, Client c)
    {
        string id = c.ArgString(2);
        var n = s.Lookup(id);
        if (n == null) c.Error("ERR Unknown node " + id);
        else if (n == s.Myself) c.Error("ERR Can't replicate myself");
        else if (n.IsSlave) c.Error("ERR I can only replicate a master, not a replica.");
        else if (s.Myself.IsMaster && (s.Myself.NumSlots != 0 || c.Server.Dbs[0].Count != 0))
            c.Error("ERR To set a master the node must be empty and without assigned slots.");
        else
        {
            s.SetMyMaster(n);
            s.RequestSaveAndUpdate();
            c.Reply.Ok();
        }
    }

    static void Replicas(ClusterState s, Client c)
    {
        string id = c.ArgString(2);
        var n = s.Lookup(id);
        if (n == null)
        {
            c.Error("ERR Unknown node " + id);
            return;
        }
        if (n.IsSlave)
        {
            c.Error("ERR The specified node is not a master");
            return;
        }
        c.Reply.ArrayHeader(n.Replicas.Count);
        foreach (var r in n.Replicas)
        {
            var sb = new StringBuilder();
            s.GenNodeDescription(sb, r);
            c.Reply.Bulk(sb.ToString());
        }
    }

    static void Failover(ClusterState s, Client c)
    {
        bool force = false, takeover = false;
        if (c.ArgCount == 3)
        {
            if (c.ArgIs(2, "force")) force = true;
            else if (c.ArgIs(2, "takeover")) takeover = force = true;
            else
            {
                c.Syntax();
                return;
            }
        }
        else if (c.ArgCount > 3)
        {
            c.Syntax();
            return;
        }
        if (s.Myself.IsMaster) c.Error("ERR You should send CLUSTER FAILOVER to a replica");
        else if (s.Myself.SlaveOf == null) c.Error("ERR I'm a replica but my master is unknown to me");
        else if (!force && (s.Myself.SlaveOf.Failed || s.Myself.SlaveOf.Link == null))
            c.Error("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
        else
        {
            s.StartManualFailover(force, takeover);
            c.Reply.Ok();
        }
    }

    static readonly string[] HelpLines =
    {
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "BUMPEPOCH",
        "    Advance the cluster config epoch.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote current replica node to being a master.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "FLUSHSLOTS",
        "    Delete current node own slots information.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Set slot state.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SAVECONFIG",
        "    Force saving cluster configuration on disk.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes of a link",
    };
}
