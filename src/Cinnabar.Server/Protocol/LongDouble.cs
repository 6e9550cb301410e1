using System.Numerics;
using System.Text;

namespace Cinnabar.Server.Protocol;

/// <summary>
/// Software x87 80-bit extended precision, the "long double" of x86-64 Linux that Redis 7.0's INCRBYFLOAT and
/// HINCRBYFLOAT compute in: string2ld (glibc strtold plus Redis's checks), one correctly rounded addition, and
/// ld2string's human mode (glibc's exact "%.17Lf", then trailing zeros and '.' trimmed, "-0" shown as "0").
/// A finite value is exactly <see cref="Significand"/> * 2^<see cref="Exponent"/>: normal values have the top
/// significand bit set, subnormals have <see cref="Exponent"/> == <see cref="MinExponent"/>. Rounding is
/// round-half-even throughout, like the x87 default control word and glibc's conversions.
/// </summary>
public readonly struct LongDouble
{
    /// <summary>Unit of the smallest subnormal, 2^(1 - 16383 - 63).</summary>
    public const int MinExponent = -16445;
    /// <summary>(2^64 - 1) * 2^16320 is the largest finite value, about 1.18973e4932.</summary>
    public const int MaxExponent = 16320;
    /// <summary>string2ld copies into a MAX_LONG_DOUBLE_CHARS (5*1024) buffer and rejects slen >= its size.</summary>
    public const int MaxInputLength = 5 * 1024 - 1;

    enum Kind : byte { Finite, Infinity, NaN }

    public readonly ulong Significand;
    public readonly int Exponent;
    public readonly bool Negative;
    readonly Kind kind;

    LongDouble(bool negative, ulong significand, int exponent, Kind k)
    {
        Negative = negative;
        Significand = significand;
        Exponent = exponent;
        kind = k;
    }

    public bool IsFinite => kind == Kind.Finite;
    public bool IsNaN => kind == Kind.NaN;
    public bool IsInfinity => kind == Kind.Infinity;
    public bool IsZero => kind == Kind.Finite && Significand == 0;

    static LongDouble Zero(bool negative) => new(negative, 0, 0, Kind.Finite);
    static LongDouble Infinity(bool negative) => new(negative, 0, 0, Kind.Infinity);
    static readonly LongDouble NaN = new(false, 0, 0, Kind.NaN);

    public static LongDouble FromInt64(long v)
    {
        if (v == 0) return Zero(false);
        return RoundBits(v < 0, v < 0 ? (ulong)(-(Int128)v) : (ulong)v, 0, false);
    }

    // ---------------------------------------------------------------- parsing

    /// <summary>
    /// Redis's string2ld: the whole string must be a number strtold accepts (decimal, exponent, hex float,
    /// inf/infinity), no leading whitespace, shorter than 5120 bytes, not NaN, and not out of range (strtold's
    /// ERANGE with an infinite or zero result). Subnormal results are accepted.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> s, out LongDouble value)
    {
        value = default;
        if (s.Length == 0 || s.Length > MaxInputLength || IsSpace(s[0])) return false;
        bool neg = false;
        var t = s;
        if (t[0] == '+' || t[0] == '-')
        {
            neg = t[0] == '-';
            t = t[1..];
        }
        if (t.Length == 0) return false;
        int c0 = t[0] | 0x20;
        if (c0 == 'i')
        {
            if (!Ascii.EqualsIgnoreCase(t, "inf"u8) && !Ascii.EqualsIgnoreCase(t, "infinity"u8)) return false;
            value = Infinity(neg);
            return true;
        }
        // "nan" and "nan(chars)" parse as NaN, which string2ld rejects; anything else starting with 'n' is garbage.
        if (c0 == 'n') return false;
        // "0x" followed by no hex mantissa parses as "0" leaving "x...", which string2ld rejects as trailing garbage.
        if (t.Length > 2 && t[0] == '0' && (t[1] | 0x20) == 'x') return TryParseHex(t[2..], neg, out value);
        return TryParseDecimal(t, neg, out value);
    }

    static bool IsSpace(byte c) => c == ' ' || (c >= '\t' && c <= '\r');

    /// <summary>Parses "[digits][.digits][e[sign]digits]" exactly as a rational and rounds it once.</summary>
    static bool TryParseDecimal(ReadOnlySpan<byte> t, bool neg, out LongDouble value)
    {
        value = default;
        int i = 0, n = t.Length;
        int intStart = i;
        while (i < n && IsDigit(t[i])) i++;
        int intEnd = i;
        int fracStart = i, fracEnd = i;
        if (i < n && t[i] == '.')
        {
            fracStart = ++i;
            while (i < n && IsDigit(t[i])) i++;
            fracEnd = i;
        }
        if (intEnd == intStart && fracEnd == fracStart) return false;
        if (!TryParseExponent(t, ref i, 'e', out long exp10)) return false;
        if (i != n) return false;

        var intDigits = t[intStart..intEnd];
        var fracDigits = t[fracStart..fracEnd];
        // value = (intDigits fracDigits as one integer) * 10^(exp10 - fracDigits.Length), leading zeros dropped.
        long e10 = exp10 - fracDigits.Length;
        int lead = intDigits.IndexOfAnyExcept((byte)'0');
        ReadOnlySpan<byte> a, b;
        if (lead >= 0)
        {
            a = intDigits[lead..];
            b = fracDigits;
        }
        else
        {
            int fl = fracDigits.IndexOfAnyExcept((byte)'0');
            if (fl < 0)
            {
                value = Zero(neg);      // an exact zero: strtold sets no ERANGE
                return true;
            }
            a = fracDigits[fl..];
            b = default;
        }
        int digits = a.Length + b.Length;
        // The value lies in [10^(digits-1+e10), 10^(digits+e10)). Decide the far ranges without big arithmetic:
        // the largest finite value is below 10^4933, and below 10^-4951 is less than half the smallest subnormal
        // (2^-16445 ~ 3.6e-4951), which rounds to zero. Both are ERANGE results that string2ld rejects.
        if (digits - 1 + e10 >= 4933) return false;
        if (digits + e10 <= -4951) return false;

        if (digits <= 38)
        {
            // Fast path, no big arithmetic: d < 10^38 < 2^127.
            UInt128 d = 0;
            foreach (byte c in a) d = d * 10 + (uint)(c - '0');
            foreach (byte c in b) d = d * 10 + (uint)(c - '0');
            if (e10 >= 0 && digits + e10 <= 38)
            {
                value = RoundBits(neg, d * Pow10U128((int)e10), 0, false);
                return true;
            }
            if (e10 < 0 && e10 >= -18)
            {
                // d / 10^k with 10^k < 2^60: scale d to a 128-bit numerator so the quotient keeps over 67 bits.
                int shift = (int)UInt128.LeadingZeroCount(d);
                UInt128 num = d << shift;
                UInt128 den = Pow10U128((int)-e10);
                var (q, rem) = UInt128.DivRem(num, den);
                value = RoundBits(neg, q, -shift, rem != 0);
                return true;
            }
        }

        BigInteger mant = DigitsToBigInteger(a, b);
        value = e10 >= 0
            ? RoundRational(neg, mant * BigInteger.Pow(10, (int)e10), BigInteger.One, 0)
            : RoundRational(neg, mant, BigInteger.Pow(10, (int)-e10), 0);
        return !value.IsInfinity && !value.IsZero;
    }

    /// <summary>Parses "[hexdigits][.hexdigits][p[sign]digits]" after "0x"; exact, so one rounding.</summary>
    static bool TryParseHex(ReadOnlySpan<byte> t, bool neg, out LongDouble value)
    {
        value = default;
        int i = 0, n = t.Length;
        int intStart = i;
        while (i < n && IsHexDigit(t[i])) i++;
        int intEnd = i;
        int fracStart = i, fracEnd = i;
        if (i < n && t[i] == '.')
        {
            fracStart = ++i;
            while (i < n && IsHexDigit(t[i])) i++;
            fracEnd = i;
        }
        if (intEnd == intStart && fracEnd == fracStart) return false;
        if (!TryParseExponent(t, ref i, 'p', out long exp2)) return false;
        if (i != n) return false;

        var intDigits = t[intStart..intEnd];
        var fracDigits = t[fracStart..fracEnd];
        long e2 = exp2 - 4L * fracDigits.Length;
        int lead = intDigits.IndexOfAnyExcept((byte)'0');
        ReadOnlySpan<byte> a, b;
        if (lead >= 0)
        {
            a = intDigits[lead..];
            b = fracDigits;
        }
        else
        {
            int fl = fracDigits.IndexOfAnyExcept((byte)'0');
            if (fl < 0)
            {
                value = Zero(neg);
                return true;
            }
            a = fracDigits[fl..];
            b = default;
        }
        int digits = a.Length + b.Length;
        long bits = 4L * digits - (3 - BitOperations.Log2((uint)HexValue(a[0])));
        // value in [2^(bits-1+e2), 2^(bits+e2)): at least 2^16384 overflows, at most 2^-16446 (half the smallest
        // subnormal, a tie that rounds to even, zero) underflows.
        if (bits - 1 + e2 >= 16384) return false;
        if (bits + e2 <= -16446) return false;

        if (digits <= 16)
        {
            ulong h = 0;
            foreach (byte c in a) h = (h << 4) | (uint)HexValue(c);
            foreach (byte c in b) h = (h << 4) | (uint)HexValue(c);
            value = RoundBits(neg, h, e2, false);
        }
        else
        {
            var mant = BigInteger.Zero;
            ulong chunk = 0;
            int inChunk = 0;
            for (int k = 0; k < digits; k++)
            {
                byte c = k < a.Length ? a[k] : b[k - a.Length];
                chunk = (chunk << 4) | (uint)HexValue(c);
                if (++inChunk == 15)
                {
                    mant = (mant << 60) | chunk;
                    chunk = 0;
                    inChunk = 0;
                }
            }
            if (inChunk > 0) mant = (mant << (4 * inChunk)) | chunk;
            value = RoundRational(neg, mant, BigInteger.One, e2);
        }
        return !value.IsInfinity && !value.IsZero;
    }

    /// <summary>
    /// An optional exponent: the marker must be followed by an optional sign and at least one digit, or strtold
    /// stops before the marker (which string2ld then rejects as trailing garbage). Saturates far beyond any
    /// meaningful exponent so absurd exponents still give the right overflow or underflow.
    /// </summary>
    static bool TryParseExponent(ReadOnlySpan<byte> t, ref int i, char marker, out long exp)
    {
        exp = 0;
        if (i >= t.Length || (t[i] | 0x20) != marker) return true;
        int j = i + 1;
        bool neg = false;
        if (j < t.Length && (t[j] == '+' || t[j] == '-'))
        {
            neg = t[j] == '-';
            j++;
        }
        if (j >= t.Length || !IsDigit(t[j])) return false;
        long e = 0;
        while (j < t.Length && IsDigit(t[j]))
        {
            if (e < 1_000_000_000) e = e * 10 + (t[j] - '0');
            j++;
        }
        exp = neg ? -e : e;
        i = j;
        return true;
    }

    static bool IsDigit(byte c) => (uint)(c - '0') <= 9;
    static bool IsHexDigit(byte c) => IsDigit(c) || (uint)((c | 0x20) - 'a') <= 5;
    static int HexValue(byte c) => IsDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10;

    static BigInteger DigitsToBigInteger(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var result = BigInteger.Zero;
        ulong chunk = 0;
        int inChunk = 0;
        int total = a.Length + b.Length;
        for (int k = 0; k < total; k++)
        {
            byte c = k < a.Length ? a[k] : b[k - a.Length];
            chunk = chunk * 10 + (uint)(c - '0');
            if (++inChunk == 19)
            {
                result = result * 10_000_000_000_000_000_000UL + chunk;
                chunk = 0;
                inChunk = 0;
            }
        }
        if (inChunk > 0) result = result * (ulong)Pow10U128(inChunk) + chunk;
        return result;
    }

    static UInt128 Pow10U128(int k)
    {
        UInt128 p = 1;
        for (int i = 0; i < k; i++) p *= 10;
        return p;
    }

    // ---------------------------------------------------------------- rounding

    /// <summary>
    /// Rounds (n + f) * 2^e, 0 &lt;= f &lt; 1 with <paramref name="sticky"/> == (f != 0), to 64 significand bits
    /// (fewer for subnormals), half to even. Callers pass sticky only when n has more than 64 bits.
    /// </summary>
    static LongDouble RoundBits(bool neg, UInt128 n, long e, bool sticky)
    {
        if (n == 0) return Zero(neg);
        int len = 128 - (int)UInt128.LeadingZeroCount(n);
        long s = len - 64;
        if (e + s < MinExponent) s = MinExponent - e;
        UInt128 q;
        if (s <= 0)
        {
            q = n << (int)-s;
        }
        else
        {
            UInt128 rem, half;
            if (s >= 128)
            {
                q = 0;
                rem = n;
                half = s == 128 ? UInt128.One << 127 : UInt128.MaxValue;   // s > 128: n is below half a unit
                if (s > 128) rem = 0;
            }
            else
            {
                q = n >> (int)s;
                rem = n & ((UInt128.One << (int)s) - 1);
                half = UInt128.One << (int)(s - 1);
            }
            if (rem > half || (rem == half && (sticky || (q & 1) != 0))) q++;
        }
        long exp = e + s;
        if ((q >> 64) != 0)
        {
            q >>= 1;
            exp++;
        }
        if (q == 0) return Zero(neg);
        if (exp > MaxExponent) return Infinity(neg);
        return new LongDouble(neg, (ulong)q, (int)exp, Kind.Finite);
    }

    /// <summary>Rounds num / den * 2^e2 (num, den &gt; 0) once: a 65-66 bit quotient plus a sticky bit suffices.</summary>
    static LongDouble RoundRational(bool neg, BigInteger num, BigInteger den, long e2)
    {
        long bits = (long)num.GetBitLength() - (long)den.GetBitLength() + e2;   // value in (2^(bits-1), 2^(bits+1))
        long e = bits - 65;
        long shift = e2 - e;
        if (shift >= 0) num <<= (int)shift;
        else den <<= (int)-shift;
        var q = BigInteger.DivRem(num, den, out var rem);
        return RoundBits(neg, (UInt128)q, e, !rem.IsZero);
    }

    // ---------------------------------------------------------------- arithmetic

    /// <summary>a + b with one rounding, as the x87 FADD does with 64-bit precision control.</summary>
    public static LongDouble Add(LongDouble a, LongDouble b)
    {
        if (a.kind == Kind.NaN || b.kind == Kind.NaN) return NaN;
        if (a.kind == Kind.Infinity)
        {
            if (b.kind == Kind.Infinity && a.Negative != b.Negative) return NaN;
            return a;
        }
        if (b.kind == Kind.Infinity) return b;
        if (a.Significand == 0) return b.Significand == 0 ? Zero(a.Negative && b.Negative) : b;
        if (b.Significand == 0) return a;

        // x is the operand with the larger exponent.
        var (x, y) = a.Exponent >= b.Exponent ? (a, b) : (b, a);
        long d = (long)x.Exponent - y.Exponent;
        UInt128 nx, ny;
        long e;
        bool sticky = false;
        if (d <= 63)
        {
            e = y.Exponent;
            nx = (UInt128)x.Significand << (int)d;
            ny = y.Significand;
        }
        else
        {
            // y is below one unit of x (x is normal here), so keep x with 64 guard bits and y as a sticky tail.
            e = (long)x.Exponent - 64;
            nx = (UInt128)x.Significand << 64;
            long drop = d - 64;
            if (drop >= 64)
            {
                ny = 0;
                sticky = true;
            }
            else
            {
                ny = y.Significand >> (int)drop;
                sticky = (y.Significand & ((1UL << (int)drop) - 1)) != 0;
            }
        }
        if (x.Negative == y.Negative)
        {
            // nx < 2^127 in both branches, ny < 2^64: no overflow. A sticky tail adds below the last bit.
            return RoundBits(x.Negative, nx + ny, e, sticky);
        }
        if (nx == ny && !sticky) return Zero(false);   // x + (-x) is +0 in round-to-nearest
        if (!sticky) return nx > ny ? RoundBits(x.Negative, nx - ny, e, false) : RoundBits(y.Negative, ny - nx, e, false);
        // nx - (ny + f) = (nx - ny - 1) + (1 - f), and here nx >= 2^127 so the difference is x's sign.
        return RoundBits(x.Negative, nx - ny - 1, e, true);
    }

    // ---------------------------------------------------------------- formatting

    /// <summary>
    /// ld2string(LD_STR_HUMAN): "%.17Lf" (exact, rounded half to even like glibc), trailing zeros after the
    /// point removed, then a bare '.', and "-0" becomes "0". Only for finite values.
    /// </summary>
    public byte[] ToHumanBytes()
    {
        if (kind != Kind.Finite) return Encoding.ASCII.GetBytes(kind == Kind.NaN ? "nan" : Negative ? "-inf" : "inf");
        if (Significand == 0) return "0"u8.ToArray();
        if (Exponent >= 0)
        {
            // An integer: the 17 fraction digits are all zeros and trimmed away.
            string digits = Exponent <= 64
                ? ((UInt128)Significand << Exponent).ToString()
                : (new BigInteger(Significand) << Exponent).ToString();
            var r = new byte[digits.Length + (Negative ? 1 : 0)];
            int o = 0;
            if (Negative) r[o++] = (byte)'-';
            for (int k = 0; k < digits.Length; k++) r[o++] = (byte)digits[k];
            return r;
        }
        int s = -Exponent;
        // |value| < 2^(64-s) <= 2^-58 < 0.5e-17 rounds to zero at 17 decimals.
        if (s >= 122) return "0"u8.ToArray();
        const ulong Scale = 100_000_000_000_000_000UL;   // 10^17
        UInt128 p = (UInt128)Significand * Scale;        // < 2^121
        UInt128 t = p >> s;
        UInt128 rem = p & ((UInt128.One << s) - 1);
        UInt128 half = UInt128.One << (s - 1);
        if (rem > half || (rem == half && (t & 1) != 0)) t++;
        ulong ip = (ulong)(t / Scale);
        ulong frac = (ulong)(t % Scale);
        if (ip == 0 && frac == 0) return "0"u8.ToArray();

        Span<byte> buf = stackalloc byte[48];
        int len = 0;
        if (Negative) buf[len++] = (byte)'-';
        System.Buffers.Text.Utf8Formatter.TryFormat(ip, buf[len..], out int w);
        len += w;
        if (frac != 0)
        {
            buf[len++] = (byte)'.';
            int digits = 17;
            while (frac % 10 == 0)
            {
                frac /= 10;
                digits--;
            }
            for (int k = digits - 1; k >= 0; k--)
            {
                buf[len + k] = (byte)('0' + (int)(frac % 10));
                frac /= 10;
            }
            len += digits;
        }
        return buf[..len].ToArray();
    }

    public override string ToString() => Encoding.ASCII.GetString(ToHumanBytes());
}
