using Cinnabar.Cli.Resp;

namespace Cinnabar.Cli.Tool;

/// <summary>create, add-node, del-node.</summary>
public static class Membership
{
    /// <summary>A fresh node: reachable, cluster-enabled, knows nobody, holds no keys in db 0.</summary>
    static ToolNode OpenEmpty(string address)
    {
        var n = ToolNode.Connect(address, out string err);
        if (n == null)
        {
            Console.Error.WriteLine($"Could not connect to Redis at {address}: {err}");
            return null;
        }
        var info = n.Call("INFO", "cluster");
        if (info.IsError || info.Text == null || !info.Text.Contains("cluster_enabled:1"))
        {
            ToolOutput.Err($"[ERR] Node {address} is not configured as a cluster node.");
            return null;
        }
        n.Load(out _);
        var keyspace = n.Call("INFO", "keyspace");
        if (n.View.Count != 1 || (keyspace.Text ?? "").Contains("db0:"))
        {
            ToolOutput.Err($"[ERR] Node {address} is not empty. Either the node already knows other nodes (check with CLUSTER NODES) or contains some key in database 0.");
            return null;
        }
        return n;
    }

    public static int Create(ToolOptions o)
    {
        var addrs = o.Positional;
        int replicas = o.Replicas;
        if (addrs.Count == 0) return ClusterTool.Usage("create");
        int mastersCount = addrs.Count / (replicas + 1);
        if (mastersCount < 3)
        {
            ToolOutput.Err($"*** ERROR: Invalid configuration for cluster creation.\n*** Redis Cluster requires at least 3 master nodes.\n*** This is not possible with {addrs.Count} nodes and {replicas} replicas per node.\n*** At least {3 * (replicas + 1)} nodes are required.");
            return 1;
        }
        var nodes = new List<ToolNode>();
        foreach (var a in addrs)
        {
            var n = OpenEmpty(a);
            if (n == null) return 1;
            nodes.Add(n);
        }
        var state = new ClusterState();
        state.Nodes.AddRange(nodes);
        var ops = new Ops(o);
        try
        {
            ToolOutput.Info($">>> Performing hash slots allocation on {nodes.Count} nodes...");
            // Masters taken one host at a time in turn, so a host's loss takes as few masters as possible.
            var byHost = nodes.GroupBy(n => n.Host).Select(g => new Queue<ToolNode>(g)).ToList();
            var interleaved = new List<ToolNode>();
            while (interleaved.Count < nodes.Count)
                foreach (var q in byHost) if (q.Count > 0) interleaved.Add(q.Dequeue());
            var masters = interleaved.Take(mastersCount).ToList();
            var rest = interleaved.Skip(mastersCount).ToList();
            double per = 16384.0 / mastersCount;
            double cursor = 0;
            int first = 0;
            for (int i = 0; i < masters.Count; i++)
            {
                int last = (int)Math.Round(cursor + per - 1, MidpointRounding.AwayFromZero);
                if (last > 16383 || i == masters.Count - 1) last = 16383;
                ToolOutput.Line($"Master[{i}] -> Slots {first} - {last}");
                for (int s = first; s <= last; s++) masters[i].Slots[s] = true;
                first = last + 1;
                cursor += per;
            }
            // Replicas: each master gets `replicas`, preferring a replica on another host; leftovers go where fewest.
            var assign = new Dictionary<ToolNode, ToolNode>();
            foreach (var m in masters) m.ReplicaCount = 0;
            for (int round = 0; round < replicas; round++)
                foreach (var m in masters)
                {
                    if (rest.Count == 0) break;
                    var r = rest.FirstOrDefault(x => x.Host != m.Host) ?? rest[0];
                    rest.Remove(r);
                    assign[r] = m;
                    m.ReplicaCount++;
                    ToolOutput.Line($"Adding replica {r.Address} to {m.Address}");
                }
            foreach (var r in rest.ToList())
            {
                var m = masters.OrderBy(x => x.ReplicaCount).First();
                assign[r] = m;
                m.ReplicaCount++;
                ToolOutput.Line($"Adding extra replica {r.Address} to {m.Address}");
            }
            if (masters.Select(m => m.Host).Distinct().Count() < masters.Count || assign.Any(kv => kv.Key.Host == kv.Value.Host))
                ToolOutput.Warn("[WARNING] Some slaves are in the same host as their master");
            foreach (var n in nodes)
            {
                if (assign.TryGetValue(n, out var m)) { n.Flags = new[] { "slave" }; n.MasterId = m.Id; }
                ToolOutput.Line(ClusterState.Describe(n));
            }
            if (!ToolOutput.Confirm("Can I set the above configuration?", o.Yes || o.DryRun)) return 1;

            foreach (var m in masters)
            {
                var args = new List<string> { "CLUSTER", "ADDSLOTSRANGE" };
                foreach (var range in ToolNode.Ranges(m.SlotList(), false).Split(','))
                {
                    var p = range.Split('-');
                    args.Add(p[0]);
                    args.Add(p.Length > 1 ? p[1] : p[0]);
                }
                if (!ops.SendChecked(m, args.ToArray())) return 1;
            }
            ToolOutput.Info(">>> Nodes configuration updated");
            ToolOutput.Info(">>> Assign a different config epoch to each node");
            for (int i = 0; i < nodes.Count; i++) ops.Send(nodes[i], "CLUSTER", "SET-CONFIG-EPOCH", (i + 1).ToString());
            ToolOutput.Info(">>> Sending CLUSTER MEET messages to join the cluster");
            foreach (var n in nodes.Skip(1))
                if (!ops.SendChecked(nodes[0], "CLUSTER", "MEET", n.Host, n.Port.ToString())) return 1;
            if (ops.DryRun)
            {
                foreach (var (r, m) in assign) ops.Send(r, "CLUSTER", "REPLICATE", m.Id);
                return 0;
            }
            if (!WaitForJoin(nodes, n => n.View.Count(v => !v.Has("handshake")) == nodes.Count && !n.View.Any(v => v.Has("handshake")))) return 1;
            foreach (var (r, m) in assign)
                if (!ops.SendChecked(r, "CLUSTER", "REPLICATE", m.Id)) return 1;
            // Until every node sees the replicas as replicas, the check would report them as masters.
            WaitForJoin(nodes, n => assign.All(kv => n.View.Any(v => v.Id == kv.Key.Id && v.MasterId == kv.Value.Id)) && state.IsConfigConsistent());
            state.Reload();
            return CheckFix.CheckCluster(state, ops, fix: false, quiet: false) ? 0 : 1;
        }
        finally { state.Dispose(); }
    }

