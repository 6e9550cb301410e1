using System.Security.Cryptography;

namespace Cinnabar.Server.Storage;

/// <summary>
/// What every value type other than strings provides to the generic commands (TYPE, OBJECT ENCODING,
/// COPY, DEBUG DIGEST, memory accounting). Strings stay plain byte[] to cost nothing extra (see Values).
/// </summary>
/// <summary>A collection whose members are removed by name (hashes, sets, sorted sets).</summary>
public interface IMemberCollection : IRedisObject
{
    int Count { get; }
    bool Remove(ReadOnlySpan<byte> member);
}

public interface IRedisObject
{
    ValueType Type { get; }

    /// <summary>OBJECT ENCODING. Redis converts encodings one way as a value grows (listpack to hashtable,
    /// intset to hashtable) and never back, so this is state the commands maintain, not derived.</summary>
    string EncodingName { get; }

    /// <summary>Approximate heap bytes, kept current by the type itself (used_memory and maxmemory).</summary>
    long Cost { get; }

    /// <summary>A deep copy sharing nothing with this value (COPY).</summary>
    IRedisObject Clone();

    /// <summary>The value's part of Redis's xorObjectDigest (the type and TTL parts are added by the caller).</summary>
    void Digest(byte[] digest);
}

/// <summary>DEBUG DIGEST primitives: SHA1-xor and SHA1-mix exactly as debug.c's xorDigest/mixDigest.</summary>
public static class Digest
{
    public static void Xor(byte[] digest, ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(data, hash);
        for (int j = 0; j < 20; j++) digest[j] ^= hash[j];
    }

    public static void Mix(byte[] digest, ReadOnlySpan<byte> data)
    {
        Xor(digest, data);
        SHA1.HashData(digest, digest);
    }
}
