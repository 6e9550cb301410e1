namespace Cinnabar.Cli.Doctor;

/// <summary>
/// Failure detection tuned tighter than the nodes can keep up with: cluster-node-timeout against the measured PING
/// round-trip, and busy-reply-threshold (lua-time-limit) against cluster-node-timeout — a script runs that long before
/// SCRIPT KILL is accepted, and in that time the node answers no one.
/// </summary>
public static class TimingCheck
{
    public const double RttFactor = 20;

    public static IEnumerable<Finding> Run(Survey s)
    {
        var tight = new List<(NodeSurvey n, long timeout)>();
        var busyHigh = new List<(NodeSurvey n, long timeout, long busy)>();
        foreach (var n in s.Up)
        {
            if (!long.TryParse(n.Setting("cluster-node-timeout"), out long timeout)) continue;
            if (n.RttMaxMs > 0 && timeout < n.RttMaxMs * RttFactor) tight.Add((n, timeout));
            if (long.TryParse(n.Setting("busy-reply-threshold"), out long busy) && busy > 0 && busy > timeout) busyHigh.Add((n, timeout, busy));
        }
        if (tight.Count > 0)
        {
            double worst = tight.Max(t => t.n.RttMaxMs);
            var f = new Finding(Severity.Warning, "node-timeout-too-short",
                $"cluster-node-timeout is less than {RttFactor}x the slowest PING round-trip measured ({worst:0.###} ms) on {string.Join(", ", tight.Select(t => t.n.Address))}: nodes will be flagged failing on ordinary delays");
            foreach (var (n, timeout) in tight)
            {
                f.Node(n.Address);
                f.Saw(n.Address, "CONFIG GET", "cluster-node-timeout " + timeout);
                f.Saw(n.Address, "PING x10", $"avg {n.RttAvgMs:0.###} ms, max {n.RttMaxMs:0.###} ms");
            }
            long suggested = Math.Max(1000, (long)Math.Ceiling(worst * RttFactor * 5 / 1000.0) * 1000);
            f.Remedy("raise it on every node (or find what slows the nodes down: SLOWLOG GET, LATENCY DOCTOR, INFO commandstats)",
                s.Up.Select(u => $"{u.Cli} CONFIG SET cluster-node-timeout {suggested}").ToArray());
            yield return f;
        }
        if (busyHigh.Count > 0)
        {
            var f = new Finding(Severity.Warning, "busy-threshold-above-node-timeout",
                $"busy-reply-threshold (lua-time-limit) is above cluster-node-timeout on {string.Join(", ", busyHigh.Select(t => t.n.Address))}: a long script keeps the node silent until the others flag it failed, before SCRIPT KILL can stop it");
            foreach (var (n, timeout, busy) in busyHigh)
            {
                f.Node(n.Address);
                f.Saw(n.Address, "CONFIG GET", "busy-reply-threshold " + busy);
                f.Saw(n.Address, "CONFIG GET", "cluster-node-timeout " + timeout);
            }
            f.Remedy("lower busy-reply-threshold below cluster-node-timeout",
                busyHigh.Select(t => $"{t.n.Cli} CONFIG SET busy-reply-threshold {Math.Max(100, t.timeout / 3)}").ToArray());
            yield return f;
        }
    }
}