    /// <summary>"Waiting for the cluster to join" with a dot per second until every node satisfies the test (≤ 60 s).</summary>
    static bool WaitForJoin(List<ToolNode> nodes, Func<ToolNode, bool> joined)
    {
        Console.Write("Waiting for the cluster to join\n");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var nextDot = DateTime.UtcNow.AddSeconds(1);
        while (true)
        {
            foreach (var n in nodes) n.Load(out _);
            if (nodes.All(joined)) { Console.Write("\n"); return true; }
            if (DateTime.UtcNow > deadline)
            {
                ToolOutput.Err("\n[ERR] The nodes did not join within 60 seconds.");
                return false;
            }
            if (DateTime.UtcNow >= nextDot) { Console.Write("."); nextDot = nextDot.AddSeconds(1); }
            Thread.Sleep(100);
        }
    }

    public static int AddNode(ToolOptions o)
    {
        if (o.Positional.Count != 2) return ClusterTool.Usage("add-node");
        string newAddr = o.Positional[0], existing = o.Positional[1];
        var ops = new Ops(o);
        ToolOutput.Info($">>> Adding node {newAddr} to cluster {existing}");
        var state = ClusterState.Load(existing);
        if (state == null) return 1;
        try
        {
            if (!CheckFix.CheckCluster(state, new Ops(new ToolOptions()), fix: false, quiet: false)) return 1;
            ToolNode master = null;
            if (o.Slave)
            {
                if (o.MasterId != null)
                {
                    master = state.ByIdOrPrefix(o.MasterId);
                    if (master == null || master.IsReplica)
                    {
                        ToolOutput.Err($"[ERR] No such master ID {o.MasterId}");
                        return 1;
                    }
                }
                else
                {
                    master = state.Masters.OrderBy(m => m.ReplicaCount).First();
                    ToolOutput.Line($"Automatically selected master {master.Address}");
                }
            }
            var node = OpenEmpty(newAddr);
            if (node == null) return 1;
            using var _ = node.Conn;
            var seed = state.Nodes[0];
            ToolOutput.Info($">>> Send CLUSTER MEET to node {newAddr} to make it join the cluster.");
            if (!ops.SendChecked(node, "CLUSTER", "MEET", seed.Host, seed.Port.ToString())) return 1;
            if (master != null)
            {
                if (!ops.DryRun && !WaitForJoin(new List<ToolNode> { node }, n => n.View.Any(v => v.Id == master.Id && !v.Has("handshake")))) return 1;
                ToolOutput.Info($">>> Configure node as replica of {master.Address}.");
                if (!ops.SendChecked(node, "CLUSTER", "REPLICATE", master.Id)) return 1;
            }
            ToolOutput.Ok("[OK] New node added correctly.");
            return 0;
        }
        finally { state.Dispose(); }
    }

