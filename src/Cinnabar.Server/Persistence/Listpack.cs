using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// Listpack (listpack.c) encoding: builds the exact bytes Redis 7.0 holds for a sequence of elements, and
/// reads/validates blobs from RDB files and DUMP payloads. Elements that are canonical int64 decimals are
/// stored as integers in the smallest form, others as strings, as lpAppend does.
/// </summary>
public static class Listpack
{
    public const int HeaderSize = 6;
    public const byte Eof = 0xFF;
    public const int NumElementsUnknown = 65535;

    /// <summary>Bytes an element takes (encoding, data and back-length), for size accounting.</summary>
    public static int EntrySize(ReadOnlySpan<byte> s)
    {
        if (s.Length <= 20 && Numbers.TryParseInt64(s, out long v)) return IntEntrySize(v);
        long len = s.Length;
        long e = len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + len;
        return (int)Math.Min(int.MaxValue, e + BacklenSize(e));
    }

    public static int IntEntrySize(long v) =>
        (v >= 0 && v <= 127 ? 1 :
         v >= -4096 && v <= 4095 ? 2 :
         v >= short.MinValue && v <= short.MaxValue ? 3 :
         v >= -8388608 && v <= 8388607 ? 4 :
         v >= int.MinValue && v <= int.MaxValue ? 5 : 9) + 1;

    public static int BacklenSize(long l) => l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;

    /// <summary>Writes a listpack into a <see cref="ByteBuf"/>: Begin, Append..., End.</summary>
    public struct Writer
    {
        readonly ByteBuf buf;
        readonly int start;
        int count;

        public Writer(ByteBuf buf)
        {
            this.buf = buf;
            start = buf.Length;
            count = 0;
            buf.GetSpan(HeaderSize);
            buf.Advance(HeaderSize);
        }

        public int Count => count;

        public void AppendString(ReadOnlySpan<byte> s)
        {
            if (s.Length <= 20 && Numbers.TryParseInt64(s, out long v)) { AppendInt(v); return; }
            int len = s.Length;
            int encLen;
            if (len < 64)
            {
                var d = buf.GetSpan(1 + len + 1);
                d[0] = (byte)(0x80 | len);
                s.CopyTo(d[1..]);
                encLen = 1 + len;
            }
            else if (len < 4096)
            {
                var d = buf.GetSpan(2 + len + 2);
                d[0] = (byte)(0xE0 | (len >> 8));
                d[1] = (byte)len;
                s.CopyTo(d[2..]);
                encLen = 2 + len;
            }
            else
            {
                var d = buf.GetSpan(5 + len + 5);
                d[0] = 0xF0;
                BinaryPrimitives.WriteUInt32LittleEndian(d[1..], (uint)len);
                s.CopyTo(d[5..]);
                encLen = 5 + len;
            }
            buf.Advance(encLen);
            WriteBacklen(encLen);
            count++;
        }

        public void AppendInt(long v)
        {
            var d = buf.GetSpan(10);
            int n;
            if (v >= 0 && v <= 127) { d[0] = (byte)v; n = 1; }
            else if (v >= -4096 && v <= 4095)
            {
                int u = v < 0 ? (int)v + 8192 : (int)v;
                d[0] = (byte)(0xC0 | (u >> 8));
                d[1] = (byte)u;
                n = 2;
            }
            else if (v >= short.MinValue && v <= short.MaxValue) { d[0] = 0xF1; BinaryPrimitives.WriteInt16LittleEndian(d[1..], (short)v); n = 3; }
            else if (v >= -8388608 && v <= 8388607)
            {
                d[0] = 0xF2;
                d[1] = (byte)v; d[2] = (byte)(v >> 8); d[3] = (byte)(v >> 16);
                n = 4;
            }
            else if (v >= int.MinValue && v <= int.MaxValue) { d[0] = 0xF3; BinaryPrimitives.WriteInt32LittleEndian(d[1..], (int)v); n = 5; }
            else { d[0] = 0xF4; BinaryPrimitives.WriteInt64LittleEndian(d[1..], v); n = 9; }
            d[n] = (byte)n;     // back-length of at most 9 fits one byte
            buf.Advance(n + 1);
            count++;
        }

