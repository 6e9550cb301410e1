using System.Globalization;

namespace Cinnabar.Cli.Tool;

/// <summary>reshard and rebalance: plans as redis-cli computes them, moves through SlotMover, with progress.</summary>
public static class Reshard
{
    /// <summary>The cluster must be healthy before keys move (redis-cli refuses too).</summary>
    static ClusterState LoadHealthy(ToolOptions o, Ops ops)
    {
        var state = ClusterState.Load(o.Positional[0]);
        if (state == null) return null;
        bool ok = CheckFix.CheckCluster(state, new Ops(new ToolOptions()), fix: false, quiet: true);
        if (!ok)
        {
            ToolOutput.Err("*** Please fix your cluster problems before resharding");
            state.Dispose();
            return null;
        }
        return state;
    }

    public static int RunReshard(ToolOptions o)
    {
        if (o.Positional.Count != 1) return ClusterTool.Usage("reshard");
        var ops = new Ops(o);
        var state = ClusterState.Load(o.Positional[0]);
        if (state == null) return 1;
        try
        {
            if (!CheckFix.CheckCluster(state, new Ops(new ToolOptions()), fix: false, quiet: false))
            {
                ToolOutput.Err("*** Please fix your cluster problems before resharding");
                return 1;
            }
            int slots = o.Slots;
            while (slots <= 0 || slots > 16384)
            {
                string a = ToolOutput.Ask("How many slots do you want to move (from 1 to 16384)? ");
                if (a == null) return 1;
                int.TryParse(a, out slots);
            }
            string toId = o.To ?? ToolOutput.Ask("What is the receiving node ID? ");
            var target = toId == null ? null : state.ByIdOrPrefix(toId);
            if (target == null || target.IsReplica)
            {
                ToolOutput.Err("*** The specified node (" + toId + ") is not known or not a master, please retry.");
                return 1;
            }
            var sources = new List<ToolNode>();
            string from = o.From;
            if (from == null)
            {
                ToolOutput.Line("Please enter all the source node IDs.\n  Type 'all' to use all the nodes as source nodes for the hash slots.\n  Type 'done' once you entered all the source nodes IDs.");
                var ids = new List<string>();
                while (true)
                {
                    string a = ToolOutput.Ask($"Source node #{ids.Count + 1}: ");
                    if (a == null || a == "done") break;
                    if (a == "all") { ids = null; break; }
                    ids.Add(a);
                }
                from = ids == null ? "all" : string.Join(",", ids);
            }
            if (from == "all")
                sources.AddRange(state.Masters.Where(n => n != target && n.OwnedSlots > 0));
            else
                foreach (string id in from.Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    var n = state.ByIdOrPrefix(id);
                    if (n == null || n.IsReplica)
                    {
                        ToolOutput.Err($"*** The specified node ({id}) is not known or is not a master, please retry.");
                        return 1;
                    }
                    if (n == target)
                    {
                        ToolOutput.Err("*** It is not possible to use the target node as source node.");
                        return 1;
                    }
                    sources.Add(n);
                }
            if (sources.Count == 0)
            {
                ToolOutput.Err("*** No source nodes given, operation aborted.");
                return 1;
            }
            var plan = ComputeTable(sources, slots);
            ToolOutput.Line($"\nReady to move {slots} slots.");
            ToolOutput.Line("  Source nodes:");
            foreach (var s in sources) ToolOutput.Line("    " + ClusterState.Describe(s).Replace("\n", "\n    "));
            ToolOutput.Line("  Destination node:");
            ToolOutput.Line("    " + ClusterState.Describe(target).Replace("\n", "\n    "));
            ToolOutput.Line("  Resharding plan:");
            foreach (var (slot, src) in plan) ToolOutput.Line($"    Moving slot {slot} from {src.Id}");
            if (!o.Yes && !o.DryRun && !ToolOutput.Confirm("Do you want to proceed with the proposed reshard plan (yes/no)?", false)) return 1;
            return Execute(ops, state, plan.Select(p => (p.slot, p.src, target)).ToList()) ? 0 : 1;
        }
        finally { state.Dispose(); }
    }