    /// <summary>
    /// del-node. Unlike redis-cli, the node may be unreachable or have lost its address: it is then forgotten by
    /// every node that still lists it (nothing can be sent to it).
    /// </summary>
    public static int DelNode(ToolOptions o)
    {
        if (o.Positional.Count != 2) return ClusterTool.Usage("del-node");
        string id = o.Positional[1];
        var ops = new Ops(o);
        ToolOutput.Info($">>> Removing node {id} from cluster {o.Positional[0]}");
        var state = ClusterState.Load(o.Positional[0]);
        if (state == null) return 1;
        try
        {
            var node = state.ByIdOrPrefix(id);
            var leftover = node == null ? state.Leftovers.FirstOrDefault(l => l.Id == id || (id.Length >= 4 && l.Id.StartsWith(id))) : null;
            if (node == null && leftover == null)
            {
                ToolOutput.Err($"[ERR] No such node ID {id}");
                return 1;
            }
            string fullId = node?.Id ?? leftover.Id;
            int slots = node?.OwnedSlots ?? leftover.Slots;
            if (slots > 0)
            {
                ToolOutput.Err($"[ERR] Node {node?.Address ?? leftover.Address} is not empty! Reshard data away and try again.");
                return 1;
            }
            if (leftover != null)
                ToolOutput.Warn($"*** Node {fullId} cannot be reached ({leftover.Reason}): it will only be forgotten by the others.");
            ToolOutput.Info(">>> Sending CLUSTER FORGET messages to the cluster...");
            foreach (var n in state.Nodes)
            {
                if (n == node) continue;
                if (n.IsReplica && n.MasterId == fullId)
                {
                    var master = state.Masters.Where(m => m != node).OrderBy(m => m.ReplicaCount).First();
                    ToolOutput.Info($">>> {n.Address} as replica of {master.Address}");
                    if (!ops.SendChecked(n, "CLUSTER", "REPLICATE", master.Id)) return 1;
                    master.ReplicaCount++;
                }
                if (!n.View.Any(v => v.Id == fullId)) continue;
                if (!ops.SendChecked(n, "CLUSTER", "FORGET", fullId)) return 1;
            }
            if (node != null)
            {
                ToolOutput.Info(">>> Sending CLUSTER RESET SOFT to the deleted node.");
                if (!ops.SendChecked(node, "CLUSTER", "RESET", "SOFT")) return 1;
            }
            return 0;
        }
        finally { state.Dispose(); }
    }
}

/// <summary>info, call, set-timeout.</summary>
public static class Misc
{
    public static int Info(ToolOptions o)
    {
        if (o.Positional.Count != 1) return ClusterTool.Usage("info");
        var state = ClusterState.Load(o.Positional[0]);
        if (state == null) return 1;
        state.ShowInfo();
        state.Dispose();
        return 0;
    }

    public static int Call(ToolOptions o)
    {
        if (o.Positional.Count < 2) return ClusterTool.Usage("call");
        var state = ClusterState.Load(o.Positional[0]);
        if (state == null) return 1;
        try
        {
            var cmd = o.Positional.Skip(1).ToArray();
            ToolOutput.Info($">>> Calling {string.Join(' ', cmd)}");
            foreach (var n in state.Nodes)
            {
                if (o.OnlyMasters && n.IsReplica) continue;
                if (o.OnlyReplicas && n.IsMaster) continue;
                var r = n.Call(cmd);
                ToolOutput.Line($"{n.Address}: {Format(r)}");
            }
            return 0;
        }
        finally { state.Dispose(); }
    }

    static string Format(RespValue r) => r.Type switch
    {
        ':' => r.Integer.ToString(),
        '*' => r.Items == null ? "" : string.Join("\n", r.Items.Select(Format)),
        _ => r.Text ?? "",
    };

    public static int SetTimeout(ToolOptions o)
    {
        if (o.Positional.Count != 2 || !int.TryParse(o.Positional[1], out int ms)) return ClusterTool.Usage("set-timeout");
        if (ms < 100)
        {
            ToolOutput.Err("Setting a node timeout of less than 100 milliseconds is a bad idea.");
            return 1;
        }
        var ops = new Ops(o);
        var state = ClusterState.Load(o.Positional[0]);
        if (state == null) return 1;
        try
        {
            ToolOutput.Info(">>> Reconfiguring node timeout in every cluster node...");
            int ok = 0, err = 0;
            foreach (var n in state.Nodes)
            {
                var r = ops.Send(n, "CONFIG", "SET", "cluster-node-timeout", ms.ToString());
                if (!r.IsError) r = ops.Send(n, "CONFIG", "REWRITE");
                if (r.IsError)
                {
                    ToolOutput.Line($"ERR setting node-timeout for {n.Address}: {r.Text}");
                    err++;
                }
                else
                {
                    ToolOutput.Line($"*** New timeout set for {n.Address}");
                    ok++;
                }
            }
            ToolOutput.Info($">>> New node timeout set. {ok} OK, {err} ERR.");
            return 0;
        }
        finally { state.Dispose(); }
    }
}
