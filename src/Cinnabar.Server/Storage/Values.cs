namespace Cinnabar.Server.Storage;

/// <summary>
/// A string that has been modified in place (APPEND, SETRANGE, SETBIT): Redis's "raw" encoding, with spare
/// capacity so repeated appends are amortised. Strings written whole (SET, INCR) are stored as a plain
/// byte[] and report "int" or "embstr"/"raw" from their content, as Redis's tryObjectEncoding would.
/// </summary>
public sealed class RawString
{
    public byte[] Buffer;
    public int Length;

    public RawString(ReadOnlySpan<byte> initial, int capacity)
    {
        Buffer = new byte[Math.Max(capacity, initial.Length)];
        initial.CopyTo(Buffer);
        Length = initial.Length;
    }

    public Span<byte> Span => Buffer.AsSpan(0, Length);

    /// <summary>Grows to <paramref name="newLength"/> (zero-filled), doubling capacity like sdsMakeRoomFor below 1MB.</summary>
    public void EnsureLength(int newLength)
    {
        if (newLength <= Length) return;
        if (newLength > Buffer.Length)
        {
            long cap = newLength < 1024 * 1024 ? (long)newLength * 2 : (long)newLength + 1024 * 1024;
            var bigger = new byte[(int)Math.Min(cap, Array.MaxLength)];
            Buffer.AsSpan(0, Length).CopyTo(bigger);
            Buffer = bigger;
        }
        else
        {
            Buffer.AsSpan(Length, newLength - Length).Clear();
        }
        Length = newLength;
    }
}

/// <summary>
/// A string Redis holds as a plain "embstr" object although it reads as an integer: INCRBYFLOAT's result
/// (createStringObject, never tryObjectEncoding), so OBJECT ENCODING reports "embstr" for "3" there.
/// </summary>
public sealed class EmbStr(byte[] bytes)
{
    public readonly byte[] Bytes = bytes;
}

public enum ValueType { None, String, List, Set, ZSet, Hash, Stream }

public static class Values
{
    public static bool IsString(object v) => v is byte[] || v is RawString || v is EmbStr;

    public static ReadOnlySpan<byte> StringBytes(object v) => v switch
    {
        byte[] b => b,
        EmbStr e => e.Bytes,
        _ => ((RawString)v).Span,
    };

    public static ValueType TypeOf(object v) => v switch
    {
        byte[] or RawString or EmbStr => ValueType.String,
        IRedisObject o => o.Type,
        _ => ValueType.None,
    };

    public static string TypeName(object v) => TypeOf(v) switch
    {
        ValueType.String => "string",
        ValueType.List => "list",
        ValueType.Set => "set",
        ValueType.ZSet => "zset",
        ValueType.Hash => "hash",
        ValueType.Stream => "stream",
        _ => "none",
    };

    public static string EncodingOf(object v)
    {
        if (v is RawString) return "raw";
        if (v is EmbStr e) return e.Bytes.Length <= 44 ? "embstr" : "raw";
        if (v is byte[] b)
        {
            if (b.Length <= 20 && Protocol.Numbers.TryParseInt64(b, out _)) return "int";
            return b.Length <= 44 ? "embstr" : "raw";
        }
        if (v is IRedisObject o) return o.EncodingName;
        return "unknown";
    }

    /// <summary>Approximate heap bytes held by a value, for used_memory and maxmemory.</summary>
    public static long Cost(object v) => v switch
    {
        byte[] b => 24 + ((b.Length + 7) & ~7),
        RawString r => 32 + 24 + ((r.Buffer.Length + 7) & ~7),
        EmbStr e => 24 + 24 + ((e.Bytes.Length + 7) & ~7),
        IRedisObject o => o.Cost,
        _ => 64,
    };

    /// <summary>A value copy that shares nothing with the original (COPY, MOVE keep values independent).</summary>
    public static object Clone(object v) => v switch
    {
        byte[] b => b.ToArray(),
        RawString r => new RawString(r.Span, r.Buffer.Length),
        EmbStr e => new EmbStr(e.Bytes.ToArray()),
        IRedisObject o => o.Clone(),
        _ => v,
    };
}
