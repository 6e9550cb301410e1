namespace Cinnabar.Cli.Doctor;

/// <summary>
/// A replica whose link to its (answering) master is down, a replica still syncing, and replication lag: seconds since
/// the last ack (lag=) and bytes behind (master_repl_offset − the replica's offset).
/// </summary>
public static class ReplicationCheck
{
    public const long LagSeconds = 10, LagBytes = 10 * 1024 * 1024;

    public static IEnumerable<Finding> Run(Survey s)
    {
        foreach (var r in s.Up.Where(n => n.Info("role") == "slave"))
        {
            if (r.Info("master_link_status") == "up") continue;
            string masterId = r.Myself.MasterId;
            if (masterId == null || !s.ById.TryGetValue(masterId, out var m) || !m.Up) continue;   // master down: FailedMasterCheck
            var f = new Finding(Severity.Degraded, "replica-link-down",
                $"replica {r.Address} has no working link to its master {m.Address} (the master answers us): it cannot take over with fresh data");
            f.Node(r.Address, m.Address);
            foreach (var field in new[] { "master_link_status", "master_link_down_since_seconds", "master_sync_in_progress", "master_last_io_seconds_ago" })
                if (r.Info(field) is { } v) f.Saw(r.Address, "INFO", field + ":" + v);
            f.Remedy("look at the replica's log for the reason, then restart replication from this master", $"{r.Cli} CLUSTER REPLICATE {masterId}");
            yield return f;
        }
        foreach (var m in s.Up.Where(n => n.Info("role") == "master"))
        {
            long.TryParse(m.Info("master_repl_offset"), out long masterOffset);
            foreach (var (key, value) in m.Report.Info.Where(kv => kv.Key.StartsWith("slave") && char.IsDigit(kv.Key[^1])))
            {
                var fields = value.Split(',').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
                string addr = fields.GetValueOrDefault("ip") + ":" + fields.GetValueOrDefault("port");
                long.TryParse(fields.GetValueOrDefault("offset"), out long offset);
                long.TryParse(fields.GetValueOrDefault("lag"), out long lag);
                string state = fields.GetValueOrDefault("state");
                long behind = masterOffset - offset;
                Finding f = null;
                if (state != "online")
                    f = new Finding(Severity.Warning, "replica-syncing", $"replica {addr} of {m.Address} is in state {state} (not yet serving the replication stream)");
                else if (lag > LagSeconds || behind > LagBytes)
                    f = new Finding(Severity.Warning, "replication-lag", $"replica {addr} of {m.Address} lags: last ack {lag} s ago, {behind} bytes behind");
                if (f == null) continue;
                f.Node(m.Address, addr);
                f.Saw(m.Address, "INFO", key + ":" + value);
                f.Saw(m.Address, "INFO", "master_repl_offset:" + masterOffset);
                f.Remedy("check the replica's load and the network; a replica far behind is a poor failover candidate",
                    $"{Survey.CliFor(addr)} INFO replication");
                yield return f;
            }
        }
    }
}
