using System.Buffers;
using System.Buffers.Binary;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Persistence;

/// <summary>RDB version 10 constants (rdb.h of Redis 7.0).</summary>
public static class Rdb
{
    public const int Version = 10;

    // object types
    public const byte TypeString = 0, TypeList = 1, TypeSet = 2, TypeZSet = 3, TypeHash = 4, TypeZSet2 = 5,
        TypeModule = 6, TypeModule2 = 7, TypeHashZipmap = 9, TypeListZiplist = 10, TypeSetIntset = 11,
        TypeZSetZiplist = 12, TypeHashZiplist = 13, TypeListQuicklist = 14, TypeStreamListpacks = 15,
        TypeHashListpack = 16, TypeZSetListpack = 17, TypeListQuicklist2 = 18, TypeStreamListpacks2 = 19;

    // opcodes
    public const byte OpFunction2 = 245, OpFunction = 246, OpModuleAux = 247, OpIdle = 248, OpFreq = 249, OpAux = 250,
        OpResizeDb = 251, OpExpireTimeMs = 252, OpExpireTime = 253, OpSelectDb = 254, OpEof = 255;

    public const int QuicklistNodePlain = 1, QuicklistNodePacked = 2;

    public static bool IsObjectType(int t) => (t >= 0 && t <= 7) || (t >= 9 && t <= 19);

    // special string encodings (after a 11xxxxxx length byte)
    public const int EncInt8 = 0, EncInt16 = 1, EncInt32 = 2, EncLzf = 3;
}

/// <summary>The writing half of the RDB primitives: lengths, strings (integer, LZF or raw), times, doubles.</summary>
public static class RdbOut
{
    /// <summary>rdbSaveLen: the smallest of the 1, 2, 5 and 9 byte forms.</summary>
    public static void WriteLen(ByteBuf o, ulong len)
    {
        if (len < (1 << 6)) o.WriteByte((byte)len);
        else if (len < (1 << 14))
        {
            var d = o.GetSpan(2);
            d[0] = (byte)(((len >> 8) & 0xFF) | 0x40);
            d[1] = (byte)len;
            o.Advance(2);
        }
        else if (len <= uint.MaxValue)
        {
            var d = o.GetSpan(5);
            d[0] = 0x80;
            BinaryPrimitives.WriteUInt32BigEndian(d[1..], (uint)len);
            o.Advance(5);
        }
        else
        {
            var d = o.GetSpan(9);
            d[0] = 0x81;
            BinaryPrimitives.WriteUInt64BigEndian(d[1..], len);
            o.Advance(9);
        }
    }

    public static void WriteLen(ByteBuf o, long len) => WriteLen(o, (ulong)len);

    /// <summary>rdbEncodeInteger: the INT8/16/32 forms for values in 32 bits; false otherwise.</summary>
    static bool TryWriteEncodedInt(ByteBuf o, long v)
    {
        var d = o.GetSpan(5);
        if (v >= sbyte.MinValue && v <= sbyte.MaxValue) { d[0] = 0xC0 | Rdb.EncInt8; d[1] = (byte)v; o.Advance(2); return true; }
        if (v >= short.MinValue && v <= short.MaxValue) { d[0] = 0xC0 | Rdb.EncInt16; BinaryPrimitives.WriteInt16LittleEndian(d[1..], (short)v); o.Advance(3); return true; }
        if (v >= int.MinValue && v <= int.MaxValue) { d[0] = 0xC0 | Rdb.EncInt32; BinaryPrimitives.WriteInt32LittleEndian(d[1..], (int)v); o.Advance(5); return true; }
        return false;
    }

    /// <summary>
    /// rdbSaveRawString: strings of at most 11 bytes that are canonical integers in 32 bits become INT8/16/32,
    /// strings over 20 bytes are LZF-compressed when <paramref name="compress"/> and it saves at least 4 bytes,
    /// the rest is written raw.
    /// </summary>
    public static void WriteString(ByteBuf o, ReadOnlySpan<byte> s, bool compress)
    {
        if (s.Length <= 11 && s.Length > 0 && Numbers.TryParseInt64(s, out long v) && TryWriteEncodedInt(o, v)) return;
        if (compress && s.Length > 20 && TryWriteLzf(o, s)) return;
        WriteLen(o, (ulong)s.Length);
        o.Write(s);
    }

    /// <summary>rdbSaveLongLongAsStringObject: an integer, encoded when it fits 32 bits, else as decimal text.</summary>
    public static void WriteIntString(ByteBuf o, long v)
    {
        if (TryWriteEncodedInt(o, v)) return;
        Span<byte> tmp = stackalloc byte[24];
        int n = Numbers.Format(v, tmp);
        WriteLen(o, (ulong)n);
        o.Write(tmp[..n]);
    }

    /// <summary>rdbSaveLzfStringObject: compress into at most len - 4 bytes, or give up.</summary>
    static bool TryWriteLzf(ByteBuf o, ReadOnlySpan<byte> s)
    {
        int outLen = s.Length - 4;
        byte[] tmp = ArrayPool<byte>.Shared.Rent(outLen + 1);
        try
        {
            int n = Lzf.Compress(s, tmp, outLen);
            if (n == 0) return false;
            o.WriteByte(0xC0 | Rdb.EncLzf);
            WriteLen(o, (ulong)n);
            WriteLen(o, (ulong)s.Length);
            o.Write(tmp.AsSpan(0, n));
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tmp);
        }
    }

    public static void WriteMillis(ByteBuf o, long ms) => o.WriteInt64LE(ms);

    public static void WriteBinaryDouble(ByteBuf o, double d) => o.WriteInt64LE(BitConverter.DoubleToInt64Bits(d));

    /// <summary>A 128-bit stream ID as Redis keys its radix trees: ms then seq, both big-endian.</summary>
    public static void WriteStreamId(ByteBuf o, Storage.StreamId id)
    {
        o.WriteUInt64BE(id.Ms);
        o.WriteUInt64BE(id.Seq);
    }

    /// <summary>d2string as Redis 7.0 formats a zset score for a listpack: integers in ±2^62 as integers, else %.17g.</summary>
    public static int FormatScore(double v, Span<byte> dst)
    {
        if (v == 0) { dst[0] = (byte)'0'; return 1; }
        if (!double.IsInfinity(v) && v >= -4611686018427387904.0 && v <= 4611686018427387904.0 && Math.Floor(v) == v)
            return Numbers.Format((long)v, dst);
        return Double17g.Format(v, dst);
    }
}

/// <summary>A corrupt or unsupported RDB / DUMP payload; the message is what the loader logs.</summary>
public sealed class RdbException(string message) : Exception(message)
{
}
