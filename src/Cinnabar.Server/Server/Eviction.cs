using Cinnabar.Server.Config;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>performEvictions: frees keys by the maxmemory-policy until used memory is under maxmemory.</summary>
public sealed partial class CinnabarServer
{
    /// <summary>True when a write may go ahead; false means "OOM command not allowed".</summary>
    public bool EnsureMemory()
    {
        long max = Settings.MaxMemory;
        if (max <= 0) return true;
        if (Repl.MasterHost != null && Repl.IgnoreMaxmemory) return true;   // replica-ignore-maxmemory: an exact copy of the master
        long used = UsedMemory();
        if (used <= max) return true;
        if (Settings.MaxMemoryPolicy == EvictionPolicy.NoEviction) return false;
        int guard = 0;
        while (used > max && guard++ < 100000)
        {
            if (!EvictOne()) return false;
            used = UsedMemory();
        }
        return used <= max;
    }

    bool EvictOne()
    {
        var policy = Settings.MaxMemoryPolicy;
        bool volatileOnly = policy is EvictionPolicy.VolatileLru or EvictionPolicy.VolatileLfu or EvictionPolicy.VolatileRandom or EvictionPolicy.VolatileTtl;
        Db bestDb = null;
        int bestIndex = -1;
        double bestScore = double.MinValue;
        int samples = Math.Max(1, Settings.MaxMemorySamples);
        foreach (var db in Dbs)
        {
            var t = db.Table;
            if ((volatileOnly ? t.VolatileCount : t.Count) == 0) continue;
            for (int s = 0; s < samples; s++)
            {
                int i = volatileOnly ? t.VolatileAt(Random.Shared.Next(t.VolatileCount)) : t.RandomEntry();
                if (i < 0) break;
                ref var e = ref t.At(i);
                double score = policy switch
                {
                    EvictionPolicy.AllKeysLru or EvictionPolicy.VolatileLru => Lfu.LruIdleMs(e.Access),
                    EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu => 255 - Lfu.Counter(e.Access, Settings.LfuDecayTime),
                    EvictionPolicy.VolatileTtl => -(double)e.ExpireAt,
                    _ => Random.Shared.NextDouble(),
                };
                if (score > bestScore) { bestScore = score; bestDb = db; bestIndex = i; }
                if (policy is EvictionPolicy.AllKeysRandom or EvictionPolicy.VolatileRandom) break;
            }
        }
        if (bestDb == null) return false;
        var key = bestDb.Table.At(bestIndex).Key;
        bestDb.RemoveIndex(bestIndex);
        Stats.EvictedKeys++;
        if (Prop.Enabled)
        {
            // Redis propagates each eviction as its own unit (propagatePendingCommands after each key).
            Prop.AlsoDelete(bestDb.Id, key, Settings.LazyfreeLazyEviction);
            Prop.PropagatePending();
        }
        Notify(Cinnabar.Server.Config.KeyspaceEvents.Evicted, "evicted", key, bestDb.Id);
        KeyModified(bestDb, key);
        return true;
    }
}
