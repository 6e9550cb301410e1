using System.Runtime.CompilerServices;

namespace Cinnabar.Server.Storage;

/// <summary>Milliseconds clock sampled once per command, as Redis samples mstime() for expiry checks.</summary>
public static class Clock
{
    public static long NowMs;
    public static void Update() => NowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    /// <summary>Redis's 24-bit LRU clock in seconds.</summary>
    public static uint LruClock => (uint)(NowMs / 1000) & ((1 << 24) - 1);
}

/// <summary>Hooks from the keyspace to the rest of the server (stats, notifications, WATCH).</summary>
public interface IKeyspaceEvents
{
    void KeyExpired(Db db, byte[] key);
    void KeyAdded(Db db, byte[] key);
    void KeyModified(Db db, ReadOnlySpan<byte> key);

    /// <summary>A replica met a key past its TTL that it must not delete itself: true when the lookup treats it as missing.</summary>
    bool HideExpiredKey(Db db, int index) => false;
}

/// <summary>One numbered database: the key table plus lazy expiry, access stamps and memory accounting.</summary>
public sealed class Db
{
    public readonly int Id;
    public KeyTable Table = new();
    public long DatasetBytes;       // approximate heap held by keys, values and entries
    public long AvgTtlEstimate;
    public bool ExpiryEnabled = true;   // false on replicas and while loading, as Redis lets the master expire
    public bool HideExpired;            // a replica: expired keys stay, but its own clients do not see them
    readonly IKeyspaceEvents events;
    public bool LfuMode;            // maxmemory-policy is an LFU one: Access holds Redis's LFU word
    public int LfuLogFactor = 10, LfuDecayTime = 1;

    public const int EntryOverhead = 48;

    public Db(int id, IKeyspaceEvents events)
    {
        Id = id;
        this.events = events;
    }

    public int Count => Table.Count;
    public int VolatileCount => Table.VolatileCount;

    static long KeyCost(byte[] key) => 24 + ((key.Length + 7) & ~7);

    /// <summary>Finds a live key, deleting it first if its TTL has passed. Returns the entry index or -1.</summary>
    public int Find(ReadOnlySpan<byte> key)
    {
        int i = Table.Find(key);
        if (i < 0) return -1;
        // Whatever a caller does with the entry next, a snapshot in progress gets its current state first.
        Table.Snapshot?.SaveBeforeChange(Table, i);
        ref var e = ref Table.At(i);
        if (e.ExpireAt != 0 && Clock.NowMs > e.ExpireAt)
        {
            if (ExpiryEnabled)
            {
                ExpireAt(i);
                return -1;
            }
            if (HideExpired && events.HideExpiredKey(this, i)) return -1;
        }
        return i;
    }

    /// <summary>Looks a key up for reading and stamps its access time (OBJECT IDLETIME/FREQ).</summary>
    public object Get(ReadOnlySpan<byte> key)
    {
        int i = Find(key);
        if (i < 0) return null;
        ref var e = ref Table.At(i);
        Touch(ref e);
        return e.Value;
    }

    public void ExpireAt(int index)
    {
        byte[] key = Table.At(index).Key;
        RemoveIndex(index);
        events.KeyExpired(this, key);
    }

    /// <summary>Sets a value, replacing any old one; keeps the old TTL only when asked (SET KEEPTTL).</summary>
    public int Set(ReadOnlySpan<byte> key, object value, bool keepTtl = false)
    {
        int i = Find(key);
        if (i >= 0)
        {
            ref var e = ref Table.At(i);
            DatasetBytes += Values.Cost(value) - Values.Cost(e.Value);
            e.Value = value;
            Touch(ref e);
            if (!keepTtl && e.ExpireAt != 0) Table.SetExpire(i, 0);
            return i;
        }
        return Add(key.ToArray(), value);
    }

    /// <summary>Adds a key known to be absent.</summary>
    public int Add(byte[] key, object value)
    {
        int i = Table.Add(key, value);
        Table.At(i).Access = LfuMode ? Lfu.NewWord() : Clock.LruClock;
        DatasetBytes += EntryOverhead + KeyCost(key) + Values.Cost(value);
        events.KeyAdded(this, key);
        return i;
    }

