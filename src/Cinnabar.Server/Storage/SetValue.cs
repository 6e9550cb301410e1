using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Storage;

/// <summary>
/// A set value with Redis 7.0's two encodings: "intset" (a sorted array of 64-bit integers, used while
/// every member is a canonical integer and there are at most set-max-intset-entries of them) and
/// "hashtable" (<see cref="ByteTable"/>). The conversion goes one way, as in Redis.
/// Members are addressed by index 0..Count-1 for iteration and random picks.
/// </summary>
public sealed class SetValue : IMemberCollection
{
    long[] ints;        // intset: ascending, first intCount used; null once converted
    int intCount;
    int intWidth = 2;   // the intset's encoding (2, 4 or 8 bytes): grows with members, never shrinks, as intset.c
    ByteTable table;    // hashtable encoding

    SetValue() { }

    public static SetValue NewIntset(int capacity = 4) => new() { ints = new long[Math.Max(capacity, 4)] };
    public static SetValue NewTable(int capacity = 0) => new() { table = new ByteTable(capacity) };

    /// <summary>An intset as loaded: ascending distinct members and the blob's encoding width.</summary>
    public static SetValue FromIntset(long[] members, int width) =>
        new() { ints = members.Length < 4 ? members.Concat(new long[4 - members.Length]).ToArray() : members, intCount = members.Length, intWidth = width };

    /// <summary>The intset's encoding width in bytes (2, 4 or 8).</summary>
    public int IntsetWidth => intWidth;

    /// <summary>The intset's members, ascending.</summary>
    public ReadOnlySpan<long> IntsetMembers => ints.AsSpan(0, intCount);

    /// <summary>setTypeCreate: an intset when the first member reads as an integer, else a hash table.</summary>
    public static SetValue CreateFor(ReadOnlySpan<byte> first) =>
        Numbers.TryParseInt64(first, out _) ? NewIntset() : NewTable();

    public ValueType Type => ValueType.Set;
    public bool IsIntset => table == null;
    public string EncodingName => table == null ? "intset" : "hashtable";
    public int Count => table == null ? intCount : table.Count;
    public ByteTable Table => table;

    public long Cost => table == null ? 48 + ints.Length * 8L : 32 + table.Cost;

    // ---- membership ----

    public bool Contains(ReadOnlySpan<byte> member)
    {
        if (table != null) return table.Find(member) >= 0;
        return Numbers.TryParseInt64(member, out long v) && Array.BinarySearch(ints, 0, intCount, v) >= 0;
    }

    public bool ContainsInt(long v)
    {
        if (table == null) return Array.BinarySearch(ints, 0, intCount, v) >= 0;
        Span<byte> tmp = stackalloc byte[20];
        int n = Numbers.Format(v, tmp);
        return table.Find(tmp[..n]) >= 0;
    }

    // ---- updates ----

    /// <summary>setTypeAdd: true when the member was new. Converts to a hash table when needed.</summary>
    public bool Add(ReadOnlySpan<byte> member, long maxIntsetEntries)
    {
        if (table == null)
        {
            if (Numbers.TryParseInt64(member, out long v)) return AddInt(v, maxIntsetEntries);
            ConvertToTable(intCount + 1);
            table.Insert(member.ToArray(), null);
            return true;
        }
        uint h = KeyTable.HashOf(member);
        if (table.Find(member, h) >= 0) return false;
        table.Insert(member.ToArray(), null, h);
        return true;
    }

    /// <summary>Adds a member already known as its byte array (kept, not copied, when new to a hash table).</summary>
    public bool AddOwned(byte[] member, long maxIntsetEntries)
    {
        if (table == null) return Add(member, maxIntsetEntries);
        uint h = KeyTable.HashOf(member);
        if (table.Find(member, h) >= 0) return false;
        table.Insert(member, null, h);
        return true;
    }

    public bool AddInt(long v, long maxIntsetEntries)
    {
        if (table != null)
        {
            Span<byte> tmp = stackalloc byte[20];
            int n = Numbers.Format(v, tmp);
            return Add(tmp[..n], maxIntsetEntries);
        }
        int pos = Array.BinarySearch(ints, 0, intCount, v);
        if (pos >= 0) return false;
        pos = ~pos;
        if (intCount == ints.Length) Array.Resize(ref ints, ints.Length * 2);
        if (pos < intCount) Array.Copy(ints, pos, ints, pos + 1, intCount - pos);
        ints[pos] = v;
        intCount++;
        if (v < short.MinValue || v > short.MaxValue) intWidth = Math.Max(intWidth, v < int.MinValue || v > int.MaxValue ? 8 : 4);
        if (intCount > maxIntsetEntries) ConvertToTable(intCount);
        return true;
    }

    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (table != null) return table.Remove(member);
        if (!Numbers.TryParseInt64(member, out long v)) return false;
        int pos = Array.BinarySearch(ints, 0, intCount, v);
        if (pos < 0) return false;
        RemoveAt(pos);
        return true;
    }

    /// <summary>Removes the member at an index. For a hash table the last member moves into the slot.</summary>
    public void RemoveAt(int index)
    {
        if (table != null) { table.RemoveAt(index); return; }
        intCount--;
        if (index < intCount) Array.Copy(ints, index + 1, ints, index, intCount - index);
        if (ints.Length > 64 && intCount * 4 < ints.Length) Array.Resize(ref ints, ints.Length / 2);
    }

    /// <summary>A loaded intset over set-max-intset-entries becomes a hash table, as rdbLoadObject converts it.</summary>
    public void ConvertIfOver(long maxIntsetEntries)
    {
        if (table == null && intCount > maxIntsetEntries) ConvertToTable(intCount);
    }

    void ConvertToTable(int capacity)
    {
        var t = new ByteTable(capacity);
        for (int i = 0; i < intCount; i++) t.Insert(Numbers.ToBytes(ints[i]), null);
        table = t;
        ints = null;
        intCount = 0;
    }

    // ---- access by index ----

    public int RandomIndex() => Random.Shared.Next(Count);

    public long IntAt(int index) => ints[index];

    /// <summary>The member at an index as bytes; intset members are formatted into <paramref name="scratch"/> (20 bytes).</summary>
    public ReadOnlySpan<byte> MemberAt(int index, Span<byte> scratch)
    {
        if (table != null) return table.At(index).Key;
        int n = Numbers.Format(ints[index], scratch);
        return scratch[..n];
    }

    /// <summary>The member at an index as a fresh array.</summary>
    public byte[] MemberBytes(int index) => table != null ? table.At(index).Key : Numbers.ToBytes(ints[index]);

    // ---- IRedisObject ----

    public IRedisObject Clone()
    {
        if (table != null) return new SetValue { table = table.Clone() };
        var copy = new SetValue { ints = new long[Math.Max(intCount, 4)], intCount = intCount, intWidth = intWidth };
        Array.Copy(ints, copy.ints, intCount);
        return copy;
    }

    public void Digest(byte[] digest)
    {
        Span<byte> tmp = stackalloc byte[20];
        for (int i = 0; i < Count; i++) Storage.Digest.Xor(digest, MemberAt(i, tmp));
    }
}
