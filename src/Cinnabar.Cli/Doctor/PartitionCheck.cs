namespace Cinnabar.Cli.Doctor;

/// <summary>
/// A node that answers us but sees most masters failing while the others do not (it is in a minority partition), or a
/// node that answers us but most of the cluster flags as failing (its cluster bus does not get through).
/// </summary>
public static class PartitionCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        var masters = s.Owner.Where(o => o != null).Distinct().ToList();
        foreach (var n in s.Up)
        {
            var seenFailing = n.Report.View.Where(l => masters.Contains(l.Id) && l.Id != n.Id && (l.Failed || l.PossiblyFailed)).ToList();
            // Only masters that the others (or we, directly) see healthy count: a master that is really down is another finding.
            var healthyElsewhere = seenFailing.Where(l => s.ById.TryGetValue(l.Id, out var m) && m.Up).ToList();
            int others = masters.Count(m => m != n.Id);
            if (others > 0 && healthyElsewhere.Count * 2 > others)
            {
                var f = new Finding(Severity.Degraded, "minority-partition",
                    $"{n.Address} sees {healthyElsewhere.Count} of {others} other masters as failing although they answer: it is cut off from the majority");
                f.Node(n.Address);
                foreach (var l in healthyElsewhere) f.Saw(n.Address, "CLUSTER NODES", l.RawLine);
                f.Saw(n.Address, "CLUSTER INFO", "cluster_state:" + n.ClusterInfo("cluster_state"));
                f.Remedy("check the network between this node and the others (the cluster bus is on port + 10000), then re-introduce it",
                    healthyElsewhere.Take(1).Select(l => $"{n.Cli} CLUSTER MEET {l.Ip} {l.Port} {l.BusPort}").ToArray());
                yield return f;
            }
        }
        foreach (var n in s.Up)
        {
            var (fail, pfail, views) = s.Flags(n.Id);
            if (views == 0 || (fail + pfail) * 2 <= views) continue;
            var f = new Finding(fail > 0 ? Severity.Degraded : Severity.Warning, "bus-unreachable",
                $"{n.Address} answers clients, but {fail + pfail} of {views} nodes flag it {(fail > 0 ? "fail" : "fail?")}: its cluster bus (port {n.Myself.BusPort}) does not get through");
            f.Node(n.Address);
            foreach (var o in s.Up.Where(o => o != n))
                if (Survey.LineAbout(o, n.Id) is { } l && (l.Failed || l.PossiblyFailed)) f.Saw(o.Address, "CLUSTER NODES", l.RawLine);
            f.Remedy("check that the bus port is reachable from the other nodes (firewall, cluster-announce-bus-port); a node that was stopped clears the flag by itself once it answers",
                $"{n.Cli} CLUSTER LINKS");
            yield return f;
        }
    }
}
