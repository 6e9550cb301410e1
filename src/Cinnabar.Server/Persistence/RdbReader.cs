using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// The reading half of the RDB primitives over a file (buffered) or a byte array (DUMP payloads), with the
/// running CRC64 of everything consumed. Every read is bounds-checked: bad bytes raise <see cref="RdbException"/>.
/// </summary>
public sealed class RdbReader
{
    readonly Stream stream;
    byte[] buf;
    int pos, end;
    int crcFrom;
    ulong crc;
    long consumedBefore;    // bytes dropped from buf before its start
    public bool TrackCrc = true;

    /// <summary>Called after each read from the stream (about every megabyte): loading serves clients there.</summary>
    public Action Refilled;

    public RdbReader(Stream stream, int bufferSize = 1 << 20)
    {
        this.stream = stream;
        buf = new byte[bufferSize];
    }

    public RdbReader(byte[] data, int offset, int length)
    {
        buf = data;
        pos = offset;
        crcFrom = offset;
        end = offset + length;
        consumedBefore = -offset;
    }

    /// <summary>Bytes consumed so far (the offset Redis reports in corruption messages).</summary>
    public long Offset => consumedBefore + pos;

    public long Remaining => stream == null ? end - pos : long.MaxValue;

    /// <summary>CRC64 of everything consumed so far.</summary>
    public ulong Crc
    {
        get
        {
            SyncCrc();
            return crc;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void SyncCrc()
    {
        if (TrackCrc && pos > crcFrom) crc = Crc64.Update(crc, buf.AsSpan(crcFrom, pos - crcFrom));
        crcFrom = pos;
    }

    /// <summary>Makes at least <paramref name="n"/> bytes available at pos (n &lt;= buffer size), false at end of input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool Fill(int n)
    {
        if (end - pos >= n) return true;
        if (stream == null) return false;
        SyncCrc();
        // slide the unread bytes to the front, growing the buffer when one read needs more than it holds
        int unread = end - pos;
        if (n > buf.Length)
        {
            var bigger = new byte[n];
            Buffer.BlockCopy(buf, pos, bigger, 0, unread);
            buf = bigger;
        }
        else if (pos > 0) Buffer.BlockCopy(buf, pos, buf, 0, unread);
        consumedBefore += pos;
        pos = 0;
        crcFrom = 0;
        end = unread;
        while (end < n)
        {
            int r = stream.Read(buf, end, buf.Length - end);
            if (r <= 0) return false;
            end += r;
        }
        Refilled?.Invoke();
        return true;
    }

    static RdbException Short() => new("Unexpected EOF reading RDB file");

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte ReadByte()
    {
        if (pos >= end && !Fill(1)) throw Short();
        return buf[pos++];
    }

    /// <summary>A view of the next n bytes (valid until the next read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ReadOnlySpan<byte> ReadSpan(int n)
    {
        if (n < 0) throw Short();
        if (end - pos < n && !Fill(n)) throw Short();
        var s = buf.AsSpan(pos, n);
        pos += n;
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[] ReadBytes(long n)
    {
        if (n < 0 || n > Array.MaxLength) throw new RdbException("Invalid string length");
        if (n <= end - pos)
        {
            var bytes = new byte[n];
            Buffer.BlockCopy(buf, pos, bytes, 0, (int)n);
            pos += (int)n;
            return bytes;
        }
        if (stream == null) throw Short();
        var result = new byte[n];
        long done = 0;
        while (done < n)
        {
            int chunk = (int)Math.Min(n - done, 1 << 20);
            ReadSpan(chunk).CopyTo(result.AsSpan((int)done));
            done += chunk;
        }
        return result;
    }

    /// <summary>rdbLoadLenByRef: a length, or (encoded) the special string encoding number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong ReadLen(out bool encoded)
    {
        encoded = false;
        byte b = ReadByte();
        int type = (b & 0xC0) >> 6;
        if (type == 3)
        {
            encoded = true;
            return (ulong)(b & 0x3F);
        }
        if (type == 0) return (ulong)(b & 0x3F);
        if (type == 1) return ((ulong)(b & 0x3F) << 8) | ReadByte();
        if (b == 0x80) return BinaryPrimitives.ReadUInt32BigEndian(ReadSpan(4));
        if (b == 0x81) return BinaryPrimitives.ReadUInt64BigEndian(ReadSpan(8));
        throw new RdbException($"Unknown length encoding {b} in rdbLoadLen()");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong ReadLen()
    {
        ulong v = ReadLen(out bool encoded);
        if (encoded) throw new RdbException("Unexpected encoded length");
        return v;
    }

    /// <summary>A length that must fit an int (element counts, sizes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int ReadCount()
    {
        ulong v = ReadLen();
        if (v > int.MaxValue) throw new RdbException("Length too large");
        return (int)v;
    }

    /// <summary>rdbGenericLoadStringObject: raw, INT8/16/32 (as decimal text) or LZF.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[] ReadString()
    {
        ulong len = ReadLen(out bool encoded);
        if (encoded)
        {
            switch ((int)len)
            {
                case Rdb.EncInt8: return Numbers.ToBytes((sbyte)ReadByte());
                case Rdb.EncInt16: return Numbers.ToBytes(BinaryPrimitives.ReadInt16LittleEndian(ReadSpan(2)));
                case Rdb.EncInt32: return Numbers.ToBytes(BinaryPrimitives.ReadInt32LittleEndian(ReadSpan(4)));
                case Rdb.EncLzf:
                {
                    ulong clen = ReadLen(), olen = ReadLen();
                    if (olen == 0 || clen > int.MaxValue || olen > (ulong)Array.MaxLength) throw new RdbException("Invalid LZF compressed string");
                    var compressed = ReadSpanOrCopy((int)clen);
                    var result = new byte[olen];
                    if (!Lzf.Decompress(compressed, result)) throw new RdbException("Invalid LZF compressed string");
                    return result;
                }
                default: throw new RdbException($"Unknown RDB string encoding type {len}");
            }
        }
        return ReadBytes((long)Math.Min(len, (ulong)long.MaxValue));
    }

    byte[] scratch = new byte[64];
    RdbValueLoader.Scratch decodeScratch;

    /// <summary>Buffers the value decoders reuse from one key to the next.</summary>
    internal RdbValueLoader.Scratch DecodeScratch => decodeScratch ??= new();

    /// <summary>
    /// <see cref="ReadString"/> without allocating: a view of the string's bytes, valid until the next read. Raw
    /// strings are viewed in the read buffer, LZF strings are decompressed and integers formatted into a scratch
    /// buffer the reader keeps. Strings over 16 MB are read into a fresh array as ReadString does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ReadOnlySpan<byte> ReadStringSpan()
    {
        ulong len = ReadLen(out bool encoded);
        if (encoded)
        {
            switch ((int)len)
            {
                case Rdb.EncInt8: return FormatScratch((sbyte)ReadByte());
                case Rdb.EncInt16: return FormatScratch(BinaryPrimitives.ReadInt16LittleEndian(ReadSpan(2)));
                case Rdb.EncInt32: return FormatScratch(BinaryPrimitives.ReadInt32LittleEndian(ReadSpan(4)));
                case Rdb.EncLzf:
                {
                    ulong clen = ReadLen(), olen = ReadLen();
                    if (olen == 0 || clen > int.MaxValue || olen > (ulong)Array.MaxLength) throw new RdbException("Invalid LZF compressed string");
                    var compressed = ReadSpanOrCopy((int)clen);
                    Span<byte> result;
                    if (olen <= 1 << 24)
                    {
                        if ((int)olen > scratch.Length) scratch = new byte[Math.Max((int)olen, scratch.Length * 2)];
                        result = scratch.AsSpan(0, (int)olen);
                    }
                    else result = new byte[olen];
                    if (!Lzf.Decompress(compressed, result)) throw new RdbException("Invalid LZF compressed string");
                    return result;
                }
                default: throw new RdbException($"Unknown RDB string encoding type {len}");
            }
        }
        if (len <= 1 << 24) return ReadSpanOrCopy((int)len);
        return ReadBytes((long)Math.Min(len, (ulong)long.MaxValue));
    }

    ReadOnlySpan<byte> FormatScratch(long v)
    {
        int n = Numbers.Format(v, scratch);
        return scratch.AsSpan(0, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    ReadOnlySpan<byte> ReadSpanOrCopy(int n)
    {
        if (stream == null && n > end - pos) throw Short();
        if (n <= (1 << 24)) return ReadSpan(n);
        return ReadBytes(n);
    }

    public long ReadMillis() => BinaryPrimitives.ReadInt64LittleEndian(ReadSpan(8));

    public int ReadSeconds() => BinaryPrimitives.ReadInt32LittleEndian(ReadSpan(4));

    public double ReadBinaryDouble() => BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(ReadSpan(8)));

    /// <summary>rdbLoadDoubleValue: the legacy text form (length byte; 253 nan, 254 +inf, 255 -inf).</summary>
    public double ReadStringDouble()
    {
        byte len = ReadByte();
        switch (len)
        {
            case 255: return double.NegativeInfinity;
            case 254: return double.PositiveInfinity;
            case 253: return double.NaN;
        }
        var text = ReadSpan(len);
        if (!double.TryParse(Encoding.ASCII.GetString(text), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d))
            throw new RdbException("Invalid double value");
        return d;
    }

    public Storage.StreamId ReadStreamId()
    {
        var s = ReadSpan(16);
        return new Storage.StreamId(BinaryPrimitives.ReadUInt64BigEndian(s), BinaryPrimitives.ReadUInt64BigEndian(s[8..]));
    }

    /// <summary>True when every byte of a byte-array source was consumed.</summary>
    public bool AtEnd => stream == null ? pos == end : !Fill(1);
}
