namespace Cinnabar.Cli.Tool;

/// <summary>
/// check and fix. The findings and their wording are redis-cli 7.0's ("[ERR] Nodes don't agree about configuration!",
/// "[WARNING] The following slots are open: ...", "[ERR] Not all 16384 slots are covered by nodes.", ...), and so is
/// the exit code (1 when anything was found). fix repairs every open slot whatever its shape (open on several nodes,
/// claimed by several, keys scattered), uncovered slots (honouring --cluster-yes, which 7.0 ignores there), multiple
/// owners, and forgets nodes that lost their address or never finished their handshake.
/// </summary>
public static class CheckFix
{
    public static int Run(ToolOptions o, bool fix)
    {
        if (o.Positional.Count != 1) return ClusterTool.Usage("check");
        var state = ClusterState.Load(o.Positional[0]);
        if (state == null) return 1;
        try
        {
            state.ShowInfo();
            bool ok = CheckCluster(state, new Ops(o), fix, quiet: false);
            return ok ? 0 : 1;
        }
        finally { state.Dispose(); }
    }

    /// <summary>The check (and with fix, the repairs). True when nothing was wrong, or everything found was fixed.</summary>
    public static bool CheckCluster(ClusterState state, Ops ops, bool fix, bool quiet)
    {
        var o = ops.Options;
        bool result = true, fixFailed = false;
        ToolOutput.Info($">>> Performing Cluster Check (using node {state.Nodes[0].Address})");
        if (!quiet) state.ShowNodes();
        ReportLeftovers(state);

        if (!state.IsConfigConsistent())
        {
            ToolOutput.Finding("[ERR] Nodes don't agree about configuration!");
            result = false;
        }
        else ToolOutput.Ok("[OK] All nodes agree about slots configuration.");

        ToolOutput.Info(">>> Check for open slots...");
        var open = new SortedSet<int>();
        foreach (var n in state.Nodes)
        {
            if (n.Migrating.Count > 0)
                ToolOutput.Finding($"[WARNING] Node {n.Address} has slots in migrating state {string.Join(",", n.Migrating.Keys)}.");
            if (n.Importing.Count > 0)
                ToolOutput.Finding($"[WARNING] Node {n.Address} has slots in importing state {string.Join(",", n.Importing.Keys)}.");
            open.UnionWith(n.Migrating.Keys);
            open.UnionWith(n.Importing.Keys);
        }
        if (open.Count > 0)
        {
            result = false;
            ToolOutput.Finding($"[WARNING] The following slots are open: {string.Join(",", open)}.");
            if (fix)
                foreach (int slot in open)
                    if (!OpenSlotFixer.Fix(state, ops, slot)) fixFailed = true;
        }

        ToolOutput.Info(">>> Check slots coverage...");
        var covered = new bool[ToolNode.SlotCount];
        foreach (var n in state.Masters) foreach (int s in n.SlotList()) covered[s] = true;
        int coverage = covered.Count(c => c);
        if (coverage == ToolNode.SlotCount) ToolOutput.Ok("[OK] All 16384 slots covered.");
        else
        {
            ToolOutput.Finding("[ERR] Not all 16384 slots are covered by nodes.");
            result = false;
            ToolOutput.Line("");
            if (fix)
            {
                if (state.UnreachableMasters > 0 && !o.FixWithUnreachableMasters)
                {
                    ToolOutput.Warn($"*** Fixing slots coverage with {state.UnreachableMasters} unreachable masters is dangerous: cinnabar will assume that slots about masters that are not reachable are not covered, and will try to reassign them to the reachable nodes. This can cause data loss and is rarely what you want to do. If you really want to proceed use the --cluster-fix-with-unreachable-masters option.");
                    return false;
                }
                if (!CoverageFixer.Fix(state, ops, covered)) fixFailed = true;
            }
        }

        if (o.SearchMultipleOwners)
        {
            ToolOutput.Info(">>> Check for multiple slot owners...");
            int multi = 0;
            for (int slot = 0; slot < ToolNode.SlotCount; slot++)
            {
                var owners = state.Masters.Where(n => n.Slots[slot]).ToList();
                if (owners.Count <= 1) continue;
                multi++;
                result = false;
                ToolOutput.Finding($"[WARNING] Slot {slot} has {owners.Count} owners:");
                foreach (var n in owners) ToolOutput.Line($"    {n.Address}");
                if (fix && !OpenSlotFixer.FixMultipleOwners(state, ops, slot, owners)) fixFailed = true;
            }
            if (multi == 0) ToolOutput.Ok("[OK] No multiple owners found.");
        }

        if (fix && state.Leftovers.Count > 0 && !LeftoverFixer.Fix(state, ops)) fixFailed = true;

        if (fix) return !fixFailed;
        return result;
    }

    static void ReportLeftovers(ClusterState state)
    {
        foreach (var g in state.Leftovers.GroupBy(l => l.Id))
        {
            var l = g.First();
            string seen = string.Join(", ", g.Select(x => x.SeenBy).Distinct());
            string what = l.Reason switch
            {
                "noaddr" => "has lost its address (noaddr)",
                "handshake" => "is a handshake that never completed",
                _ => "is unreachable",
            };
            ToolOutput.Warn($"*** Node {l.Id} {l.Address} ({l.Flags}) {what}; known by {seen}{(l.Slots > 0 ? $", claims {l.Slots} slots" : "")}.");
        }
    }
}
