namespace Cinnabar.Cli.Doctor;

/// <summary>A node at (95% of) maxmemory: with noeviction it refuses writes with OOM, otherwise it evicts keys.</summary>
public static class MemoryCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        foreach (var n in s.Up)
        {
            if (!long.TryParse(n.Info("used_memory"), out long used)) continue;
            long max = long.TryParse(n.Info("maxmemory"), out var m) ? m : long.TryParse(n.Setting("maxmemory"), out var m2) ? m2 : 0;
            if (max <= 0 || used < max * 0.95) continue;
            string policy = n.Info("maxmemory_policy") ?? n.Setting("maxmemory-policy") ?? "noeviction";
            bool refuses = policy == "noeviction";
            var f = new Finding(refuses ? Severity.Degraded : Severity.Warning, "memory-at-maxmemory",
                $"{n.Address} uses {n.Info("used_memory_human")} of maxmemory {n.Info("maxmemory_human") ?? max.ToString()} ({policy}: {(refuses ? "writes are refused with OOM" : "keys are being evicted")})");
            f.Node(n.Address);
            f.Saw(n.Address, "INFO", "used_memory:" + used);
            f.Saw(n.Address, "INFO", "maxmemory:" + max);
            f.Saw(n.Address, "INFO", "maxmemory_policy:" + policy);
            if (n.Info("evicted_keys") is { } ev) f.Saw(n.Address, "INFO", "evicted_keys:" + ev);
            f.Remedy("give it more memory", $"{n.Cli} CONFIG SET maxmemory {max * 2}");
            if (refuses) f.Remedy("or let it evict (if the data is a cache)", $"{n.Cli} CONFIG SET maxmemory-policy allkeys-lru");
            f.Remedy("or move slots to a master with room", $"redis-cli --cluster rebalance {n.Address}");
            yield return f;
        }
    }
}
