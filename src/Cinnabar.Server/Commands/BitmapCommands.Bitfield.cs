using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>BITFIELD and BITFIELD_RO: signed and unsigned integers of 1..64 bits at arbitrary bit offsets.</summary>
public static partial class BitmapCommands
{
    enum FieldOp : byte { Get, Set, IncrBy }
    enum Overflow : byte { Wrap, Sat, Fail }

    struct BitfieldOp
    {
        public long Offset;     // bit offset
        public long Value;      // SET value or INCRBY increment
        public FieldOp Op;
        public Overflow Overflow;
        public byte Bits;
        public bool Signed;
    }

    const string BitfieldTypeError = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

    static void BitField(Client c) => BitFieldGeneric(c, readOnlyCommand: false);

    static void BitFieldRo(Client c) => BitFieldGeneric(c, readOnlyCommand: true);

    /// <summary>getBitfieldTypeFromArgument: 'i' or 'u' then 1..64 bits (u64 is refused).</summary>
    static bool TryBitfieldType(Client c, int arg, out bool signed, out int bits)
    {
        var s = c.Arg(arg);
        signed = false;
        bits = 0;
        if (s.Length == 0 || (s[0] != 'i' && s[0] != 'u'))
        {
            c.Error(BitfieldTypeError);
            return false;
        }
        signed = s[0] == 'i';
        var digits = s[1..];
        int nul = digits.IndexOf((byte)0);     // Redis reads the width with strlen
        if (nul >= 0) digits = digits[..nul];
        if (!Numbers.TryParseInt64(digits, out long n) || n < 1 || n > (signed ? 64 : 63))
        {
            c.Error(BitfieldTypeError);
            return false;
        }
        bits = (int)n;
        return true;
    }

    static void BitFieldGeneric(Client c, bool readOnlyCommand)
    {
        int argc = c.ArgCount;
        int maxOps = (argc - 2) / 3;
        Span<BitfieldOp> ops = maxOps <= 16 ? stackalloc BitfieldOp[16] : new BitfieldOp[maxOps];
        int numOps = 0;
        var overflow = Overflow.Wrap;
        bool readOnly = true;
        long highestWrite = 0;

        for (int j = 2; j < argc; j++)
        {
            int remaining = argc - j - 1;
            FieldOp op;
            if (c.ArgIs(j, "get") && remaining >= 2) op = FieldOp.Get;
            else if (c.ArgIs(j, "set") && remaining >= 3) op = FieldOp.Set;
            else if (c.ArgIs(j, "incrby") && remaining >= 3) op = FieldOp.IncrBy;
            else if (c.ArgIs(j, "overflow") && remaining >= 1)
            {
                j++;
                if (c.ArgIs(j, "wrap")) overflow = Overflow.Wrap;
                else if (c.ArgIs(j, "sat")) overflow = Overflow.Sat;
                else if (c.ArgIs(j, "fail")) overflow = Overflow.Fail;
                else
                {
                    c.Error("ERR Invalid OVERFLOW type specified");
                    return;
                }
                continue;
            }
            else
            {
                c.Syntax();
                return;
            }

            if (!TryBitfieldType(c, j + 1, out bool signed, out int bits)) return;
            if (!TryBitOffset(c, j + 2, true, bits, out long offset)) return;
            long value = 0;
            if (op != FieldOp.Get)
            {
                readOnly = false;
                if (highestWrite < offset + bits - 1) highestWrite = offset + bits - 1;
                if (!c.TryArgLong(j + 3, out value)) return;
            }
            ref var o = ref ops[numOps++];
            o.Offset = offset;
            o.Value = value;
            o.Op = op;
            o.Overflow = overflow;
            o.Bits = (byte)bits;
            o.Signed = signed;
            j += op == FieldOp.Get ? 2 : 3;
        }

        object value0 = null;
        RawString raw = null;
        bool grew = false;
        if (readOnly)
        {
            value0 = Keyspace.LookupRead(c, c.Arg(1));
            if (value0 != null && !Values.IsString(value0)) { c.WrongType(); return; }
        }
        else
        {
            if (readOnlyCommand)
            {
                c.Error("ERR BITFIELD_RO only supports the GET subcommand");
                return;
            }
            raw = LookupStringForBits(c, highestWrite, out grew);
            if (raw == null) return;
            value0 = raw;
        }

        c.Reply.ArrayHeader(numOps);
        long changes = 0;
        for (int j = 0; j < numOps; j++)
        {
            ref var op = ref ops[j];
            if (op.Op == FieldOp.Get)
            {
                ReadOnlySpan<byte> s = value0 == null ? default : Values.StringBytes(value0);
                ulong u = ReadBits(s, op.Offset, op.Bits);
                c.Reply.Integer(op.Signed ? SignExtend(u, op.Bits) : (long)u);
                continue;
            }

            var buf = raw.Span;
            ulong oldBits = ReadBits(buf, op.Offset, op.Bits);
            bool overflowed;
            long reply;
            ulong newBits;
            if (op.Signed)
            {
                long oldVal = SignExtend(oldBits, op.Bits);
                long newVal;
                if (op.Op == FieldOp.IncrBy)
                {
                    overflowed = CheckSignedOverflow(oldVal, op.Value, op.Bits, op.Overflow, out long limit) != 0;
                    newVal = overflowed ? limit : unchecked(oldVal + op.Value);
                    reply = newVal;
                }
                else
                {
                    newVal = op.Value;
                    overflowed = CheckSignedOverflow(newVal, 0, op.Bits, op.Overflow, out long limit) != 0;
                    if (overflowed) newVal = limit;
                    reply = oldVal;
                }
                newBits = (ulong)newVal;
                if (!(overflowed && op.Overflow == Overflow.Fail) && (grew || oldVal != newVal)) changes++;
            }
            else
            {
                ulong oldVal = oldBits, newVal;
                if (op.Op == FieldOp.IncrBy)
                {
                    overflowed = CheckUnsignedOverflow(oldVal, op.Value, op.Bits, op.Overflow, out ulong limit) != 0;
                    newVal = overflowed ? limit : unchecked(oldVal + (ulong)op.Value);
                    reply = (long)newVal;
                }
                else
                {
                    newVal = (ulong)op.Value;
                    overflowed = CheckUnsignedOverflow(newVal, 0, op.Bits, op.Overflow, out ulong limit) != 0;
                    if (overflowed) newVal = limit;
                    reply = (long)oldVal;
                }
                newBits = newVal;
                if (!(overflowed && op.Overflow == Overflow.Fail) && (grew || oldVal != newVal)) changes++;
            }

            // OVERFLOW FAIL: nothing is written and the reply for this operation is a null.
            if (overflowed && op.Overflow == Overflow.Fail)
            {
                c.Reply.Null();
                continue;
            }
            c.Reply.Integer(reply);
            WriteBits(buf, op.Offset, op.Bits, newBits);
        }

        if (changes > 0)
        {
            c.Server.KeyModified(c.Db, c.Arg(1));
            c.Server.Dirty(changes);
            c.Server.Notify(Config.KeyspaceEvents.String, "setbit", c.Arg(1), c.Db.Id);
        }
    }