        void WriteBacklen(long l)
        {
            var d = buf.GetSpan(5);
            int n;
            if (l <= 127) { d[0] = (byte)l; n = 1; }
            else if (l < 16383) { d[0] = (byte)(l >> 7); d[1] = (byte)((l & 127) | 128); n = 2; }
            else if (l < 2097151) { d[0] = (byte)(l >> 14); d[1] = (byte)(((l >> 7) & 127) | 128); d[2] = (byte)((l & 127) | 128); n = 3; }
            else if (l < 268435455)
            {
                d[0] = (byte)(l >> 21); d[1] = (byte)(((l >> 14) & 127) | 128); d[2] = (byte)(((l >> 7) & 127) | 128); d[3] = (byte)((l & 127) | 128);
                n = 4;
            }
            else
            {
                d[0] = (byte)(l >> 28); d[1] = (byte)(((l >> 21) & 127) | 128); d[2] = (byte)(((l >> 14) & 127) | 128);
                d[3] = (byte)(((l >> 7) & 127) | 128); d[4] = (byte)((l & 127) | 128);
                n = 5;
            }
            buf.Advance(n);
        }

        /// <summary>Writes the terminator and the header; returns the listpack's size in bytes.</summary>
        public int End()
        {
            buf.WriteByte(Eof);
            int total = buf.Length - start;
            BinaryPrimitives.WriteUInt32LittleEndian(buf.Data.AsSpan(start), (uint)total);
            BinaryPrimitives.WriteUInt16LittleEndian(buf.Data.AsSpan(start + 4), (ushort)Math.Min(count, NumElementsUnknown));
            return total;
        }
    }

    /// <summary>
    /// Walks a listpack from the front, validating every entry as lpValidateIntegrity does in deep mode: the
    /// header size, each encoding inside bounds, each back-length consistent, the element count, the terminator.
    /// Construct it with <see cref="TryOpen"/>.
    /// </summary>
    public ref struct Reader
    {
        readonly ReadOnlySpan<byte> lp;
        int pos;
        public readonly int HeaderCount;
        public int Seen;

        Reader(ReadOnlySpan<byte> lp)
        {
            this.lp = lp;
            pos = HeaderSize;
            HeaderCount = BinaryPrimitives.ReadUInt16LittleEndian(lp[4..]);
            Seen = 0;
        }

        public static bool TryOpen(ReadOnlySpan<byte> lp, out Reader r)
        {
            r = default;
            if (lp.Length < HeaderSize + 1) return false;
            if (BinaryPrimitives.ReadUInt32LittleEndian(lp) != (uint)lp.Length) return false;
            if (lp[^1] != Eof) return false;
            r = new Reader(lp);
            return true;
        }

        public bool AtEnd => lp[pos] == Eof;

        /// <summary>
        /// Reads the next element: either an integer (isInt, value) or a string slice. False at the end or on
        /// corruption; check <see cref="Finish"/> afterwards to tell the two apart.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool Next(out bool isInt, out long value, out ReadOnlySpan<byte> str)
        {
            isInt = false; value = 0; str = default;
            if (pos >= lp.Length - 1) return false;     // only the terminator is left (or nothing)
            byte b = lp[pos];
            if (b == Eof) return false;
            int encLen;
            long avail = lp.Length - 1 - pos;   // bytes before the terminator
            if ((b & 0x80) == 0) { isInt = true; value = b; encLen = 1; }
            else if ((b & 0xC0) == 0x80)
            {
                int len = b & 0x3F;
                encLen = 1 + len;
                if (encLen > avail) return Fail();
                str = lp.Slice(pos + 1, len);
            }
            else if ((b & 0xE0) == 0xC0)
            {
                if (avail < 2) return Fail();
                int u = ((b & 0x1F) << 8) | lp[pos + 1];
                value = u >= 4096 ? u - 8192 : u;
                isInt = true;
                encLen = 2;
            }
            else if ((b & 0xF0) == 0xE0)
            {
                if (avail < 2) return Fail();
                int len = ((b & 0x0F) << 8) | lp[pos + 1];
                encLen = 2 + len;
                if (encLen > avail) return Fail();
                str = lp.Slice(pos + 2, len);
            }
            else
            {
                switch (b)
                {
                    case 0xF0:
                    {
                        if (avail < 5) return Fail();
                        uint len = BinaryPrimitives.ReadUInt32LittleEndian(lp[(pos + 1)..]);
                        if (len > avail - 5) return Fail();
                        encLen = 5 + (int)len;
                        str = lp.Slice(pos + 5, (int)len);
                        break;
                    }
                    case 0xF1:
                        if (avail < 3) return Fail();
                        value = BinaryPrimitives.ReadInt16LittleEndian(lp[(pos + 1)..]); isInt = true; encLen = 3; break;
                    case 0xF2:
                        if (avail < 4) return Fail();
                        value = (lp[pos + 1] | (lp[pos + 2] << 8) | ((sbyte)lp[pos + 3] << 16)); isInt = true; encLen = 4; break;
                    case 0xF3:
                        if (avail < 5) return Fail();
                        value = BinaryPrimitives.ReadInt32LittleEndian(lp[(pos + 1)..]); isInt = true; encLen = 5; break;
                    case 0xF4:
                        if (avail < 9) return Fail();
                        value = BinaryPrimitives.ReadInt64LittleEndian(lp[(pos + 1)..]); isInt = true; encLen = 9; break;
                    default:
                        return Fail();
                }
            }
            int bl = BacklenSize(encLen);
            if (encLen + (long)bl > avail) return Fail();
            // The back-length, read right to left, must give encLen back.
            int end = pos + encLen + bl - 1;
            long decoded = 0;
            int shift = 0;
            for (int k = 0; k < bl; k++)
            {
                byte c = lp[end - k];
                decoded |= (long)(c & 127) << shift;
                bool more = (c & 128) != 0;
                if (more != (k < bl - 1)) return Fail();
                shift += 7;
            }
            if (decoded != encLen) return Fail();
            pos += encLen + bl;
            Seen++;
            return true;
        }

        bool failed;
        bool Fail() { failed = true; return false; }

        /// <summary>After Next returned false: true when the listpack ended cleanly with the announced count.</summary>
        public bool Finish() => !failed && pos == lp.Length - 1 && lp[pos] == Eof
            && (HeaderCount == NumElementsUnknown || HeaderCount == Seen);

        /// <summary>The element as bytes: strings as they are, integers formatted into <paramref name="scratch"/> (20 bytes).</summary>
        public static ReadOnlySpan<byte> AsBytes(bool isInt, long value, ReadOnlySpan<byte> str, Span<byte> scratch)
        {
            if (!isInt) return str;
            int n = Numbers.Format(value, scratch);
            return scratch[..n];
        }
    }

