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
