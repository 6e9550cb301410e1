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

/// <summary>A list value (Redis 7.0 reports every list as "quicklist"). Placeholder until the list family lands.</summary>
public sealed class ListValue : IRedisObject
{
    public readonly List<byte[]> Items = new();
    public ValueType Type => ValueType.List;
    public string EncodingName => "quicklist";
    public long Cost => 40 + Items.Sum(i => 32L + i.Length);

    public IRedisObject Clone()
    {
        var copy = new ListValue();
        foreach (var i in Items) copy.Items.Add(i.ToArray());
        return copy;
    }

    public void Digest(byte[] digest)
    {
        foreach (var item in Items) Storage.Digest.Mix(digest, item);
    }
}
