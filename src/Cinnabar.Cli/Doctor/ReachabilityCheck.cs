namespace Cinnabar.Cli.Doctor;

/// <summary>
/// Nodes that do not answer as they should, other than masters whose slots are unserved (FailedMasterCheck): a node busy
/// in a script (BUSY → SCRIPT KILL / FUNCTION KILL), loading its data (LOADING), a replica or slot-less master that is
/// down or stopped.
/// </summary>
public static class ReachabilityCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        foreach (var n in s.Nodes.Where(x => !x.Up))
        {
            string id = s.ById.FirstOrDefault(kv => kv.Value == n).Key;
            s.Known.TryGetValue(id ?? "", out var line);
            bool ownsSlots = id != null && s.SlotsOf(id) > 0;
            Finding f;
            switch (n.Reach)
            {
                case Reach.Busy:
                {
                    bool function = n.Problem.Contains("FUNCTION KILL");
                    f = new Finding(Severity.Degraded, "node-busy-script",
                        $"{n.Address} is busy running a {(function ? "function" : "script")} past busy-reply-threshold and answers every command with BUSY{(ownsSlots ? $" (its {s.SlotsOf(id)} slots are not served)" : "")}");
                    f.Remedy($"stop the {(function ? "function" : "script")} (if it answers UNKILLABLE, the script has written: only {n.Cli} SHUTDOWN NOSAVE stops it, then restart the node)",
                        n.Cli + (function ? " FUNCTION KILL" : " SCRIPT KILL"));
                    break;
                }
                case Reach.Loading:
                    f = new Finding(Severity.Degraded, "node-loading", $"{n.Address} is loading its dataset into memory and answers LOADING until it is done");
                    f.Remedy("wait until it has loaded (INFO persistence shows loading_loaded_perc)", n.Cli + " INFO persistence");
                    break;
                default:
                    if (ownsSlots) continue;   // FailedMasterCheck names it with its slots
                    string role = line == null ? "node" : line.IsReplica ? $"replica (of {s.AddressOf(line.MasterId ?? "")})" : "master without slots";
                    if (n.Reach == Reach.NoReply)
                    {
                        f = new Finding(Severity.Degraded, "node-not-answering", $"{role} {n.Address} accepts connections but does not answer (stopped with SIGSTOP, or stuck)");
                        f.Remedy("resume it", n.LocalPid is int pid ? $"kill -CONT {pid}" : $"# find the process on port {n.HostPort.port} (ss -ltnp) and kill -CONT it, or restart it");
                    }
                    else
                    {
                        f = new Finding(Severity.Degraded, n.Reach == Reach.Refused ? "node-down" : "node-error", $"{role} {n.Address} is down: {n.Problem}");
                        f.Remedy("start it again in its directory (with its nodes.conf) — it rejoins by itself",
                            $"# start the node {n.Address} again; for the local cluster: ./run.sh");
                        if (line != null && line.IsReplica)
                            f.Remedy("or, if it is gone for good, forget it on every node", s.Up.Select(u => u.Cli + " CLUSTER FORGET " + line.Id).ToArray());
                    }
                    break;
            }
            f.Node(n.Address);
            f.Saw(n.Address, "connection", n.Problem);
            if (id != null)
                foreach (var u in s.Up.Take(3))
                    if (Survey.LineAbout(u, id) is { } l) f.Saw(u.Address, "CLUSTER NODES", l.RawLine);
            yield return f;
        }
    }
}
