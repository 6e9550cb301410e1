using System.Runtime.CompilerServices;

namespace Cinnabar.Server.Storage;

/// <summary>
/// The key → value table of one database: chained hashing over a power-of-two bucket array with all
/// entries in one struct array, so a key costs its bytes, its value and one 40-byte entry. Lookups take
/// the key as a span (no allocation). Buckets are exposed for SCAN's reverse-binary cursor and random
/// sampling; keys with a TTL are also kept in a dense list so expiry and volatile eviction sample them
/// directly, as Redis samples its expires dict.
/// </summary>
public sealed partial class KeyTable
{
    public struct Entry
    {
        public byte[] Key;
        public object Value;
        public long ExpireAt;   // unix ms; 0 = persistent
        public uint Hash;
        public int Next;        // next entry in the bucket chain as index + 1, 0 = end (free slots: next free)
        public int VolatilePos; // position in the volatile list, -1 when persistent
        uint accessAndMark;

        /// <summary>LRU clock or LFU word, as Redis's 24-bit robj lru field.</summary>
        public uint Access
        {
            readonly get => accessAndMark & 0x7FFF_FFFF;
            set => accessAndMark = (accessAndMark & 0x8000_0000) | (value & 0x7FFF_FFFF);
        }

        /// <summary>Equal to the table's <see cref="KeyTable.Mark"/> once the active snapshot holds this entry.</summary>
        internal bool SnapshotMark
        {
            readonly get => (accessAndMark & 0x8000_0000) != 0;
            set => accessAndMark = value ? accessAndMark | 0x8000_0000 : accessAndMark & 0x7FFF_FFFF;
        }
    }

    /// <summary>The snapshot being taken of this table, or null (see <see cref="KeyspaceSnapshot"/>).</summary>
    public KeyspaceSnapshot Snapshot;

    /// <summary>
    /// Between snapshots every entry's mark equals this. A snapshot flips it, which makes every entry "not yet
    /// saved"; entries added later are born with it, so the snapshot never sees them.
    /// </summary>
    internal bool Mark;

    static readonly uint Seed = (uint)Random.Shared.Next();

    int[] buckets;          // entry index + 1; 0 = empty
    Entry[] entries;
    int used;               // entries handed out (high-water mark)
    int freeList = -1;
    int freeCount;
    int[] volatileList = new int[16];
    public int VolatileCount;

    public KeyTable(int capacity = 16, bool? trackSlots = null)
    {
        if (trackSlots ?? TrackSlots) slots = new SlotIndex();
        int size = 16;
        while (size < capacity) size <<= 1;
        buckets = new int[size];
        entries = new Entry[size];
    }

    public int Count => used - freeCount;
    /// <summary>Entry slots handed out so far: live entries are at indices below this, among free ones.</summary>
    public int Used => used;
    public int BucketCount => buckets.Length;
    public ref Entry At(int index) => ref entries[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashOf(ReadOnlySpan<byte> key)
    {
        // FNV-1a over 8-byte words with a per-process seed, finished with a murmur-style mix.
        ulong h = 0xcbf29ce484222325UL ^ Seed;
        int i = 0;
        while (i + 8 <= key.Length)
        {
            h = (h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.AsRef(in key[i]))) * 0x100000001b3UL;
            i += 8;
        }
        for (; i < key.Length; i++) h = (h ^ key[i]) * 0x100000001b3UL;
        h ^= h >> 33; h *= 0xff51afd7ed558ccdUL; h ^= h >> 33;
        return (uint)h;
    }

    public int Find(ReadOnlySpan<byte> key)
    {
        uint hash = HashOf(key);
        int i = buckets[hash & (uint)(buckets.Length - 1)] - 1;
        var e = entries;
        while (i >= 0)
        {
            ref Entry entry = ref e[i];
            if (entry.Hash == hash && key.SequenceEqual(entry.Key)) return i;
            i = entry.Next - 1;
        }
        return -1;
    }

    /// <summary>
    /// Grows the table so that <paramref name="capacity"/> keys fit without rehashing or copying the entry
    /// array again (dictExpand on RESIZEDB: loading a snapshot knows its key count up front).
    /// </summary>
    public void EnsureCapacity(int capacity, int volatileCapacity = 0)
    {
        if (capacity > entries.Length) Array.Resize(ref entries, capacity);
        if (capacity > buckets.Length)
        {
            int size = buckets.Length;
            while (size < capacity) size <<= 1;
            Resize(size);
        }
        if (volatileCapacity > volatileList.Length) Array.Resize(ref volatileList, volatileCapacity);
    }

    /// <summary>
    /// Adds a key unless it is present (one hash, one chain walk): returns its new entry index, or -1 - the index
    /// of the entry that already holds it.
    /// </summary>
    public int TryAdd(byte[] key, object value) => TryAdd(key, value, HashOf(key));