    /// <summary>The <paramref name="bits"/>-wide field at <paramref name="offset"/>, reading past the end as zeros.</summary>
    static ulong ReadBits(ReadOnlySpan<byte> s, long offset, int bits)
    {
        long first = offset >> 3;
        int shift = (int)(offset & 7);
        ulong hi = 0, lo = 0;
        if (first < s.Length)
        {
            var w = s[(int)first..];
            int n = Math.Min(w.Length, 8);
            for (int i = 0; i < n; i++) hi |= (ulong)w[i] << (56 - 8 * i);
            if (w.Length > 8) lo = w[8];
        }
        ulong window = (hi << shift) | (lo >> (8 - shift));
        return window >> (64 - bits);
    }

    /// <summary>Stores the low <paramref name="bits"/> bits of <paramref name="value"/> at <paramref name="offset"/>.</summary>
    static void WriteBits(Span<byte> s, long offset, int bits, ulong value)
    {
        int first = (int)(offset >> 3);
        int shift = (int)(offset & 7);
        int bytes = (shift + bits + 7) >> 3;          // at most 9
        int low = 128 - shift - bits;
        UInt128 fieldMask = ((UInt128.One << bits) - 1) << low;
        UInt128 field = ((UInt128)value << low) & fieldMask;
        for (int i = 0; i < bytes; i++)
        {
            int at = 120 - 8 * i;
            byte m = (byte)(fieldMask >> at);
            byte v = (byte)(field >> at);
            s[first + i] = (byte)((s[first + i] & ~m) | v);
        }
    }

    static long SignExtend(ulong u, int bits)
    {
        if (bits < 64 && (u & (1UL << (bits - 1))) != 0) u |= ulong.MaxValue << bits;
        return (long)u;
    }

    /// <summary>
    /// checkUnsignedBitfieldOverflow: 0 when value+incr fits in <paramref name="bits"/> unsigned bits,
    /// 1 on overflow, -1 on underflow; <paramref name="limit"/> is the wrapped or saturated result.
    /// </summary>
    static int CheckUnsignedOverflow(ulong value, long incr, int bits, Overflow mode, out ulong limit)
    {
        limit = 0;
        ulong max = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        long maxIncr = unchecked((long)(max - value));
        long minIncr = unchecked(-(long)value);
        int result;
        if (value > max || (incr > 0 && incr > maxIncr))
        {
            result = 1;
            if (mode == Overflow.Sat) limit = max;
        }
        else if (incr < 0 && incr < minIncr)
        {
            result = -1;
            if (mode == Overflow.Sat) limit = 0;
        }
        else return 0;
        if (mode == Overflow.Wrap)
        {
            ulong sum = unchecked(value + (ulong)incr);
            limit = bits == 64 ? sum : sum & ((1UL << bits) - 1);
        }
        return result;
    }

    /// <summary>checkSignedBitfieldOverflow: as above for two's complement fields; wrapping keeps the sign bit.</summary>
    static int CheckSignedOverflow(long value, long incr, int bits, Overflow mode, out long limit)
    {
        limit = 0;
        long max = bits == 64 ? long.MaxValue : (1L << (bits - 1)) - 1;
        long min = -max - 1;
        long maxIncr = unchecked((long)((ulong)max - (ulong)value));
        long minIncr = unchecked(min - value);
        int result;
        if (value > max || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr))
        {
            result = 1;
            if (mode == Overflow.Sat) limit = max;
        }
        else if (value < min || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr))
        {
            result = -1;
            if (mode == Overflow.Sat) limit = min;
        }
        else return 0;
        if (mode == Overflow.Wrap)
        {
            ulong sum = unchecked((ulong)value + (ulong)incr);
            if (bits < 64)
            {
                ulong mask = ulong.MaxValue << bits;
                sum = (sum & (1UL << (bits - 1))) != 0 ? sum | mask : sum & ~mask;
            }
            limit = (long)sum;
        }
        return result;
    }
}
