using Cinnabar.Cli.Resp;

namespace Cinnabar.Cli.Tool;

/// <summary>
/// Sends the commands that change a cluster, or with --dry-run prints exactly those commands instead (read-only
/// queries such as GETKEYSINSLOT still go out: they decide what would be sent).
/// </summary>
public sealed class Ops
{
    public readonly ToolOptions Options;
    public Ops(ToolOptions o) => Options = o;
    public bool DryRun => Options.DryRun;
    static readonly RespValue Ok = new() { Type = '+', Text = "OK" };

    public RespValue Send(ToolNode n, params string[] args)
    {
        if (DryRun)
        {
            ToolOutput.Line($"[dry-run] {n.Address}: {ToolOutput.Quote(args)}");
            return Ok;
        }
        return n.Call(args);
    }

    /// <summary>Sends and reports an error reply as "[ERR] ...": true when it succeeded.</summary>
    public bool SendChecked(ToolNode n, params string[] args)
    {
        var r = Send(n, args);
        if (r.IsError)
        {
            ToolOutput.Err($"Node {n.Address} replied with error:\n{r.Text}");
            return false;
        }
        return true;
    }

    public RespValue Query(ToolNode n, params string[] args) => n.Call(args);

    public long CountKeysInSlot(ToolNode n, int slot)
    {
        var r = n.Call("CLUSTER", "COUNTKEYSINSLOT", slot.ToString());
        return r.Type == ':' ? r.Integer : 0;
    }
}

/// <summary>
/// Moving one slot, redis-cli's way: IMPORTING on the destination, MIGRATING on the source, then GETKEYSINSLOT +
/// MIGRATE ... KEYS in batches of --cluster-pipeline until the source has none left, then SETSLOT NODE on the
/// destination, the source and every other master. A "cold" move (fix) skips the slot states.
/// </summary>
public static class SlotMover
{
    public static bool MoveSlot(Ops ops, ClusterState state, ToolNode src, ToolNode dst, int slot, bool cold, bool update,
        Progress progress = null, bool fixing = false)
    {
        if (!cold)
        {
            if (!ops.SendChecked(dst, "CLUSTER", "SETSLOT", slot.ToString(), "IMPORTING", src.Id)) return false;
            if (!ops.SendChecked(src, "CLUSTER", "SETSLOT", slot.ToString(), "MIGRATING", dst.Id)) return false;
        }
        if (!MigrateKeys(ops, src, dst, slot, progress, fixing)) return false;
        if (!cold)
        {
            // The destination first: once it owns the slot (and bumps its epoch) the source's handover cannot be lost.
            if (!ops.SendChecked(dst, "CLUSTER", "SETSLOT", slot.ToString(), "NODE", dst.Id)) return false;
            if (!ops.SendChecked(src, "CLUSTER", "SETSLOT", slot.ToString(), "NODE", dst.Id)) return false;
            foreach (var n in state.Masters)
            {
                if (n == src || n == dst) continue;
                var r = ops.Send(n, "CLUSTER", "SETSLOT", slot.ToString(), "NODE", dst.Id);
                if (r.IsError) ToolOutput.Warn($"*** {n.Address}: CLUSTER SETSLOT {slot} NODE: {r.Text} (it will learn the owner from the bus)");
            }
        }
        if (update && !ops.DryRun)
        {
            src.Slots[slot] = false;
            dst.Slots[slot] = true;
        }
        return true;
    }

    public static bool MigrateKeys(Ops ops, ToolNode src, ToolNode dst, int slot, Progress progress, bool fixing)
    {
        var o = ops.Options;
        if (ops.DryRun)
        {
            // Nothing moves, so list every key now and print the batches that would go.
            long count = ops.CountKeysInSlot(src, slot);
            if (count == 0) return true;
            var all = ops.Query(src, "CLUSTER", "GETKEYSINSLOT", slot.ToString(), count.ToString());
            var keys = all.Items?.Select(i => i.Text).ToList() ?? new();
            for (int i = 0; i < keys.Count; i += o.Pipeline)
                ops.Send(src, MigrateArgs(dst, o, o.Replace, keys.Skip(i).Take(o.Pipeline)));
            return true;
        }
        while (true)
        {
            var r = src.Call("CLUSTER", "GETKEYSINSLOT", slot.ToString(), o.Pipeline.ToString());
            if (r.IsError)
            {
                ToolOutput.Err($"[ERR] Calling CLUSTER GETKEYSINSLOT on {src.Address}: {r.Text}");
                return false;
            }
            if (r.Items.Length == 0) return true;
            var keys = r.Items.Select(i => i.Text).ToList();
            var m = src.Call(MigrateArgs(dst, o, o.Replace, keys));
            if (m.IsError && m.Text.Contains("BUSYKEY"))
            {
                // The destination already holds some of these keys. Replace them only when told to, or when fixing
                // and the values are the same on both sides (then nothing is lost).
                bool replace = o.Replace;
                if (!replace && fixing)
                {
                    var differ = keys.Where(k => !SameValue(src, dst, k)).ToList();
                    if (differ.Count == 0) replace = true;
                    else
                    {
                        ToolOutput.Err($"[ERR] Keys with different values on {src.Address} and {dst.Address} in slot {slot}: {string.Join(", ", differ)} (--cluster-replace overwrites the destination's)");
                        return false;
                    }
                }
                if (replace)
                {
                    if (!fixing || o.Replace) ToolOutput.Warn("*** Target key exists. Replacing it for FIX.");
                    m = src.Call(MigrateArgs(dst, o, true, keys));
                }
            }
            if (m.IsError)
            {
                ToolOutput.Err($"[ERR] Calling MIGRATE: {m.Text}");
                return false;
            }
            progress?.KeysMoved(keys.Count);
        }
    }

    static bool SameValue(ToolNode a, ToolNode b, string key)
    {
        var x = a.Call("DUMP", key);
        var y = b.Call("DUMP", key);
        return !x.IsError && !y.IsError && x.Text == y.Text;
    }

    static string[] MigrateArgs(ToolNode dst, ToolOptions o, bool replace, IEnumerable<string> keys)
    {
        var args = new List<string> { "MIGRATE", dst.Host, dst.Port.ToString(), "", "0", o.TimeoutMs.ToString() };
        if (replace) args.Add("REPLACE");
        args.Add("KEYS");
        args.AddRange(keys);
        return args.ToArray();
    }
}
