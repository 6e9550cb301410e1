using Cinnabar.Server.Config;
using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>bitops.c: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.</summary>
/// <remarks>
/// Bit 0 is the most significant bit of the first byte, as in Redis. Writes turn the value into a
/// <see cref="RawString"/> (Redis's "raw" encoding after dbUnshareStringValue) and zero-pad it so the
/// highest addressed bit exists. Behaviour follows redis-server 7.0.15, including its argument-check
/// order (BITCOUNT/BITPOS look the key up before parsing the range) and its dirty accounting (SETBIT and
/// BITFIELD only count a change when the string grew or the stored bits differ).
/// </remarks>
public static partial class BitmapCommands
{
    const string BitOffsetError = "ERR bit offset is not an integer or out of range";
    const string BitValueError = "ERR bit is not an integer or out of range";

    public static void Register(CommandTable t)
    {
        t.Register("setbit", SetBit);
        t.Register("getbit", GetBit);
        t.Register("bitcount", BitCount);
        t.Register("bitpos", BitPos);
        t.Register("bitop", BitOp);
        t.Register("bitfield", BitField);
        t.Register("bitfield_ro", BitFieldRo);
    }

    // ---- shared helpers ----

    /// <summary>
    /// getBitOffsetFromArgument: a non-negative bit offset whose byte lies below proto-max-bulk-len.
    /// With <paramref name="hash"/> (BITFIELD) a leading '#' multiplies the offset by the field width.
    /// </summary>
    static bool TryBitOffset(Client c, int arg, bool hash, int bits, out long offset)
    {
        var s = c.Arg(arg);
        bool useHash = hash && bits > 0 && s.Length > 0 && s[0] == '#';
        if (!Numbers.TryParseInt64(useHash ? s[1..] : s, out offset))
        {
            c.Error(BitOffsetError);
            return false;
        }
        if (useHash) offset = unchecked(offset * bits);
        if (offset < 0 || (offset >> 3) >= c.Server.Settings.ProtoMaxBulkLen)
        {
            c.Error(BitOffsetError);
            return false;
        }
        return true;
    }

    /// <summary>
    /// lookupStringForBitCommand: finds (or creates) the string at argument 1 for writing, unshares it
    /// into a raw string and zero-pads it so bit <paramref name="maxBit"/> is addressable.
    /// <paramref name="grew"/> is true when the key was created or its length changed.
    /// Returns null (WRONGTYPE sent) when the key holds another type.
    /// </summary>
    static RawString LookupStringForBits(Client c, long maxBit, out bool grew)
    {
        var db = c.Db;
        var key = c.Arg(1);
        int needed = checked((int)((maxBit >> 3) + 1));
        int index = db.Find(key);
        if (index < 0)
        {
            var fresh = new RawString(ReadOnlySpan<byte>.Empty, needed);
            fresh.EnsureLength(needed);
            db.Add(c.ArgBytes(1), fresh);
            grew = true;
            return fresh;
        }
        ref var e = ref db.Table.At(index);
        db.Touch(ref e);
        if (!Values.IsString(e.Value))
        {
            c.WrongType();
            grew = false;
            return null;
        }
        var raw = StringCommands.Unshare(db, index, 0);
        int oldLength = raw.Length;
        if (needed > oldLength)
        {
            long before = Values.Cost(raw);
            raw.EnsureLength(needed);
            db.Resized(before, raw);
        }
        grew = raw.Length != oldLength;
        return raw;
    }