    /// <summary>Sources by slot count, largest first; each gives its share (the first rounds up), lowest slots first.</summary>
    public static List<(int slot, ToolNode src)> ComputeTable(List<ToolNode> sources, int numSlots)
    {
        var table = new List<(int, ToolNode)>();
        int total = sources.Sum(s => s.OwnedSlots);
        if (total == 0) return table;
        int i = 0;
        foreach (var s in sources.OrderByDescending(s => s.OwnedSlots).ToList())
        {
            double n = (double)numSlots / total * s.OwnedSlots;
            int take = i++ == 0 ? (int)Math.Ceiling(n) : (int)Math.Floor(n);
            foreach (int slot in s.SlotList().Take(take)) table.Add((slot, s));
        }
        // Rounding down can leave the plan a slot or two short of what was asked (redis-cli then moves fewer):
        // the largest sources give one more each until the count is met.
        var taken = table.Select(t => t.Item1).ToHashSet();
        while (table.Count < numSlots && table.Count < total)
            foreach (var s in sources.OrderByDescending(s => s.OwnedSlots))
            {
                if (table.Count >= numSlots) break;
                int next = s.SlotList().FirstOrDefault(x => !taken.Contains(x), -1);
                if (next < 0) continue;
                table.Add((next, s));
                taken.Add(next);
            }
        return table.Take(numSlots).ToList();
    }

    static bool Execute(Ops ops, ClusterState state, List<(int slot, ToolNode src, ToolNode dst)> moves)
    {
        var progress = new Progress(moves.Count);
        foreach (var (slot, src, dst) in moves)
        {
            progress.SlotStarted(slot, src.Address, dst.Address);
            if (!SlotMover.MoveSlot(ops, state, src, dst, slot, cold: false, update: true, progress))
            {
                progress.Finish();
                return false;
            }
            progress.SlotDone();
        }
        progress.Finish();
        return true;
    }

    public static int RunRebalance(ToolOptions o)
    {
        if (o.Positional.Count != 1) return ClusterTool.Usage("rebalance");
        var ops = new Ops(o);
        var state = LoadHealthy(o, ops);
        if (state == null) return 1;
        try
        {
            foreach (var (id, w) in o.Weights)
            {
                var n = state.ByIdOrPrefix(id);
                if (n == null || n.IsReplica)
                {
                    ToolOutput.Err($"*** No such master node {id}");
                    return 1;
                }
                n.Weight = w;
            }
            var involved = state.Masters.Where(n => o.UseEmptyMasters || n.OwnedSlots > 0 || o.Weights.Keys.Any(k => n.Id.StartsWith(k))).ToList();
            double totalWeight = involved.Sum(n => n.Weight);
            if (involved.Count == 0 || totalWeight <= 0)
            {
                ToolOutput.Err("*** No masters to rebalance across.");
                return 1;
            }
            bool needed = false;
            foreach (var n in involved)
            {
                int expected = (int)(16384.0 / totalWeight * n.Weight);
                n.Balance = n.OwnedSlots - expected;
                double err = n.OwnedSlots == 0 ? (expected == 0 ? 0 : 100) : Math.Abs(100 - 100.0 * expected / n.OwnedSlots);
                if (err > o.Threshold) needed = true;
            }
            if (!needed)
            {
                ToolOutput.Warn($"*** No rebalancing needed! All nodes are within the {o.Threshold.ToString("F2", CultureInfo.InvariantCulture)}% threshold.");
                return 0;
            }
            // Rounding leaves the balances summing above zero: take the excess from nodes that would not give.
            int totalBalance = involved.Sum(n => n.Balance);
            while (totalBalance > 0)
                foreach (var n in involved)
                    if (n.Balance <= 0 && totalBalance > 0) { n.Balance--; totalBalance--; }
            var sorted = involved.OrderBy(n => n.Balance).ToList();
            ToolOutput.Info($">>> Rebalancing across {involved.Count} nodes. Total weight = {totalWeight.ToString("F2", CultureInfo.InvariantCulture)}");
            int dstIdx = 0, srcIdx = sorted.Count - 1;
            var moves = new List<(int, ToolNode, ToolNode)>();
            var taken = new HashSet<int>();
            while (dstIdx < srcIdx)
            {
                var dst = sorted[dstIdx];
                var src = sorted[srcIdx];
                int n = Math.Min(-dst.Balance, src.Balance);
                if (n > 0)
                {
                    ToolOutput.Line($"Moving {n} slots from {src.Address} to {dst.Address}");
                    foreach (int slot in src.SlotList().Where(s => !taken.Contains(s)).Take(n))
                    {
                        moves.Add((slot, src, dst));
                        taken.Add(slot);
                    }
                }
                dst.Balance += n;
                src.Balance -= n;
                if (dst.Balance == 0) dstIdx++;
                if (src.Balance == 0) srcIdx--;
            }
            if (o.Simulate)
            {
                foreach (var (slot, src, dst) in moves) ToolOutput.Line($"Moving slot {slot} from {src.Address} to {dst.Address} (simulated)");
                return 0;
            }
            return Execute(ops, state, moves) ? 0 : 1;
        }
        finally { state.Dispose(); }
    }
}
