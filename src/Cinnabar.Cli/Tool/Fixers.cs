namespace Cinnabar.Cli.Tool;

/// <summary>
/// Open slots, any shape. redis-cli knows four cases and gives up on the rest ("Sorry, redis-cli can't fix this slot
/// yet"); here every shape reduces to one decision — who ends up owning the slot — and the same steps:
///   1. An interrupted move (the only claimant migrating to a node importing from it): finish the move there.
///   2. Otherwise the owner is the single claimant, else the node holding most keys, else the owner most views name.
///   3. Keys anywhere else are moved (cold, MIGRATE ... KEYS) to that owner; every other node closes the slot
///      (SETSLOT STABLE) and points it at the owner (SETSLOT NODE); the owner claims it and bumps its epoch when
///      its claim was contested or new, so the bus carries its claim over any stale one.
/// </summary>
public static class OpenSlotFixer
{
    public static bool Fix(ClusterState state, Ops ops, int slot)
    {
        ToolOutput.Info($">>> Fixing open slot {slot}");
        var masters = state.Masters.ToList();
        var keys = masters.ToDictionary(n => n, n => ops.CountKeysInSlot(n, slot));
        var claimants = masters.Where(n => n.Slots[slot]).ToList();
        foreach (var n in masters.Where(n => !n.Slots[slot] && keys[n] > 0))
            ToolOutput.Warn($"*** Found keys about slot {slot} in non-owner node {n.Address}!");
        var migrating = masters.Where(n => n.Migrating.ContainsKey(slot)).ToList();
        var importing = masters.Where(n => n.Importing.ContainsKey(slot)).ToList();
        if (migrating.Count > 0) ToolOutput.Line("Set as migrating in: " + string.Join(",", migrating.Select(n => n.Address)));
        if (importing.Count > 0) ToolOutput.Line("Set as importing in: " + string.Join(",", importing.Select(n => n.Address)));

        // 1. An interrupted move.
        if (claimants.Count == 1 && claimants[0].Migrating.TryGetValue(slot, out string targetId))
        {
            var from = claimants[0];
            var to = state.ById(targetId);
            if (to != null && to.IsMaster && to.Importing.TryGetValue(slot, out string sourceId) && sourceId == from.Id)
            {
                ToolOutput.Info($">>> Slot {slot}: a move from {from.Address} to {to.Address} was interrupted; finishing it");
                foreach (var n in masters.Where(n => n != from && n != to && keys[n] > 0))
                {
                    ToolOutput.Line($"Moving the slot's keys from {n.Address} to {to.Address} first");
                    if (!SlotMover.MigrateKeys(ops, n, to, slot, null, fixing: true)) return false;
                }
                var progress = new Progress(1);
                progress.SlotStarted(slot, from.Address, to.Address);
                if (!SlotMover.MoveSlot(ops, state, from, to, slot, cold: false, update: true, progress, fixing: true)) return false;
                progress.SlotDone();
                progress.Finish();
                foreach (var n in masters.Where(n => n != from && n != to && (n.Migrating.ContainsKey(slot) || n.Importing.ContainsKey(slot))))
                    if (!ops.SendChecked(n, "CLUSTER", "SETSLOT", slot.ToString(), "STABLE")) return false;
                Forget(state, slot);
                return true;
            }
        }

        // 2. Who owns it.
        ToolNode owner;
        string why;
        if (claimants.Count == 1) { owner = claimants[0]; why = "its only claimant"; }
        else if (keys.Values.Any(k => k > 0))
        {
            owner = (claimants.Count > 0 && claimants.Any(c => keys[c] > 0) ? claimants : masters).OrderByDescending(n => keys[n]).First();
            why = $"the node with most keys in it ({keys[owner]})";
        }
        else
        {
            // Nobody has keys: the owner most nodes' views name, else a claimant, else the node the slot was moving from.
            var named = state.Nodes.SelectMany(v => v.View.Where(x => x.IsMaster && x.Slots.Contains(slot)).Select(x => x.Id))
                .GroupBy(id => id).OrderByDescending(g => g.Count()).Select(g => state.ById(g.Key)).FirstOrDefault(n => n != null && n.IsMaster);
            owner = claimants.FirstOrDefault() ?? named ?? migrating.FirstOrDefault() ?? importing.FirstOrDefault();
            why = owner == null ? "" : "no node has keys in it; chosen from the nodes' views";
        }
        if (owner == null)
        {
            ToolOutput.Err("[ERR] Can't select a slot owner. Impossible to fix.");
            return false;
        }
        ToolOutput.Info($">>> Slot {slot}: {owner.Address} becomes the owner ({why}); moving every other copy of its keys there and closing it elsewhere");
        return Consolidate(state, ops, slot, owner, keys);
    }

