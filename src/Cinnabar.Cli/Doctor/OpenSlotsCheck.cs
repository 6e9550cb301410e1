using Cinnabar.Cli.Resp;

namespace Cinnabar.Cli.Doctor;

/// <summary>
/// Slots left migrating/importing (a reshard that stopped half way). Nothing moved yet → SETSLOT STABLE on both sides;
/// everything moved → SETSLOT NODE (finish); keys on both sides → finish the move with redis-cli --cluster fix.
/// </summary>
public static class OpenSlotsCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        var open = new SortedDictionary<int, (NodeSurvey from, NodeSurvey to)>();
        foreach (var n in s.Up)
        {
            foreach (var (slot, target) in n.Myself.Migrating)
                open[slot] = (n, open.TryGetValue(slot, out var o) ? o.to : s.ById.GetValueOrDefault(target));
            foreach (var (slot, source) in n.Myself.Importing)
                open[slot] = (open.TryGetValue(slot, out var o) ? o.from : s.ById.GetValueOrDefault(source), n);
        }
        foreach (var (slot, (from, to)) in open)
        {
            long keysFrom = CountKeys(from, slot), keysTo = CountKeys(to, slot);
            string fromText = from?.Address ?? "?", toText = to?.Address ?? "?";
            var f = new Finding(Severity.Degraded, "open-slot", $"slot {slot} is open: migrating on {fromText}, importing on {toText} ({keysFrom} keys left on the source, {keysTo} on the target)");
            f.Slots.Add(slot.ToString());
            foreach (var n in new[] { from, to }.Where(x => x != null))
            {
                f.Node(n.Address);
                f.Saw(n.Address, "CLUSTER NODES", n.Myself.RawLine);
                f.Saw(n.Address, "CLUSTER COUNTKEYSINSLOT " + slot, (n == from ? keysFrom : keysTo).ToString());
            }
            var sides = new[] { from, to }.Where(x => x != null && x.Up).ToList();
            if (keysTo <= 0)
            {
                foreach (var n in sides) f.Fix.Add(new FixAction(n.Address, new[] { "CLUSTER", "SETSLOT", slot.ToString(), "STABLE" }));
                f.Remedy("no key has moved yet: cancel the move (cinnabar doctor --fix runs this)", f.Fix.Select(a => a.ToString()).ToArray());
                if (from != null && to != null)
                    f.Remedy("or finish moving the slot", $"redis-cli --cluster fix {from.Address}");
            }
            else if (keysFrom == 0 && from != null && to != null)
            {
                // Every key is on the target: give it the slot, the target first, then the source, then the other masters.
                var order = new[] { to, from }.Concat(s.Up.Where(n => n.Myself.IsMaster && n != to && n != from));
                foreach (var n in order) f.Fix.Add(new FixAction(n.Address, new[] { "CLUSTER", "SETSLOT", slot.ToString(), "NODE", to.Id }));
                f.Remedy($"every key has moved: finish the move, giving the slot to {to.Address} (cinnabar doctor --fix runs this)", f.Fix.Select(a => a.ToString()).ToArray());
            }
            else
            {
                f.Remedy("keys are on both sides: finish the move (MIGRATE the rest, then SETSLOT NODE)", $"redis-cli --cluster fix {(from ?? to).Address}");
            }
            yield return f;
        }
    }

    static long CountKeys(NodeSurvey n, int slot)
    {
        if (n == null || !n.Up) return -1;
        try
        {
            var (h, p) = n.HostPort;
            using var c = new RedisConnection(h, p, 3000);
            var r = c.Call("CLUSTER", "COUNTKEYSINSLOT", slot.ToString());
            return r.IsError ? -1 : r.Integer;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { return -1; }
    }
}
