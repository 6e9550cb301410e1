using System.Runtime.CompilerServices;

namespace Cinnabar.Server.Storage;

/// <summary>
/// A hash value with Redis 7.0's two encodings: "listpack" (field/value pairs in one flat array in
/// insertion order, searched linearly, while there are at most hash-max-listpack-entries pairs and no
/// field or value is longer than hash-max-listpack-value) and "hashtable" (<see cref="ByteTable"/>).
/// The conversion goes one way. Pairs are addressed by index 0..Count-1.
/// </summary>
public sealed class HashValue : IMemberCollection
{
    byte[][] lp = new byte[8][];    // listpack: field, value, field, value ...; null once converted
    int lpCount;                    // pairs
    long lpPayload;
    ByteTable table;

    public ValueType Type => ValueType.Hash;
    public bool IsListpack => table == null;
    public string EncodingName => table == null ? "listpack" : "hashtable";
    public int Count => table == null ? lpCount : table.Count;

    public long Cost => table == null ? 40 + lp.Length * 8L + lpPayload : 32 + table.Cost;

    int LpFind(ReadOnlySpan<byte> field)
    {
        var a = lp;
        for (int i = 0, n = lpCount * 2; i < n; i += 2)
        {
            var f = a[i];
            if (f.Length == field.Length && field.SequenceEqual(f)) return i >> 1;
        }
        return -1;
    }

    /// <summary>The index of a field, or -1.</summary>
    public int IndexOf(ReadOnlySpan<byte> field) => table == null ? LpFind(field) : table.Find(field);

    public byte[] FieldAt(int index) => table == null ? lp[index * 2] : table.At(index).Key;
    public byte[] ValueAt(int index) => table == null ? lp[index * 2 + 1] : table.At(index).Value;

    public bool TryGetValue(ReadOnlySpan<byte> field, out byte[] value)
    {
        int i = IndexOf(field);
        value = i >= 0 ? ValueAt(i) : null;
        return i >= 0;
    }

    /// <summary>
    /// hashTypeSet: inserts or overwrites a field; true when the field is new. A listpack turns into a hash
    /// table first when the field or value is too long, and after an insert that makes it too big.
    /// </summary>
    public bool Set(ReadOnlySpan<byte> field, ReadOnlySpan<byte> value, long maxEntries, long maxValue)
    {
        if (table == null)
        {
            if (field.Length > maxValue || value.Length > maxValue) ConvertToTable();
            else
            {
                int i = LpFind(field);
                if (i >= 0)
                {
                    ref byte[] slot = ref lp[i * 2 + 1];
                    if (slot.Length == value.Length) value.CopyTo(slot);
                    else
                    {
                        lpPayload += ByteTable.ArrayCost(value.Length) - ByteTable.ArrayCost(slot.Length);
                        slot = value.ToArray();
                    }
                    // Redis checks the length after updates too (the limit may have been lowered since).
                    if (lpCount > maxEntries) ConvertToTable();
                    return false;
                }
                if (lpCount * 2 == lp.Length) Array.Resize(ref lp, lp.Length * 2);
                lp[lpCount * 2] = field.ToArray();
                lp[lpCount * 2 + 1] = value.ToArray();
                lpCount++;
                lpPayload += ByteTable.ArrayCost(field.Length) + ByteTable.ArrayCost(value.Length);
                if (lpCount > maxEntries) ConvertToTable();
                return true;
            }
        }
        uint h = KeyTable.HashOf(field);
        int j = table.Find(field, h);
        if (j >= 0)
        {
            table.SetValue(j, value);
            return false;
        }
        table.Insert(field.ToArray(), value.ToArray(), h);
        return true;
    }

    public bool Remove(ReadOnlySpan<byte> field)
    {
        if (table != null) return table.Remove(field);
        int i = LpFind(field);
        if (i < 0) return false;
        lpPayload -= ByteTable.ArrayCost(lp[i * 2].Length) + ByteTable.ArrayCost(lp[i * 2 + 1].Length);
        int n = lpCount * 2;
        Array.Copy(lp, i * 2 + 2, lp, i * 2, n - i * 2 - 2);
        lp[n - 2] = null;
        lp[n - 1] = null;
        lpCount--;
        return true;
    }

    void ConvertToTable()
    {
        var t = new ByteTable(lpCount);
        for (int i = 0; i < lpCount; i++) t.Insert(lp[i * 2], lp[i * 2 + 1]);
        table = t;
        lp = null;
        lpCount = 0;
        lpPayload = 0;
    }

    /// <summary>A hash as loaded: field, value, field, value ... (distinct fields), in the given encoding.</summary>
    public static HashValue FromPairs(List<byte[]> items, bool listpack) =>
        FromPairs(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(items), listpack);

    /// <summary>A hash as loaded: field, value, field, value ... (distinct fields; the arrays are adopted).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static HashValue FromPairs(ReadOnlySpan<byte[]> items, bool listpack)
    {
        var h = new HashValue();
        int pairs = items.Length / 2;
        if (listpack)
        {
            h.lp = new byte[Math.Max(8, items.Length)][];
            for (int i = 0; i < items.Length; i++)
            {
                h.lp[i] = items[i];
                h.lpPayload += ByteTable.ArrayCost(items[i].Length);
            }
            h.lpCount = pairs;
            return h;
        }
        h.lp = null;
        h.table = new ByteTable(pairs);
        for (int i = 0; i < pairs; i++) h.table.Insert(items[2 * i], items[2 * i + 1]);
        return h;
    }

    public int RandomIndex() => Random.Shared.Next(Count);

    /// <summary>The hash table behind the "hashtable" encoding (null for a listpack), for HSCAN.</summary>
    public ByteTable Table => table;

    public IRedisObject Clone()
    {
        var copy = new HashValue();
        if (table != null)
        {
            copy.lp = null;
            copy.table = table.Clone();
            return copy;
        }
        copy.lp = new byte[Math.Max(lp.Length, 8)][];
        for (int i = 0; i < lpCount * 2; i++) copy.lp[i] = lp[i].ToArray();
        copy.lpCount = lpCount;
        copy.lpPayload = lpPayload;
        return copy;
    }

    /// <summary>xorObjectDigest for hashes: per pair, mix(field) then mix(value) into a zeroed digest, then xorDigest that (its SHA1) in.</summary>
    public void Digest(byte[] digest)
    {
        var ele = new byte[20];
        for (int i = 0; i < Count; i++)
        {
            Array.Clear(ele);
            Storage.Digest.Mix(ele, FieldAt(i));
            Storage.Digest.Mix(ele, ValueAt(i));
            Storage.Digest.Xor(digest, ele);
        }
    }
}