    public static bool FixMultipleOwners(ClusterState state, Ops ops, int slot, List<ToolNode> owners)
    {
        var keys = state.Masters.ToDictionary(n => n, n => ops.CountKeysInSlot(n, slot));
        var owner = owners.OrderByDescending(n => keys[n]).First();
        ToolOutput.Info($">>> Fixing multiple owners of slot {slot}: keeping {owner.Address} ({keys[owner]} keys)");
        return Consolidate(state, ops, slot, owner, keys);
    }

    /// <summary>Every key of the slot onto the owner, the slot closed and pointed at the owner everywhere.</summary>
    public static bool Consolidate(ClusterState state, Ops ops, int slot, ToolNode owner, Dictionary<ToolNode, long> keys)
    {
        string s = slot.ToString();
        bool contested = !owner.Slots[slot] || state.Masters.Any(n => n != owner && n.Slots[slot])
            || state.Nodes.Any(v => v.View.Any(x => x.IsMaster && x.Id != owner.Id && x.Slots.Contains(slot)));
        // The owner claims it first (so MIGRATE's RESTOREs land on the slot's owner), closed.
        if (owner.Migrating.ContainsKey(slot) || owner.Importing.ContainsKey(slot))
            if (!ops.SendChecked(owner, "CLUSTER", "SETSLOT", s, "STABLE")) return false;
        if (!owner.Slots[slot] && !ops.SendChecked(owner, "CLUSTER", "SETSLOT", s, "NODE", owner.Id)) return false;
        foreach (var n in state.Masters.Where(n => n != owner && keys.TryGetValue(n, out long k) && k > 0))
        {
            ToolOutput.Line($"Moving slot {s}'s {keys[n]} keys from {n.Address} to {owner.Address}");
            if (!SlotMover.MigrateKeys(ops, n, owner, slot, null, fixing: true)) return false;
        }
        foreach (var n in state.Masters.Where(n => n != owner))
        {
            if (n.Migrating.ContainsKey(slot) || n.Importing.ContainsKey(slot))
            {
                ToolOutput.Info($">>> Setting {slot} as STABLE in {n.Address}");
                if (!ops.SendChecked(n, "CLUSTER", "SETSLOT", s, "STABLE")) return false;
            }
            var view = n.View.FirstOrDefault(x => x.Slots.Contains(slot) && x.IsMaster);
            if (view?.Id != owner.Id && !ops.SendChecked(n, "CLUSTER", "SETSLOT", s, "NODE", owner.Id)) return false;
        }
        if (contested && !ops.SendChecked(owner, "CLUSTER", "BUMPEPOCH")) return false;
        Forget(state, slot, owner);
        return true;
    }

    static void Forget(ClusterState state, int slot, ToolNode owner = null)
    {
        foreach (var n in state.Nodes)
        {
            n.Migrating.Remove(slot);
            n.Importing.Remove(slot);
            if (owner != null) n.Slots[slot] = n == owner;
        }
    }
}

