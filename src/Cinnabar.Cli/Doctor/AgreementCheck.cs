namespace Cinnabar.Cli.Doctor;

/// <summary>
/// Nodes that disagree about who owns which slot or about a master's config epoch, a master that no longer claims slots
/// the others give it (CLUSTER DELSLOTS on one node), and masters sharing a config epoch.
/// </summary>
public static class AgreementCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        foreach (var n in s.Up)
        {
            var map = Survey.SlotMap(n.Report.View);
            var dropped = new List<int>();          // the node itself no longer claims slots the majority gives it
            var differ = new List<int>();
            for (int slot = 0; slot < Survey.Slots; slot++)
            {
                if (map[slot] == s.Owner[slot]) continue;
                if (map[slot] == null && s.Owner[slot] == n.Id) dropped.Add(slot);
                else differ.Add(slot);
            }
            if (dropped.Count > 0)
            {
                var args = new List<string> { "CLUSTER", "ADDSLOTSRANGE" };
                foreach (var (from, to) in Finding.RangePairs(dropped)) { args.Add(from.ToString()); args.Add(to.ToString()); }
                var f = new Finding(n.ClusterInfo("cluster_state") == "fail" ? Severity.Down : Severity.Degraded, "owner-dropped-slots",
                    $"master {n.Address} no longer claims slots {string.Join(",", Finding.Ranges(dropped))} that the other nodes say it owns");
                f.Node(n.Address);
                f.Slots.AddRange(Finding.Ranges(dropped));
                f.Saw(n.Address, "CLUSTER NODES", n.Myself.RawLine);
                f.Saw(n.Address, "CLUSTER INFO", "cluster_state:" + n.ClusterInfo("cluster_state"));
                foreach (var other in s.Up.Where(o => o != n).Take(3))
                    if (Survey.LineAbout(other, n.Id) is { } line) f.Saw(other.Address, "CLUSTER NODES", line.RawLine);
                f.Fix.Add(new FixAction(n.Address, args.ToArray()));
                f.Remedy("claim them again (cinnabar doctor --fix runs this)", n.Cli + " " + string.Join(' ', args));
                yield return f;
            }
            if (differ.Count > 0)
            {
                var f = new Finding(Severity.Degraded, "views-disagree",
                    $"{n.Address} disagrees with the majority about the owner of {differ.Count} slots ({string.Join(",", Finding.Ranges(differ).Take(6))}{(differ.Count > 6 ? ",..." : "")})");
                f.Node(n.Address);
                f.Slots.AddRange(Finding.Ranges(differ));
                foreach (var (from, to) in Finding.RangePairs(differ).Take(4))
                {
                    string mine = map[from], theirs = s.Owner[from];
                    f.Saw(n.Address, "CLUSTER NODES", $"slot {from}-{to} → {(mine == null ? "unassigned" : s.AddressOf(mine))}; the majority says {(theirs == null ? "unassigned" : s.AddressOf(theirs))}");
                    if (mine != null && Survey.LineAbout(n, mine) is { } l) f.Saw(n.Address, "CLUSTER NODES", l.RawLine);
                }
                var owners = differ.Select(x => s.Owner[x]).Where(o => o != null).Distinct().Select(o => s.ById.GetValueOrDefault(o)).Where(o => o != null && o.Up).ToList();
                f.Remedy("a view normally converges within a second; if it does not, make the rightful owner's claim win with a new config epoch",
                    owners.Select(o => o.Cli + " CLUSTER BUMPEPOCH").DefaultIfEmpty($"redis-cli --cluster fix {s.Seed}").ToArray());
                yield return f;
            }
            // Config epochs: what this node believes about every answering master vs what the master says of itself.
            foreach (var line in n.Report.View.Where(l => l.IsMaster && !l.IsMyself))
            {
                if (!s.ById.TryGetValue(line.Id, out var m) || !m.Up || !m.Myself.IsMaster || m.Myself.ConfigEpoch == line.ConfigEpoch) continue;
                var f = new Finding(Severity.Warning, "epochs-disagree",
                    $"{n.Address} knows {m.Address} with config epoch {line.ConfigEpoch}, but it says {m.Myself.ConfigEpoch}");
                f.Node(n.Address, m.Address);
                f.Saw(n.Address, "CLUSTER NODES", line.RawLine);
                f.Saw(m.Address, "CLUSTER NODES", m.Myself.RawLine);
                f.Remedy("this converges with the next heartbeats; if it persists, check the cluster bus between them (port + 10000)",
                    $"{n.Cli} CLUSTER LINKS");
                yield return f;
            }
        }
        // Two masters owning slots with one config epoch: the collision is resolved by the bus only between masters it sees.
        var byEpoch = s.Known.Values.Where(l => l.IsMaster && !l.Failed && s.SlotsOf(l.Id) > 0).GroupBy(l => l.ConfigEpoch).Where(g => g.Count() > 1);
        foreach (var g in byEpoch)
        {
            var f = new Finding(Severity.Warning, "config-epoch-collision", $"masters {string.Join(", ", g.Select(l => l.Address))} share config epoch {g.Key}");
            foreach (var l in g) { f.Node(l.Address); f.Saw(l.Address, "CLUSTER NODES", l.RawLine); }
            f.Remedy("normally resolved in a second by the bus; otherwise give one of them a new epoch", s.ById.GetValueOrDefault(g.Last().Id)?.Cli + " CLUSTER BUMPEPOCH");
            yield return f;
        }
    }
}
