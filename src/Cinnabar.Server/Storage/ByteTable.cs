namespace Cinnabar.Server.Storage;

/// <summary>
/// The "hashtable" encoding of sets and hashes: chained hashing of byte-string keys (with an optional
/// byte-string value each) over a power-of-two bucket array. Entries live densely in one struct array
/// (a removal moves the last entry into the hole), so a random member is one array index away (SPOP,
/// SRANDMEMBER, HRANDFIELD) and iteration is a plain loop. The bucket array grows at load factor 1 and
/// shrinks below 10% fill as Redis's dict does, and SCAN walks buckets with Redis's reverse-binary cursor,
/// which returns every element present for the whole scan even when the table is resized in between.
/// </summary>
public sealed class ByteTable
{
    public struct Entry
    {
        public byte[] Key;
        public byte[] Value;
        public uint Hash;
        public int Next;        // next entry in the bucket chain as index + 1, 0 = end
    }

    int[] buckets;              // entry index + 1; 0 = empty
    Entry[] entries;
    int count;

    /// <summary>Heap bytes of the key and value arrays held, kept current so <see cref="Cost"/> is O(1).</summary>
    public long PayloadBytes;

    const int MinBuckets = 4;

    public ByteTable(int capacity = 0)
    {
        int size = MinBuckets;
        while (size < capacity) size <<= 1;
        buckets = new int[size];
        entries = new Entry[Math.Max(capacity, MinBuckets)];
    }

    public int Count => count;
    public int BucketCount => buckets.Length;
    public ref Entry At(int index) => ref entries[index];

    public long Cost => 64 + buckets.Length * 4L + entries.Length * 24L + PayloadBytes;

    /// <summary>Heap bytes of one byte[] of the given length (object header, length word, padding).</summary>
    public static long ArrayCost(int length) => 24 + ((length + 7) & ~7);

    public int Find(ReadOnlySpan<byte> key) => Find(key, KeyTable.HashOf(key));

    public int Find(ReadOnlySpan<byte> key, uint hash)
    {
        var e = entries;
        int i = buckets[hash & (uint)(buckets.Length - 1)] - 1;
        while (i >= 0)
        {
            ref Entry entry = ref e[i];
            if (entry.Hash == hash && key.SequenceEqual(entry.Key)) return i;
            i = entry.Next - 1;
        }
        return -1;
    }

    /// <summary>Adds a key known to be absent, with its precomputed hash; returns its index.</summary>
    public int Insert(byte[] key, byte[] value, uint hash)
    {
        if (count == entries.Length) Array.Resize(ref entries, count * 2);
        if (count >= buckets.Length) Rehash(buckets.Length * 2);
        ref int bucket = ref buckets[hash & (uint)(buckets.Length - 1)];
        ref Entry entry = ref entries[count];
        entry.Key = key;
        entry.Value = value;
        entry.Hash = hash;
        entry.Next = bucket;
        bucket = count + 1;
        PayloadBytes += ArrayCost(key.Length) + (value == null ? 0 : ArrayCost(value.Length));
        return count++;
    }

    public int Insert(byte[] key, byte[] value) => Insert(key, value, KeyTable.HashOf(key));

    /// <summary>Replaces the value of an entry (copied in place when the length is unchanged).</summary>
    public void SetValue(int index, ReadOnlySpan<byte> value)
    {
        ref Entry e = ref entries[index];
        if (e.Value != null && e.Value.Length == value.Length)
        {
            value.CopyTo(e.Value);
            return;
        }
        PayloadBytes += ArrayCost(value.Length) - (e.Value == null ? 0 : ArrayCost(e.Value.Length));
        e.Value = value.ToArray();
    }

    public bool Remove(ReadOnlySpan<byte> key)
    {
        int i = Find(key);
        if (i < 0) return false;
        RemoveAt(i);
        return true;
    }

    /// <summary>Removes an entry; the last entry moves into its slot (indexes above it are not stable).</summary>
    public void RemoveAt(int index)
    {
        uint mask = (uint)(buckets.Length - 1);
        ref Entry entry = ref entries[index];
        PayloadBytes -= ArrayCost(entry.Key.Length) + (entry.Value == null ? 0 : ArrayCost(entry.Value.Length));
        ref int link = ref buckets[entry.Hash & mask];
        while (link - 1 != index) link = ref entries[link - 1].Next;
        link = entry.Next;
        int last = count - 1;
        if (index != last)
        {
            ref Entry moved = ref entries[last];
            ref int l2 = ref buckets[moved.Hash & mask];
            while (l2 - 1 != last) l2 = ref entries[l2 - 1].Next;
            l2 = index + 1;
            entries[index] = moved;
        }
        entries[last] = default;
        count = last;
        if (buckets.Length > MinBuckets && (long)count * 10 < buckets.Length)
        {
            int size = MinBuckets;
            while (size < count) size <<= 1;
            Rehash(size);
            if (entries.Length > 16 && count * 4 < entries.Length)
                Array.Resize(ref entries, Math.Max(16, count * 2));
        }
    }

    void Rehash(int size)
    {
        var nb = new int[size];
        uint mask = (uint)(size - 1);
        for (int i = 0; i < count; i++)
        {
            ref Entry e = ref entries[i];
            ref int bucket = ref nb[e.Hash & mask];
            e.Next = bucket;
            bucket = i + 1;
        }
        buckets = nb;
    }

    /// <summary>Grows the bucket array ahead of many inserts (dictExpand).</summary>
    public void Reserve(int n)
    {
        if (n > entries.Length) Array.Resize(ref entries, n);
        if (n > buckets.Length)
        {
            int size = buckets.Length;
            while (size < n) size <<= 1;
            Rehash(size);
        }
    }

    public int RandomIndex() => Random.Shared.Next(count);

    /// <summary>
    /// One SCAN step: adds the entries of the bucket the cursor names to <paramref name="found"/> and returns
    /// the next cursor (reverse-binary increment over the current bucket mask, 0 when the walk is complete).
    /// </summary>
    public ulong ScanStep(ulong cursor, List<int> found)
    {
        ulong mask = (ulong)(buckets.Length - 1);
        for (int i = buckets[(int)(cursor & mask)] - 1; i >= 0; i = entries[i].Next - 1) found.Add(i);
        return ScanCursor.Next(cursor, mask);
    }

    public ByteTable Clone()
    {
        var copy = new ByteTable(count);
        for (int i = 0; i < count; i++)
        {
            ref Entry e = ref entries[i];
            copy.Insert(e.Key.ToArray(), e.Value?.ToArray(), e.Hash);
        }
        return copy;
    }
}