/// <summary>Uncovered slots: given to a node, the one holding their keys, or the one holding most of them.</summary>
public static class CoverageFixer
{
    public static bool Fix(ClusterState state, Ops ops, bool[] covered)
    {
        ToolOutput.Info(">>> Fixing slots coverage...");
        var masters = state.Masters.ToList();
        var none = new List<int>();
        var single = new Dictionary<int, ToolNode>();
        var multi = new Dictionary<int, Dictionary<ToolNode, long>>();
        for (int slot = 0; slot < ToolNode.SlotCount; slot++)
        {
            if (covered[slot]) continue;
            var holders = masters.Select(n => (n, k: ops.CountKeysInSlot(n, slot))).Where(x => x.k > 0).ToList();
            if (holders.Count == 0) none.Add(slot);
            else if (holders.Count == 1) single[slot] = holders[0].n;
            else multi[slot] = holders.ToDictionary(x => x.n, x => x.k);
        }
        var bumped = new HashSet<ToolNode>();
        if (none.Count > 0)
        {
            ToolOutput.Line("The following uncovered slots have no keys across the cluster:");
            ToolOutput.Line(ToolNode.Ranges(none, true));
            if (!ToolOutput.Confirm("Fix these slots by covering with a random node?", ops.Options.Yes)) return false;
            // Spread over the masters, the emptiest first, in contiguous runs.
            var order = masters.OrderBy(n => n.OwnedSlots).ToList();
            int per = (none.Count + order.Count - 1) / order.Count;
            for (int i = 0; i < none.Count; i++)
            {
                var n = order[i / per];
                ToolOutput.Info($">>> Covering slot {none[i]} with {n.Address}");
                if (!Assign(state, ops, none[i], n)) return false;
                bumped.Add(n);
            }
        }
        if (single.Count > 0)
        {
            ToolOutput.Line("The following uncovered slots have keys in just one node:");
            ToolOutput.Line(ToolNode.Ranges(single.Keys, true));
            if (!ToolOutput.Confirm("Fix these slots by covering with those nodes?", ops.Options.Yes)) return false;
            foreach (var (slot, n) in single)
            {
                ToolOutput.Info($">>> Covering slot {slot} with {n.Address}");
                if (!Assign(state, ops, slot, n)) return false;
                bumped.Add(n);
            }
        }
        if (multi.Count > 0)
        {
            ToolOutput.Line("The following uncovered slots have keys in multiple nodes:");
            ToolOutput.Line(ToolNode.Ranges(multi.Keys, true));
            if (!ToolOutput.Confirm("Fix these slots by moving keys into a single node?", ops.Options.Yes)) return false;
            foreach (var (slot, keys) in multi)
            {
                var owner = keys.OrderByDescending(kv => kv.Value).First().Key;
                ToolOutput.Info($">>> Covering slot {slot} moving keys to {owner.Address}");
                if (!OpenSlotFixer.Consolidate(state, ops, slot, owner, keys)) return false;
            }
        }
        // One epoch bump per new owner: its claims then win over whatever stale owner other nodes remember.
        foreach (var n in bumped)
            if (!ops.SendChecked(n, "CLUSTER", "BUMPEPOCH")) return false;
        return true;
    }

    static bool Assign(ClusterState state, Ops ops, int slot, ToolNode owner)
    {
        string s = slot.ToString();
        // SETSLOT NODE (not ADDSLOTS): it works whether the node thinks the slot is free or someone else's.
        if (!ops.SendChecked(owner, "CLUSTER", "SETSLOT", s, "NODE", owner.Id)) return false;
        foreach (var n in state.Masters.Where(n => n != owner))
        {
            var view = n.View.FirstOrDefault(x => x.IsMaster && x.Slots.Contains(slot));
            if (view != null && view.Id != owner.Id && !ops.SendChecked(n, "CLUSTER", "SETSLOT", s, "NODE", owner.Id)) return false;
        }
        owner.Slots[slot] = true;
        return true;
    }
}

/// <summary>
/// Nodes other nodes list but nobody can reach: lost their address (noaddr) or a MEET that never completed
/// (handshake). Each is forgotten (CLUSTER FORGET) on every node that lists it. A noaddr master still claiming slots
/// is forgotten only with --cluster-fix-with-unreachable-masters (its slots are then uncovered until fixed again).
/// </summary>
public static class LeftoverFixer
{
    public static bool Fix(ClusterState state, Ops ops)
    {
        bool ok = true;
        foreach (var g in state.Leftovers.Where(l => l.Reason != "unreachable").GroupBy(l => l.Id))
        {
            var l = g.First();
            if (l.Master && l.Slots > 0 && !ops.Options.FixWithUnreachableMasters)
            {
                ToolOutput.Warn($"*** Not forgetting {l.Id}: it lost its address but claims {l.Slots} slots; use --cluster-fix-with-unreachable-masters to forget it (its slots become uncovered).");
                ok = false;
                continue;
            }
            ToolOutput.Info($">>> Forgetting node {l.Id} ({l.Reason}) on every node that lists it");
            if (!ToolOutput.Confirm($"Send CLUSTER FORGET {l.Id} to {g.Count()} node(s)?", ops.Options.Yes)) { ok = false; continue; }
            foreach (var n in state.Nodes.Where(n => n.View.Any(v => v.Id == l.Id)))
            {
                var r = ops.Send(n, "CLUSTER", "FORGET", l.Id);
                if (r.IsError) { ToolOutput.Err($"[ERR] {n.Address}: CLUSTER FORGET {l.Id}: {r.Text}"); ok = false; }
            }
        }
        return ok;
    }
}