    /// <summary><see cref="TryAdd(byte[], object)"/> with the key's <see cref="HashOf"/> already computed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int TryAdd(byte[] key, object value, uint hash)
    {
        int i = buckets[hash & (uint)(buckets.Length - 1)] - 1;
        var e = entries;
        while (i >= 0)
        {
            ref Entry entry = ref e[i];
            if (entry.Hash == hash && key.AsSpan().SequenceEqual(entry.Key)) return -1 - i;
            i = entry.Next - 1;
        }
        return Add(key, value, hash);
    }

    /// <summary>
    /// Starts fetching the bucket a key of this hash goes to, so that a later <see cref="TryAdd(byte[], object, uint)"/>
    /// does not wait for memory: loading a snapshot decodes the key's value meanwhile. Only a hint.
    /// </summary>
    public unsafe void Prefetch(uint hash)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref buckets[hash & (uint)(buckets.Length - 1)]));
    }

    /// <summary>Adds a key that is known to be absent; returns its entry index.</summary>
    public int Add(byte[] key, object value) => Add(key, value, HashOf(key));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int Add(byte[] key, object value, uint hash)
    {
        if (Count >= buckets.Length) Resize(buckets.Length * 2);
        int index;
        if (freeList >= 0)
        {
            index = freeList;
            freeList = entries[index].Next - 1;
            freeCount--;
        }
        else
        {
            if (used == entries.Length) Array.Resize(ref entries, entries.Length * 2);
            index = used++;
        }
        ref int bucket = ref buckets[hash & (uint)(buckets.Length - 1)];
        ref Entry entry = ref entries[index];
        entry.Key = key;
        entry.Value = value;
        entry.ExpireAt = 0;
        entry.Hash = hash;
        entry.Next = bucket;
        entry.VolatilePos = -1;
        entry.Access = 0;
        entry.SnapshotMark = Mark;
        bucket = index + 1;
        slots?.Link(index, key, entries.Length);
        return index;
    }

    public void RemoveAt(int index)
    {
        ref Entry entry = ref entries[index];
        slots?.Unlink(index, entry.Key);
        ref int link = ref buckets[entry.Hash & (uint)(buckets.Length - 1)];
        while (link - 1 != index) link = ref entries[link - 1].Next;
        link = entry.Next;
        if (entry.VolatilePos >= 0) RemoveVolatile(index);
        entry.Key = null;
        entry.Value = null;
        entry.ExpireAt = 0;
        entry.Next = freeList + 1;
        entry.Hash = 0;
        freeList = index;
        freeCount++;
    }

    public void SetExpire(int index, long when)
    {
        ref Entry entry = ref entries[index];
        if (when == 0)
        {
            if (entry.VolatilePos >= 0) RemoveVolatile(index);
        }
        else if (entry.VolatilePos < 0)
        {
            if (VolatileCount == volatileList.Length) Array.Resize(ref volatileList, VolatileCount * 2);
            entry.VolatilePos = VolatileCount;
            volatileList[VolatileCount++] = index;
        }
        entry.ExpireAt = when;
    }

    void RemoveVolatile(int index)
    {
        int pos = entries[index].VolatilePos;
        int last = volatileList[--VolatileCount];
        volatileList[pos] = last;
        entries[last].VolatilePos = pos;
        entries[index].VolatilePos = -1;
    }

    public int VolatileAt(int pos) => volatileList[pos];

    void Resize(int size)
    {
        var newBuckets = new int[size];
        uint mask = (uint)(size - 1);
        for (int i = 0; i < used; i++)
        {
            ref Entry e = ref entries[i];
            if (e.Key == null) continue;
            ref int bucket = ref newBuckets[e.Hash & mask];
            e.Next = bucket;
            bucket = i + 1;
        }
        buckets = newBuckets;
    }

    /// <summary>Random live entry index, or -1 when empty (random bucket, then random chain member).</summary>
    public int RandomEntry()
    {
        if (Count == 0) return -1;
        if (Count < buckets.Length / 16)
        {
            // Sparse table: pick among live entries directly.
            while (true)
            {
                int i = Random.Shared.Next(used);
                if (entries[i].Key != null) return i;
            }
        }
        while (true)
        {
            int b = buckets[Random.Shared.Next(buckets.Length)] - 1;
            if (b < 0) continue;
            int len = 0;
            for (int i = b; i >= 0; i = entries[i].Next - 1) len++;
            int pick = Random.Shared.Next(len);
            int j = b;
            while (pick-- > 0) j = entries[j].Next - 1;
            return j;
        }
    }

    /// <summary>
    /// One SCAN step: visits the chain of the bucket the cursor names and returns the next cursor,
    /// Redis's reverse-binary increment, which covers every key present for the whole scan even if the
    /// table grows in between.
    /// </summary>
    public ulong ScanStep(ulong cursor, Action<int> visit)
    {
        ulong mask = (ulong)(buckets.Length - 1);
        for (int i = buckets[(int)(cursor & mask)] - 1; i >= 0; i = entries[i].Next - 1) visit(i);
        return ScanCursor.Next(cursor, mask);
    }

    /// <summary>Live entry indexes, in storage order.</summary>
    public IEnumerable<int> Indexes()
    {
        for (int i = 0; i < used; i++)
            if (entries[i].Key != null) yield return i;
    }
}

