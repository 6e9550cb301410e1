using System.Buffers.Text;

namespace Cinnabar.Server.Storage;

/// <summary>A stream entry ID: milliseconds and sequence, both unsigned 64-bit, ordered as a 128-bit number.</summary>
public readonly struct StreamId : IComparable<StreamId>, IEquatable<StreamId>
{
    public readonly ulong Ms, Seq;

    public StreamId(ulong ms, ulong seq)
    {
        Ms = ms;
        Seq = seq;
    }

    public static readonly StreamId Zero = new(0, 0);
    public static readonly StreamId Max = new(ulong.MaxValue, ulong.MaxValue);

    public bool IsZero => (Ms | Seq) == 0;
    public bool IsMax => Ms == ulong.MaxValue && Seq == ulong.MaxValue;

    public int CompareTo(StreamId other)
    {
        if (Ms != other.Ms) return Ms < other.Ms ? -1 : 1;
        if (Seq != other.Seq) return Seq < other.Seq ? -1 : 1;
        return 0;
    }

    public bool Equals(StreamId other) => Ms == other.Ms && Seq == other.Seq;
    public override bool Equals(object obj) => obj is StreamId o && Equals(o);
    public override int GetHashCode() => HashCode.Combine(Ms, Seq);
    public static bool operator <(StreamId a, StreamId b) => a.CompareTo(b) < 0;
    public static bool operator >(StreamId a, StreamId b) => a.CompareTo(b) > 0;
    public static bool operator <=(StreamId a, StreamId b) => a.CompareTo(b) <= 0;
    public static bool operator >=(StreamId a, StreamId b) => a.CompareTo(b) >= 0;
    public static bool operator ==(StreamId a, StreamId b) => a.Equals(b);
    public static bool operator !=(StreamId a, StreamId b) => !a.Equals(b);

    /// <summary>streamIncrID: the next ID; the last possible ID wraps to 0-0 and reports failure.</summary>
    public bool TryIncrement(out StreamId next)
    {
        if (Seq == ulong.MaxValue)
        {
            if (Ms == ulong.MaxValue) { next = Zero; return false; }
            next = new StreamId(Ms + 1, 0);
            return true;
        }
        next = new StreamId(Ms, Seq + 1);
        return true;
    }

    /// <summary>streamDecrID: the previous ID; 0-0 wraps to the last possible ID and reports failure.</summary>
    public bool TryDecrement(out StreamId prev)
    {
        if (Seq == 0)
        {
            if (Ms == 0) { prev = Max; return false; }
            prev = new StreamId(Ms - 1, ulong.MaxValue);
            return true;
        }
        prev = new StreamId(Ms, Seq - 1);
        return true;
    }

    /// <summary>Writes "ms-seq" into <paramref name="dest"/> (at least 41 bytes) and returns the length.</summary>
    public int Format(Span<byte> dest)
    {
        Utf8Formatter.TryFormat(Ms, dest, out int a);
        dest[a] = (byte)'-';
        Utf8Formatter.TryFormat(Seq, dest[(a + 1)..], out int b);
        return a + 1 + b;
    }

    public byte[] ToBytes()
    {
        Span<byte> tmp = stackalloc byte[48];
        return tmp[..Format(tmp)].ToArray();
    }

    public override string ToString() => $"{Ms}-{Seq}";

    /// <summary>Byte <paramref name="i"/> (0..15) of the 128-bit big-endian key Redis stores in its radix tree.</summary>
    public byte KeyByte(int i) => i < 8 ? (byte)(Ms >> (56 - 8 * i)) : (byte)(Seq >> (56 - 8 * (i - 8)));

    /// <summary>
    /// streamGenericParseIDOrReply: "ms-seq", "ms" (seq = <paramref name="missingSeq"/>), and unless strict "-" and "+".
    /// With <paramref name="allowSeqStar"/>, "ms-*" parses with <paramref name="seqGiven"/> false. The text is read
    /// as a C string (up to the first NUL) after a 127-byte length limit, and each part with string2ull's rules.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> arg, bool strict, ulong missingSeq, out StreamId id, bool allowSeqStar, out bool seqGiven)
    {
        id = Zero;
        seqGiven = true;
        if (arg.Length > 127) return false;
        int nul = arg.IndexOf((byte)0);
        var s = nul >= 0 ? arg[..nul] : arg;
        if (s.Length == 1 && (s[0] == '-' || s[0] == '+'))
        {
            if (strict) return false;
            id = s[0] == '-' ? Zero : Max;
            return true;
        }
        int dash = s.IndexOf((byte)'-');
        var msPart = dash >= 0 ? s[..dash] : s;
        if (!String2Ull(msPart, out ulong ms)) return false;
        ulong seq;
        if (dash >= 0)
        {
            var seqPart = s[(dash + 1)..];
            if (allowSeqStar && seqPart.Length == 1 && seqPart[0] == '*')
            {
                seq = 0;
                seqGiven = false;
            }
            else if (!String2Ull(seqPart, out seq)) return false;
        }
        else seq = missingSeq;
        id = new StreamId(ms, seq);
        return true;
    }

    public static bool TryParse(ReadOnlySpan<byte> arg, bool strict, ulong missingSeq, out StreamId id)
        => TryParse(arg, strict, missingSeq, out id, false, out _);

    /// <summary>string2ull: string2ll when it applies (negatives rejected), otherwise C's strtoull on the whole string.</summary>
    static bool String2Ull(ReadOnlySpan<byte> s, out ulong value)
    {
        if (Protocol.Numbers.TryParseInt64(s, out long ll))
        {
            value = (ulong)ll;
            return ll >= 0;
        }
        value = 0;
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) { neg = s[i] == '-'; i++; }
        int start = i;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;   // ERANGE
            v = v * 10 + d;
        }
        if (i == start) return false;   // no digits: nothing converted
        value = neg ? 0 - v : v;
        return true;
    }
}
