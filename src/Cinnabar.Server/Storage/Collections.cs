namespace Cinnabar.Server.Storage;

/// <summary>Compares byte[] by content, for sets and hashes keyed by member bytes.</summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteArrayComparer Instance = new();
    public bool Equals(byte[] x, byte[] y) => x.AsSpan().SequenceEqual(y);
    public int GetHashCode(byte[] obj) => (int)KeyTable.HashOf(obj);
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
    public int GetHashCode(ReadOnlySpan<byte> alternate) => (int)KeyTable.HashOf(alternate);
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}

/// <summary>A list value (Redis 7.0 reports every list as "quicklist").</summary>
public sealed class ListValue
{
    public readonly List<byte[]> Items = new();
    public long Cost => 40 + Items.Sum(i => 32L + i.Length);
}

/// <summary>A set value: "intset" while every member is an integer and there are few, else "hashtable".</summary>
public sealed class SetValue
{
    public readonly HashSet<byte[]> Members = new(ByteArrayComparer.Instance);
    public long Cost => 64 + Members.Sum(m => 48L + m.Length);

    public bool IsIntset(int maxIntsetEntries)
    {
        if (Members.Count > maxIntsetEntries) return false;
        foreach (var m in Members)
            if (m.Length > 20 || !Protocol.Numbers.TryParseInt64(m, out _)) return false;
        return true;
    }
}