    /// <summary>Decodes every element to a byte array; null when the blob is not a valid listpack.</summary>
    public static List<byte[]> Decode(ReadOnlySpan<byte> lp)
    {
        if (!Reader.TryOpen(lp, out var r)) return null;
        var list = new List<byte[]>(Math.Min(r.HeaderCount, 1024));
        Span<byte> scratch = stackalloc byte[24];
        while (r.Next(out bool isInt, out long v, out var s))
            list.Add(Reader.AsBytes(isInt, v, s, scratch).ToArray());
        return r.Finish() ? list : null;
    }
}

/// <summary>Intset (intset.c): u32 encoding (2, 4 or 8), u32 length, then the members ascending, little-endian.</summary>
public static class Intset
{
    public static int WidthFor(long v) => v < int.MinValue || v > int.MaxValue ? 8 : v < short.MinValue || v > short.MaxValue ? 4 : 2;

    public static void Write(ByteBuf buf, ReadOnlySpan<long> members, int width)
    {
        buf.WriteUInt32LE((uint)width);
        buf.WriteUInt32LE((uint)members.Length);
        var d = buf.GetSpan(members.Length * width);
        for (int i = 0; i < members.Length; i++)
        {
            long v = members[i];
            if (width == 2) BinaryPrimitives.WriteInt16LittleEndian(d[(i * 2)..], (short)v);
            else if (width == 4) BinaryPrimitives.WriteInt32LittleEndian(d[(i * 4)..], (int)v);
            else BinaryPrimitives.WriteInt64LittleEndian(d[(i * 8)..], v);
        }
        buf.Advance(members.Length * width);
    }

    /// <summary>intsetValidateIntegrity (deep): size matches, encoding valid, members strictly ascending.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> blob, out long[] members, out int width)
    {
        members = null;
        width = 0;
        if (blob.Length < 8) return false;
        uint enc = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (enc != 2 && enc != 4 && enc != 8) return false;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(blob[4..]);
        if ((ulong)count * enc + 8 != (ulong)blob.Length) return false;
        if (count == 0) return false;   // an empty intset is an empty key
        width = (int)enc;
        members = new long[count];
        var d = blob[8..];
        for (int i = 0; i < count; i++)
        {
            long v = enc == 2 ? BinaryPrimitives.ReadInt16LittleEndian(d[(i * 2)..])
                : enc == 4 ? BinaryPrimitives.ReadInt32LittleEndian(d[(i * 4)..])
                : BinaryPrimitives.ReadInt64LittleEndian(d[(i * 8)..]);
            if (i > 0 && v <= members[i - 1]) return false;
            members[i] = v;
        }
        return true;
    }
}

