using Cinnabar.Cli.Resp;

namespace Cinnabar.Cli.Doctor;

/// <summary>
/// Slots no node owns (by the majority of views). The remedy assigns them as redis-cli --cluster fix would: to the master
/// holding keys of the slot, else to the master with the fewest slots.
/// </summary>
public static class UnassignedSlotsCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        var unassigned = Enumerable.Range(0, Survey.Slots).Where(x => s.Owner[x] == null).ToList();
        if (unassigned.Count == 0) yield break;
        var masters = s.Up.Where(n => n.Myself.IsMaster).ToList();
        bool stateFail = s.Up.Any(n => n.ClusterInfo("cluster_state") == "fail");
        var f = new Finding(stateFail ? Severity.Down : Severity.Degraded, "slots-unassigned",
            $"{unassigned.Count} slots are assigned to no node: {string.Join(",", Finding.Ranges(unassigned).Take(8))}{(unassigned.Count > 8 ? ",..." : "")}");
        f.Slots.AddRange(Finding.Ranges(unassigned));
        foreach (var n in s.Up)
        {
            f.Saw(n.Address, "CLUSTER INFO", "cluster_slots_assigned:" + n.ClusterInfo("cluster_slots_assigned"));
            if (n.ClusterInfo("cluster_state") == "fail") f.Saw(n.Address, "CLUSTER INFO", "cluster_state:fail");
        }
        if (masters.Count == 0)
        {
            f.Remedy("no master answers: start the masters again first");
            yield return f;
            yield break;
        }
        // Who holds keys of each unassigned slot?
        var keyHolder = new Dictionary<int, (NodeSurvey node, long keys)>();
        foreach (var m in masters)
        {
            try
            {
                var (h, p) = m.HostPort;
                using var c = new RedisConnection(h, p, 5000);
                var replies = c.Pipeline(unassigned.Select(x => new[] { "CLUSTER", "COUNTKEYSINSLOT", x.ToString() }).ToList());
                for (int i = 0; i < unassigned.Count; i++)
                    if (!replies[i].IsError && replies[i].Integer > 0 && (!keyHolder.TryGetValue(unassigned[i], out var k) || k.keys < replies[i].Integer))
                    {
                        keyHolder[unassigned[i]] = (m, replies[i].Integer);
                        f.Saw(m.Address, "CLUSTER COUNTKEYSINSLOT " + unassigned[i], replies[i].Integer.ToString());
                    }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { }
        }
        var plan = new Dictionary<NodeSurvey, List<int>>();
        var counts = masters.ToDictionary(m => m, m => s.SlotsOf(m.Id));
        foreach (var (from, to) in Finding.RangePairs(unassigned))
        {
            NodeSurvey current = null;
            for (int slot = from; slot <= to; slot++)
            {
                NodeSurvey target;
                if (keyHolder.TryGetValue(slot, out var k)) target = k.node;
                else target = current ??= counts.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key.Address, StringComparer.Ordinal).First().Key;
                (plan.TryGetValue(target, out var l) ? l : plan[target] = new List<int>()).Add(slot);
                counts[target]++;
            }
        }
        var commands = new List<string>();
        foreach (var (target, slots) in plan)
        {
            var args = new List<string> { "CLUSTER", "ADDSLOTSRANGE" };
            foreach (var (from, to) in Finding.RangePairs(slots)) { args.Add(from.ToString()); args.Add(to.ToString()); }
            f.Fix.Add(new FixAction(target.Address, args.ToArray()));
            commands.Add(target.Cli + " " + string.Join(' ', args));
            f.Node(target.Address);
        }
        string who = keyHolder.Count > 0 ? "to the master holding their keys, the rest to the master with the fewest slots" : "to the master with the fewest slots";
        f.Remedy($"assign them {who} (what redis-cli --cluster fix does; cinnabar doctor --fix runs this)", commands.ToArray());
        f.Remedy("or let redis-cli choose", $"redis-cli --cluster fix {masters[0].Address}");
        yield return f;
    }
}
