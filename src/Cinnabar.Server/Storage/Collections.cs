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

/// <summary>A set value: "intset" while every member is an integer and there are few, else "hashtable". Placeholder.</summary>
public sealed class SetValue : IRedisObject
{
    public readonly HashSet<byte[]> Members = new(ByteArrayComparer.Instance);
    public ValueType Type => ValueType.Set;
    public string EncodingName => IsIntset(512) ? "intset" : "hashtable";
    public long Cost => 64 + Members.Sum(m => 48L + m.Length);

    public bool IsIntset(int maxIntsetEntries)
    {
        if (Members.Count > maxIntsetEntries) return false;
        foreach (var m in Members)
            if (m.Length > 20 || !Protocol.Numbers.TryParseInt64(m, out _)) return false;
        return true;
    }

    public IRedisObject Clone()
    {
        var copy = new SetValue();
        foreach (var m in Members) copy.Members.Add(m.ToArray());
        return copy;
    }

    public void Digest(byte[] digest)
    {
        foreach (var m in Members) Storage.Digest.Xor(digest, m);
    }
}