    /// <summary>Adds a key as loaded (RDB, AOF base): no keyspace event, the given access stamp.</summary>
    public int AddLoaded(byte[] key, object value, uint access)
    {
        int i = Table.Add(key, value);
        Table.At(i).Access = access;
        DatasetBytes += EntryOverhead + KeyCost(key) + Values.Cost(value);
        return i;
    }

    /// <summary>
    /// <see cref="AddLoaded"/> unless the key is present: returns the new entry index, or -1 - the index of the
    /// entry holding the key (left unchanged).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int TryAddLoaded(byte[] key, object value, uint access, uint hash)
    {
        int i = Table.TryAdd(key, value, hash);
        if (i < 0) return i;
        Table.At(i).Access = access;
        DatasetBytes += EntryOverhead + KeyCost(key) + Values.Cost(value);
        return i;
    }

    /// <summary>Replaces the value at an entry in place (the entry keeps its key and TTL).</summary>
    public void Replace(int index, object value)
    {
        ref var e = ref Table.At(index);
        DatasetBytes += Values.Cost(value) - Values.Cost(e.Value);
        e.Value = value;
    }

    /// <summary>Tells the accounting that the value at an entry changed size in place.</summary>
    public void Resized(long oldCost, object value) => DatasetBytes += Values.Cost(value) - oldCost;

    /// <summary>
    /// dbDelete: removes the key if it is in the table, even past its TTL (a STORE of an empty result deletes
    /// such a destination with a "del" event, as Redis does). DEL expires first: see <see cref="Find"/>.
    /// </summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        int i = Table.Find(key);
        if (i < 0) return false;
        RemoveIndex(i);
        return true;
    }

    public void RemoveIndex(int i)
    {
        Table.Snapshot?.SaveBeforeChange(Table, i);
        ref var e = ref Table.At(i);
        DatasetBytes -= EntryOverhead + KeyCost(e.Key) + Values.Cost(e.Value);
        Table.RemoveAt(i);
    }

    /// <summary>Records an access for OBJECT IDLETIME/FREQ and the LRU/LFU eviction policies.</summary>
    public void Touch(ref KeyTable.Entry e)
    {
        e.Access = LfuMode ? Lfu.Touch(e.Access, LfuLogFactor, LfuDecayTime) : Clock.LruClock;
    }

    public long GetExpire(int index) => Table.At(index).ExpireAt;
    public void SetExpire(int index, long when) => Table.SetExpire(index, when);

    public void Clear()
    {
        Table = new KeyTable();
        DatasetBytes = 0;
    }

    public void SwapWith(Db other)
    {
        (Table, other.Table) = (other.Table, Table);
        (DatasetBytes, other.DatasetBytes) = (other.DatasetBytes, DatasetBytes);
        (AvgTtlEstimate, other.AvgTtlEstimate) = (other.AvgTtlEstimate, AvgTtlEstimate);
    }

    /// <summary>
    /// One pass of active expiry over this db, Redis's activeExpireCycle in spirit: sample keys with a TTL,
    /// delete the expired, repeat while more than a quarter of the sample was expired and time remains.
    /// </summary>
    public int ActiveExpire(long deadlineTicks, int samplesPerLoop = 20)
    {
        int expired = 0;
        if (!ExpiryEnabled) return 0;
        while (Table.VolatileCount > 0)
        {
            int found = 0, sampled = Math.Min(samplesPerLoop, Table.VolatileCount);
            for (int s = 0; s < sampled && Table.VolatileCount > 0; s++)
            {
                int idx = Table.VolatileAt(Random.Shared.Next(Table.VolatileCount));
                ref var e = ref Table.At(idx);
                if (Clock.NowMs > e.ExpireAt)
                {
                    ExpireAt(idx);
                    found++;
                }
            }
            expired += found;
            if (found * 4 <= sampled) break;
            if (Environment.TickCount64 > deadlineTicks) break;
        }
        return expired;
    }
}
