namespace Cinnabar.Cli.Doctor;

/// <summary>
/// Slots whose owner does not answer (killed, stopped) or that the cluster flags fail: can a replica still take over
/// (wait / CLUSTER FAILOVER FORCE), or is the shard gone (restart it; meanwhile serve the rest without full coverage;
/// or give its slots to another master).
/// </summary>
public static class FailedMasterCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        var owners = s.Owner.Where(o => o != null).Distinct().ToList();
        var fullCoverageCommands = s.Up.Select(n => n.Cli + " CONFIG SET cluster-require-full-coverage no").ToArray();
        foreach (var id in owners)
        {
            s.ById.TryGetValue(id, out var owner);
            string addr = s.AddressOf(id);
            var (fail, pfail, views) = s.Flags(id);
            bool answers = owner != null && owner.Reach is Reach.Ok or Reach.Busy or Reach.Loading;
            if (answers) continue;   // busy / loading nodes: ReachabilityCheck; answering but cut off: PartitionCheck
            var slots = Enumerable.Range(0, Survey.Slots).Where(x => s.Owner[x] == id).ToList();
            var replicaIds = s.ReplicasOf(id);
            var healthy = replicaIds.Where(r => s.ById.TryGetValue(r, out var rs) && rs.Up && s.Flags(r).fail == 0).Select(r => s.ById[r]).ToList();
            bool stateFail = s.Up.Any(n => n.ClusterInfo("cluster_state") == "fail");
            string how = owner == null ? "was not found" : owner.Reach == Reach.NoReply ? "does not answer (stopped or stuck)" : "is down";
            string flagged = fail > 0 ? $"flagged fail by {fail} of {views} nodes" : pfail > 0 ? $"flagged fail? (pfail) by {pfail} of {views} nodes" : "not yet flagged by the cluster";

            Finding f;
            if (healthy.Count > 0)
            {
                f = new Finding(stateFail ? Severity.Down : Severity.Degraded, "master-failed-replica-available",
                    $"master {addr} {how} ({flagged}); its replica {healthy[0].Address} can take over its {slots.Count} slots");
                int timeout = int.TryParse(healthy[0].Setting("cluster-node-timeout"), out var t) ? t : 15000;
                f.Remedy($"wait for the automatic failover (the master is flagged fail after cluster-node-timeout {timeout} ms, then its replica is elected)",
                    "# wait a few seconds, then: cinnabar doctor " + s.Seed);
                foreach (var r in healthy.Take(1))
                    f.Remedy($"or promote the replica now", r.Cli + " CLUSTER FAILOVER FORCE");
                if (healthy[0].Setting("cluster-replica-no-failover") == "yes")
                    f.Saw(healthy[0].Address, "CONFIG GET", "cluster-replica-no-failover yes (this replica never starts an election by itself)");
            }
            else
            {
                string cause = replicaIds.Count == 0 ? "master-failed-no-replica" : "master-and-replicas-down";
                string what = replicaIds.Count == 0 ? "has no replica" : $"all its replicas are down too ({string.Join(", ", replicaIds.Select(s.AddressOf))})";
                f = new Finding(Severity.Down, cause, $"master {addr} {how} ({flagged}) and {what}: slots {string.Join(",", Finding.Ranges(slots))} are not served");
                foreach (var r in replicaIds) f.Node(s.AddressOf(r));
                var restart = new List<string>();
                foreach (var node in new[] { id }.Concat(replicaIds).Select(x => s.ById.GetValueOrDefault(x)).Where(x => x != null && !x.Up))
                    restart.Add(node.Reach == Reach.NoReply && node.LocalPid is int pid
                        ? $"kill -CONT {pid}"
                        : $"# start the node {node.Address} again in its directory (with its nodes.conf); for the local cluster: ./run.sh");
                f.Remedy("bring the node back (its slots return with it)", restart.ToArray());
                f.Remedy("or, to serve the other slots meanwhile, stop requiring full coverage on every node", fullCoverageCommands);
                var target = s.Up.Where(n => n.Myself.IsMaster && n.Id != id).OrderBy(n => s.SlotsOf(n.Id)).FirstOrDefault();
                if (target != null)
                {
                    var ranges = Finding.RangePairs(slots);
                    string rangeArgs = string.Join(' ', ranges.Select(r => $"{r.from} {r.to}"));
                    var cmds = s.Up.Select(n => n.Cli + " CLUSTER DELSLOTSRANGE " + rangeArgs).ToList();
                    cmds.Add(target.Cli + " CLUSTER ADDSLOTSRANGE " + rangeArgs);
                    cmds.Add(target.Cli + " CLUSTER BUMPEPOCH");
                    f.Remedy($"or give its slots to {target.Address} (the master with the fewest slots); the keys they held are lost", cmds.ToArray());
                }
            }
            f.Nodes.Remove(addr);
            f.Nodes.Insert(0, addr);   // the failed master first, then its replicas
            f.Node(healthy.Select(h => h.Address).ToArray());
            f.Slots.AddRange(Finding.Ranges(slots));
            if (owner != null) f.Saw(owner.Address, "connection", owner.Problem);
            foreach (var n in s.Up)
            {
                var line = Survey.LineAbout(n, id);
                if (line != null) f.Saw(n.Address, "CLUSTER NODES", line.RawLine);
            }
            foreach (var n in s.Up.Where(n => n.ClusterInfo("cluster_state") == "fail"))
                f.Saw(n.Address, "CLUSTER INFO", "cluster_state:fail");
            foreach (var r in healthy.Take(1))
            {
                f.Saw(r.Address, "INFO", "master_link_status:" + r.Info("master_link_status"));
                f.Saw(r.Address, "INFO", "slave_repl_offset:" + r.Info("slave_repl_offset"));
            }
            yield return f;
        }
    }
}
