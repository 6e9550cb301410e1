using System.Text;
using Cinnabar.Cli.Resp;
using Cinnabar.Cli.Topology;

namespace Cinnabar.Cli;

/// <summary>
/// cinnabar watch HOST:PORT [--once] [--interval ms]: the cluster as a live terminal view — cluster_state per node, the
/// 16384 slots as a coverage map (128 cells a row, 32 slots a cell, coloured by the worst slot in the cell: ok, owner
/// fail?, owner fail, unassigned, open), and per node its role, flags, epochs, replication offset and lag, memory and
/// ops/s. --once prints one snapshot (no colours unless stdout is a terminal) and exits.
/// </summary>
public static class Watch
{
    public const int SlotsPerCell = 32, CellsPerRow = 128;
    public const string Usage = "Usage: cinnabar watch HOST:PORT [--once] [--interval ms]";

    enum Health { Ok = 0, Open = 1, PFail = 2, Fail = 3, Unassigned = 4 }

    public static int Run(string[] args)
    {
        string seed = null;
        bool once = false;
        int interval = 1000;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--once": once = true; break;
                case "--interval" when i + 1 < args.Length && int.TryParse(args[i + 1], out interval) && interval > 0: i++; break;
                case "-h": case "--help": Console.WriteLine(Usage); return 0;
                default:
                    if (args[i].StartsWith('-') || seed != null) { Console.Error.WriteLine($"Unknown argument '{args[i]}'.\n{Usage}"); return 2; }
                    seed = args[i];
                    break;
            }
        }
        if (seed == null) { Console.Error.WriteLine(Usage); return 2; }
        try { RedisConnection.ParseAddress(seed); }
        catch (FormatException e) { Console.Error.WriteLine(e.Message); return 2; }

        bool color = !Console.IsOutputRedirected;
        if (once)
        {
            var snap = ClusterSnapshot.Take(seed, 1000);
            Console.Write(Render(snap, color));
            return snap.Reachable.Any() ? 0 : 2;
        }
        bool stop = false;
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop = true; };
        while (!stop)
        {
            var started = DateTime.UtcNow;
            var snap = ClusterSnapshot.Take(seed, Math.Min(1000, interval));
            string frame = Render(snap, color);
            Console.Write(color ? "\x1b[H\x1b[2J" + frame : frame + "\n");
            var wait = TimeSpan.FromMilliseconds(interval) - (DateTime.UtcNow - started);
            for (var until = DateTime.UtcNow + wait; !stop && DateTime.UtcNow < until;) Thread.Sleep(50);
        }
        if (color) Console.Write("\x1b[0m");
        return 0;
    }

    static string Paint(string text, string code, bool color) => color ? $"\x1b[{code}m{text}\x1b[0m" : text;

    static readonly (Health h, char plain, string code, string name)[] Legend =
    {
        (Health.Ok, '#', "42;30", "ok"), (Health.Open, '~', "46;30", "open (migrating/importing)"), (Health.PFail, '?', "43;30", "owner fail?"),
        (Health.Fail, 'X', "41;37", "owner fail"), (Health.Unassigned, '.', "47;30", "unassigned"),
    };

    public static string Render(ClusterSnapshot snap, bool color)
    {
        var sb = new StringBuilder();
        var up = snap.Reachable.Where(r => r.Myself != null).ToList();
        sb.AppendLine($"cinnabar watch — {snap.ByAddress.Count} nodes, {up.Count} answering — {DateTime.Now:yyyy-MM-dd HH:mm:ss}");
        // The view of the node with the highest current epoch stands for the cluster's.
        var reference = up.OrderByDescending(r => long.TryParse(r.ClusterInfo.GetValueOrDefault("cluster_current_epoch"), out var e) ? e : 0)
            .ThenByDescending(r => r.View.Sum(l => l.SlotCount)).FirstOrDefault();
        var states = up.GroupBy(r => r.ClusterInfo.GetValueOrDefault("cluster_state") ?? "?").ToList();
        sb.Append("cluster_state: ");
        foreach (var r in snap.ByAddress.Values)
        {
            string st = r.Reachable ? r.ClusterInfo.GetValueOrDefault("cluster_state") ?? "?" : "unreachable";
            sb.Append(r.Address).Append('=').Append(Paint(st, st == "ok" ? "32" : "31;1", color)).Append("  ");
        }
        sb.AppendLine();
        if (reference == null)
        {
            foreach (var r in snap.ByAddress.Values) sb.AppendLine($"{r.Address}: {r.Error}");
            return sb.ToString();
        }

        // Slot health from the reference view; open slots from every node's own line.
        var health = new Health[16384];
        for (int i = 0; i < health.Length; i++) health[i] = Health.Unassigned;
        foreach (var l in reference.View)
        {
            var h = l.Failed || l.Has("fail") ? Health.Fail : l.PossiblyFailed || !snap.ByAddress.TryGetValue(l.Address, out var rep) || !rep.Reachable ? Health.PFail : Health.Ok;
            foreach (var (from, to) in l.SlotRanges)
                for (int s = from; s <= to && s < 16384; s++) health[s] = h;
        }
        foreach (var r in up)
            foreach (var s in r.Myself.Migrating.Keys.Concat(r.Myself.Importing.Keys))
                if (health[s] == Health.Ok) health[s] = Health.Open;
        sb.AppendLine($"slots (view of {reference.Address}; one cell = {SlotsPerCell} slots, the worst of them):");
        int cells = 16384 / SlotsPerCell;
        for (int row = 0; row < cells / CellsPerRow; row++)
        {
            sb.Append($"{row * CellsPerRow * SlotsPerCell,5} ");
            for (int c = 0; c < CellsPerRow; c++)
            {
                int first = (row * CellsPerRow + c) * SlotsPerCell;
                var worst = Health.Ok;
                for (int s = first; s < first + SlotsPerCell; s++) if (health[s] > worst) worst = health[s];
                var lg = Legend[(int)worst];
                sb.Append(color ? Paint(lg.plain.ToString(), lg.code, true) : lg.plain.ToString());
            }
            sb.AppendLine();
        }
        sb.Append("      ");
        foreach (var lg in Legend) sb.Append(color ? Paint(lg.plain.ToString(), lg.code, true) : lg.plain.ToString()).Append(' ').Append(lg.name)
            .Append($" ({health.Count(h => h == lg.h)})  ");
        sb.AppendLine();
        sb.AppendLine();

        sb.AppendLine($"{"node",-21} {"id",-8} {"role",-7} {"flags",-22} {"slots",6} {"cfgEp",5} {"curEp",5} {"repl offset",12} {"lag",9} {"memory",9} {"ops/s",7}");
        var nodes = reference.View.OrderBy(l => l.IsMaster ? l.Id : l.MasterId ?? "").ThenBy(l => l.IsMaster ? 0 : 1).ThenBy(l => l.Port).ToList();
        foreach (var l in nodes)
        {
            snap.ByAddress.TryGetValue(l.Address, out var r);
            var self = r?.Myself;
            string flags = string.Join(',', (self ?? l).Flags.Where(f => f != "myself"));
            var viewFlags = l.Flags.Where(f => f is "fail" or "fail?").ToList();
            if (viewFlags.Count > 0 && !flags.Contains(viewFlags[0])) flags += "," + viewFlags[0];
            string role = (self ?? l).IsMaster ? "master" : "replica";
            string offset = "-", lag = "-", mem = "-", ops = "-", curEpoch = "-";
            if (r != null && r.Reachable)
            {
                offset = r.Field("master_repl_offset") ?? "-";
                mem = r.Field("used_memory_human") ?? "-";
                ops = r.Field("instantaneous_ops_per_sec") ?? "-";
                curEpoch = r.ClusterInfo.GetValueOrDefault("cluster_current_epoch") ?? "-";
                if (r.Field("role") == "slave")
                {
                    string link = r.Field("master_link_status");
                    var master = snap.ByAddress.Values.FirstOrDefault(m => m.Myself?.Id == (self ?? l).MasterId);
                    if (link != "up") lag = "link " + link;
                    else if (master != null && long.TryParse(master.Field("master_repl_offset"), out var mo) && long.TryParse(r.Field("slave_repl_offset"), out var so))
                        lag = (mo - so) + " B";
                }
            }
            string line = $"{l.Address,-21} {l.Id[..8],-8} {role,-7} {Trunc(flags, 22),-22} {(self ?? l).SlotCount,6} {(self ?? l).ConfigEpoch,5} {curEpoch,5} {offset,12} {lag,9} {mem,9} {ops,7}";
            bool bad = r == null || !r.Reachable || l.Failed || l.PossiblyFailed;
            sb.AppendLine(bad ? Paint(line, "31", color) : line);
            if (r != null && !r.Reachable) sb.AppendLine(Paint($"    unreachable: {r.Error}", "31", color));
        }
        return sb.ToString();
    }

    static string Trunc(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