/// <summary>Ziplist (ziplist.c), the pre-7.0 container: read only, validated entry by entry.</summary>
public static class Ziplist
{
    /// <summary>Decodes every element; null when the blob is not a valid ziplist.</summary>
    public static List<byte[]> Decode(ReadOnlySpan<byte> zl)
    {
        if (zl.Length < 11) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(zl) != (uint)zl.Length) return null;
        uint tail = BinaryPrimitives.ReadUInt32LittleEndian(zl[4..]);
        int header = BinaryPrimitives.ReadUInt16LittleEndian(zl[8..]);
        if (zl[^1] != 0xFF) return null;
        var list = new List<byte[]>();
        int pos = 10, prevLen = 0, lastStart = 10;
        int end = zl.Length - 1;
        while (pos < end)
        {
            int start = pos;
            int prev;
            if (zl[pos] < 254) { prev = zl[pos]; pos++; }
            else if (zl[pos] == 254)
            {
                if (pos + 5 > end) return null;
                prev = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(zl[(pos + 1)..]));
                pos += 5;
            }
            else return null;
            if (prev != prevLen) return null;
            if (pos >= end) return null;
            byte b = zl[pos];
            byte[] item;
            switch (b >> 6)
            {
                case 0:
                {
                    int len = b & 0x3F;
                    if (pos + 1 + len > end) return null;
                    item = zl.Slice(pos + 1, len).ToArray();
                    pos += 1 + len;
                    break;
                }
                case 1:
                {
                    if (pos + 2 > end) return null;
                    int len = ((b & 0x3F) << 8) | zl[pos + 1];
                    if (pos + 2 + len > end) return null;
                    item = zl.Slice(pos + 2, len).ToArray();
                    pos += 2 + len;
                    break;
                }
                case 2:
                {
                    if (b != 0x80 || pos + 5 > end) return null;
                    uint len = BinaryPrimitives.ReadUInt32BigEndian(zl[(pos + 1)..]);
                    if (len > (uint)(end - pos - 5)) return null;
                    item = zl.Slice(pos + 5, (int)len).ToArray();
                    pos += 5 + (int)len;
                    break;
                }
                default:
                {
                    long v;
                    int n;
                    switch (b)
                    {
                        case 0xC0: n = 2; break;
                        case 0xD0: n = 4; break;
                        case 0xE0: n = 8; break;
                        case 0xF0: n = 3; break;
                        case 0xFE: n = 1; break;
                        default:
                            if (b >= 0xF1 && b <= 0xFD) { n = 0; break; }
                            return null;
                    }
                    if (pos + 1 + n > end) return null;
                    var d = zl[(pos + 1)..];
                    v = b switch
                    {
                        0xC0 => BinaryPrimitives.ReadInt16LittleEndian(d),
                        0xD0 => BinaryPrimitives.ReadInt32LittleEndian(d),
                        0xE0 => BinaryPrimitives.ReadInt64LittleEndian(d),
                        0xF0 => d[0] | (d[1] << 8) | ((sbyte)d[2] << 16),
                        0xFE => (sbyte)d[0],
                        _ => (b & 0x0F) - 1,
                    };
                    item = Numbers.ToBytes(v);
                    pos += 1 + n;
                    break;
                }
            }
            prevLen = pos - start;
            lastStart = start;
            list.Add(item);
        }
        if (pos != end) return null;
        if (list.Count > 0 && tail != (uint)lastStart) return null;
        if (list.Count == 0 && tail != 10) return null;
        if (header != 65535 && header != list.Count) return null;
        return list;
    }
}

/// <summary>Zipmap (zipmap.c), Redis 2.x small hashes: read only.</summary>
public static class Zipmap
{
    /// <summary>Decodes field, value, field, value ...; null when the blob is not a valid zipmap.</summary>
    public static List<byte[]> Decode(ReadOnlySpan<byte> zm)
    {
        if (zm.Length < 2 || zm[^1] != 0xFF) return null;
        var list = new List<byte[]>();
        int pos = 1, end = zm.Length - 1;
        while (pos < end)
        {
            // field
            if (!ReadLen(zm, ref pos, end, out int flen)) return null;
            if (pos + flen > end) return null;
            list.Add(zm.Slice(pos, flen).ToArray());
            pos += flen;
            // value: length, free byte, value, free space
            if (!ReadLen(zm, ref pos, end, out int vlen)) return null;
            if (pos >= end) return null;
            int free = zm[pos++];
            if (pos + vlen + free > end) return null;
            list.Add(zm.Slice(pos, vlen).ToArray());
            pos += vlen + free;
        }
        if (pos != end) return null;
        return list;
    }

    static bool ReadLen(ReadOnlySpan<byte> zm, ref int pos, int end, out int len)
    {
        len = 0;
        if (pos >= end) return false;
        byte b = zm[pos];
        if (b < 254) { len = b; pos++; return true; }
        if (b == 254)
        {
            if (pos + 5 > end) return false;
            uint l = BinaryPrimitives.ReadUInt32LittleEndian(zm[(pos + 1)..]);
            if (l > int.MaxValue) return false;
            len = (int)l;
            pos += 5;
            return true;
        }
        return false;
    }
}