    /// <summary>Set bits in <paramref name="s"/>, 64 bits at a time.</summary>
    static long PopCount(ReadOnlySpan<byte> s)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(s);
        long a = 0, b = 0, c = 0, d = 0;
        int i = 0;
        for (; i + 4 <= words.Length; i += 4)
        {
            a += BitOperations.PopCount(words[i]);
            b += BitOperations.PopCount(words[i + 1]);
            c += BitOperations.PopCount(words[i + 2]);
            d += BitOperations.PopCount(words[i + 3]);
        }
        for (; i < words.Length; i++) a += BitOperations.PopCount(words[i]);
        for (int j = words.Length * 8; j < s.Length; j++) b += BitOperations.PopCount((uint)s[j]);
        return a + b + c + d;
    }

    /// <summary>
    /// redisBitpos: position of the first bit equal to <paramref name="bit"/>. When looking for a 0 and
    /// none is found, returns the first bit past the end (the string is taken as zero-padded on the
    /// right); when looking for a 1 and none is found, returns -1.
    /// </summary>
    static long FindBit(ReadOnlySpan<byte> s, int bit)
    {
        ulong skipWord = bit == 1 ? 0UL : ulong.MaxValue;
        byte skipByte = bit == 1 ? (byte)0 : (byte)0xFF;
        int i = 0;
        for (; i + 8 <= s.Length; i += 8)
        {
            if (MemoryMarshal.Read<ulong>(s.Slice(i, 8)) != skipWord) break;
        }
        for (; i < s.Length; i++)
        {
            int b = s[i];
            if (b != skipByte)
            {
                uint t = (uint)(bit == 1 ? b : ~b & 0xFF);
                return (long)i * 8 + BitOperations.LeadingZeroCount(t) - 24;
            }
        }
        return bit == 1 ? -1 : (long)s.Length * 8;
    }

    static long FindBit(byte b, int bit) => FindBit(new ReadOnlySpan<byte>(in b), bit);

    // ---- SETBIT / GETBIT ----

    static void SetBit(Client c)
    {
        if (!TryBitOffset(c, 2, false, 0, out long offset)) return;
        if (!Numbers.TryParseInt64(c.Arg(3), out long on) || (on & ~1L) != 0)
        {
            c.Error(BitValueError);
            return;
        }
        var raw = LookupStringForBits(c, offset, out bool grew);
        if (raw == null) return;
        int index = (int)(offset >> 3);
        int mask = 1 << (7 - (int)(offset & 7));
        int old = raw.Buffer[index];
        bool wasSet = (old & mask) != 0;
        if (grew || wasSet != (on == 1))
        {
            raw.Buffer[index] = (byte)(on == 1 ? old | mask : old & ~mask);
            Keyspace.Modified(c, c.Arg(1), KeyspaceEvents.String, "setbit");
        }
        c.Reply.Integer(wasSet ? 1 : 0);
    }

    static void GetBit(Client c)
    {
        if (!TryBitOffset(c, 2, false, 0, out long offset)) return;
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.Integer(0); return; }
        if (!Values.IsString(v)) { c.WrongType(); return; }
        var s = Values.StringBytes(v);
        long index = offset >> 3;
        int bit = 0;
        if (index < s.Length) bit = (s[(int)index] >> (7 - (int)(offset & 7))) & 1;
        c.Reply.Integer(bit);
    }

    // ---- BITCOUNT ----

    /// <summary>BITCOUNT key [start end [BYTE|BIT]]</summary>
    static void BitCount(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.Integer(0); return; }
        if (!Values.IsString(v)) { c.WrongType(); return; }
        var p = Values.StringBytes(v);
        long start, end;
        int firstMask = 0, lastMask = 0;
        int argc = c.ArgCount;
        if (argc == 4 || argc == 5)
        {
            long totlen = p.Length;
            if (!c.TryArgLong(2, out start) || !c.TryArgLong(3, out end)) return;
            if (start < 0 && end < 0 && start > end) { c.Reply.Integer(0); return; }
            bool isBit = false;
            if (argc == 5)
            {
                if (c.ArgIs(4, "bit")) isBit = true;
                else if (!c.ArgIs(4, "byte")) { c.Syntax(); return; }
            }
            ClampRange(totlen, isBit, ref start, ref end, out firstMask, out lastMask);
        }
        else if (argc == 2)
        {
            start = 0;
            end = p.Length - 1;
        }
        else
        {
            c.Syntax();
            return;
        }
        if (start > end) { c.Reply.Integer(0); return; }
        long count = PopCount(p.Slice((int)start, (int)(end - start + 1)));
        if (firstMask != 0) count -= BitOperations.PopCount((uint)(p[(int)start] & firstMask));
        if (lastMask != 0) count -= BitOperations.PopCount((uint)(p[(int)end] & lastMask));
        c.Reply.Integer(count);
    }

    /// <summary>
    /// BITCOUNT's and BITPOS's range: negative offsets count from the end, then clamp to the value. In BIT mode
    /// the range becomes bytes plus masks of the edge bits that lie outside it.
    /// </summary>
    static void ClampRange(long byteLength, bool isBit, ref long start, ref long end, out int firstMask, out int lastMask)
    {
        firstMask = lastMask = 0;
        long totlen = isBit ? byteLength << 3 : byteLength;
        if (start < 0) start = totlen + start;
        if (end < 0) end = totlen + end;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= totlen) end = totlen - 1;
        if (isBit && start <= end)
        {
            firstMask = ~((1 << (8 - (int)(start & 7))) - 1) & 0xFF;
            lastMask = (1 << (7 - (int)(end & 7))) - 1;
            start >>= 3;
            end >>= 3;
        }
    }

    // ---- BITPOS ----

    /// <summary>BITPOS key bit [start [end [BYTE|BIT]]]</summary>
    static void BitPos(Client c)
    {
        if (!c.TryArgLong(2, out long bitArg)) return;
        if (bitArg != 0 && bitArg != 1) { c.Error("ERR The bit argument must be 1 or 0."); return; }
        int bit = (int)bitArg;
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.Integer(bit == 1 ? -1 : 0); return; }
        if (!Values.IsString(v)) { c.WrongType(); return; }
        var p = Values.StringBytes(v);
        long start, end;
        bool endGiven = false;
        int firstMask = 0, lastMask = 0;
        int argc = c.ArgCount;
        if (argc >= 4 && argc <= 6)
        {
            long totlen = p.Length;
            if (!c.TryArgLong(3, out start)) return;
            bool isBit = false;
            if (argc == 6)
            {
                if (c.ArgIs(5, "bit")) isBit = true;
                else if (!c.ArgIs(5, "byte")) { c.Syntax(); return; }
            }
            if (argc >= 5)
            {
                if (!c.TryArgLong(4, out end)) return;
                endGiven = true;
            }
            else end = totlen - 1;
            ClampRange(totlen, isBit, ref start, ref end, out firstMask, out lastMask);
        }
        else if (argc == 3)
        {
            start = 0;
            end = p.Length - 1;
        }
        else
        {
            c.Syntax();
            return;
        }

        // An empty range holds neither a 0 nor a 1.
        if (start > end) { c.Reply.Integer(-1); return; }

        // The range is scanned as: a partial first byte, whole middle bytes, a partial last byte.
        long bytes = end - start + 1;
        long pos = -1;
        if (firstMask != 0)
        {
            int t = bit == 1 ? p[(int)start] & ~firstMask : p[(int)start] | firstMask;
            if (lastMask != 0 && bytes == 1) t = bit == 1 ? t & ~lastMask : t | lastMask;
            pos = FindBit((byte)t, bit);
            if (bytes == 1 || (pos != -1 && pos != 8)) goto result;
            start++;
            bytes--;
        }
        long middle = bytes - (lastMask != 0 ? 1 : 0);
        if (middle > 0)
        {
            pos = FindBit(p.Slice((int)start, (int)middle), bit);
            if (bytes == middle || (pos != -1 && pos != middle << 3)) goto result;
            start += middle;
            bytes -= middle;
        }
        {
            int t = bit == 1 ? p[(int)end] & ~lastMask : p[(int)end] | lastMask;
            pos = FindBit((byte)t, bit);
        }
    result:
        // With an explicit end the right of the range is not zero-padded: no clear bit means -1.
        if (endGiven && bit == 0 && pos == bytes << 3) { c.Reply.Integer(-1); return; }
        if (pos != -1) pos += start << 3;
        c.Reply.Integer(pos);
    }

    // ---- BITOP ----

    enum BitOpKind { And, Or, Xor, Not }

    /// <summary>BITOP AND|OR|XOR|NOT destkey key [key ...]: stores the result as a raw string, or deletes destkey when it is empty.</summary>
    static void BitOp(Client c)
    {
        BitOpKind op;
        if (c.ArgIs(1, "and")) op = BitOpKind.And;
        else if (c.ArgIs(1, "or")) op = BitOpKind.Or;
        else if (c.ArgIs(1, "xor")) op = BitOpKind.Xor;
        else if (c.ArgIs(1, "not")) op = BitOpKind.Not;
        else { c.Syntax(); return; }
        if (op == BitOpKind.Not && c.ArgCount != 4)
        {
            c.Error("ERR BITOP NOT must be called with a single source key.");
            return;
        }

        int numKeys = c.ArgCount - 3;
        var sources = ArrayPool<object>.Shared.Rent(numKeys);
        try
        {
            int maxLen = 0;
            for (int j = 0; j < numKeys; j++)
            {
                var v = Keyspace.LookupRead(c, c.Arg(j + 3));
                if (v != null && !Values.IsString(v)) { c.WrongType(); return; }
                sources[j] = v;
                if (v != null) maxLen = Math.Max(maxLen, Values.StringBytes(v).Length);
            }

            var target = c.Arg(2);
            if (maxLen == 0)
            {
                if (c.Db.Delete(target)) Keyspace.Modified(c, target, KeyspaceEvents.Generic, "del");
                c.Reply.Integer(0);
                return;
            }

            // Redis stores the result with createObject (encoding "raw"), sized exactly.
            var result = new RawString(ReadOnlySpan<byte>.Empty, maxLen);
            result.EnsureLength(maxLen);
            var res = result.Span;
            ReadOnlySpan<byte> first = sources[0] == null ? default : Values.StringBytes(sources[0]);
            first.CopyTo(res);
            if (op == BitOpKind.Not) Invert(res);
            for (int j = 1; j < numKeys; j++)
            {
                ReadOnlySpan<byte> src = sources[j] == null ? default : Values.StringBytes(sources[j]);
                switch (op)
                {
                    case BitOpKind.And:
                        AndInto(res[..src.Length], src);
                        res[src.Length..].Clear();     // missing bytes count as zeros
                        break;
                    case BitOpKind.Or: OrInto(res[..src.Length], src); break;
                    case BitOpKind.Xor: XorInto(res[..src.Length], src); break;
                }
            }
            Keyspace.SetKey(c, target, result);
            Keyspace.Notify(c, target, KeyspaceEvents.String, "set");
            c.Server.Dirty();
            c.Reply.Integer(maxLen);
        }
        finally
        {
            Array.Clear(sources, 0, numKeys);
            ArrayPool<object>.Shared.Return(sources);
        }
    }

    static void Invert(Span<byte> d)
    {
        var dv = MemoryMarshal.Cast<byte, Vector<byte>>(d);
        for (int i = 0; i < dv.Length; i++) dv[i] = ~dv[i];
        for (int i = dv.Length * Vector<byte>.Count; i < d.Length; i++) d[i] = (byte)~d[i];
    }

    static void AndInto(Span<byte> d, ReadOnlySpan<byte> s)
    {
        var dv = MemoryMarshal.Cast<byte, Vector<byte>>(d);
        var sv = MemoryMarshal.Cast<byte, Vector<byte>>(s);
        for (int i = 0; i < dv.Length; i++) dv[i] &= sv[i];
        for (int i = dv.Length * Vector<byte>.Count; i < d.Length; i++) d[i] &= s[i];
    }

    static void OrInto(Span<byte> d, ReadOnlySpan<byte> s)
    {
        var dv = MemoryMarshal.Cast<byte, Vector<byte>>(d);
        var sv = MemoryMarshal.Cast<byte, Vector<byte>>(s);
        for (int i = 0; i < dv.Length; i++) dv[i] |= sv[i];
        for (int i = dv.Length * Vector<byte>.Count; i < d.Length; i++) d[i] |= s[i];
    }

    static void XorInto(Span<byte> d, ReadOnlySpan<byte> s)
    {
        var dv = MemoryMarshal.Cast<byte, Vector<byte>>(d);
        var sv = MemoryMarshal.Cast<byte, Vector<byte>>(s);
        for (int i = 0; i < dv.Length; i++) dv[i] ^= sv[i];
        for (int i = dv.Length * Vector<byte>.Count; i < d.Length; i++) d[i] ^= s[i];
    }
}
