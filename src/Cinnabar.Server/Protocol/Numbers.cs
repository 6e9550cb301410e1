using System.Buffers.Text;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Cinnabar.Server.Protocol;

/// <summary>Number parsing and formatting with Redis's exact acceptance rules (string2ll, strtod checks, %.17g); long double is in LongDouble.</summary>
public static class Numbers
{
    /// <summary>Redis's string2ll: optional '-', no '+', no leading zeros, no spaces, within int64.</summary>
    public static bool TryParseInt64(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        if (s.Length == 1 && s[0] == '0') return true;
        int i = 0;
        bool negative = false;
        if (s[0] == '-')
        {
            negative = true;
            i = 1;
            if (s.Length == 1) return false;
        }
        if (s[i] < '1' || s[i] > '9') return false;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        if (negative)
        {
            if (v > (ulong)long.MaxValue + 1) return false;
            value = (long)(0 - v);
        }
        else
        {
            if (v > long.MaxValue) return false;
            value = (long)v;
        }
        return true;
    }

    public static bool TryParseUInt64(ReadOnlySpan<byte> s, out ulong value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        if (s.Length == 1 && s[0] == '0') return true;
        if (s[0] < '1' || s[0] > '9') return false;
        ulong v = 0;
        foreach (byte c in s)
        {
            uint d = (uint)(c - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        value = v;
        return true;
    }

    /// <summary>Redis's string2ld/strtold acceptance: no leading space, whole string consumed, not NaN.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 5120) return false;
        if (IsSpace(s[0])) return false;
        Span<char> chars = s.Length <= 256 ? stackalloc char[s.Length] : new char[s.Length];
        for (int i = 0; i < s.Length; i++)
        {
            byte c = s[i];
            if (c >= 128 || c == 0) return false;
            chars[i] = (char)c;
        }
        if (!TryParseCDouble(chars, out value)) return false;
        return !double.IsNaN(value);
    }

    static bool IsSpace(byte c) => c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';

    /// <summary>Accepts what C's strtod accepts as a whole string: decimal, exponent, hex floats, inf/infinity/nan.</summary>
    static bool TryParseCDouble(ReadOnlySpan<char> s, out double value)
    {
        value = 0;
        var t = s;
        bool neg = false;
        if (t.Length > 0 && (t[0] == '+' || t[0] == '-')) { neg = t[0] == '-'; t = t[1..]; }
        if (t.Equals("inf", StringComparison.OrdinalIgnoreCase) || t.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            value = neg ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }
        if (t.StartsWith("nan", StringComparison.OrdinalIgnoreCase)) { value = double.NaN; return true; }
        if (t.Length > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) return TryParseHexDouble(t[2..], neg, out value);
        // Reject forms .NET takes but strtod does not (e.g. thousands separators) by allowing only these chars.
        foreach (char c in t)
            if (!(char.IsAsciiDigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return false;
        if (t.Length == 0) return false;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return false;
        return true;
    }

    static bool TryParseHexDouble(ReadOnlySpan<char> t, bool neg, out double value)
    {
        value = 0;
        double mant = 0;
        int exp = 0, digits = 0;
        int i = 0;
        bool dot = false;
        for (; i < t.Length; i++)
        {
            char c = t[i];
            if (c == '.' && !dot) { dot = true; continue; }
            int d = char.IsAsciiHexDigit(c) ? Convert.ToInt32(c.ToString(), 16) : -1;
            if (d < 0) break;
            mant = mant * 16 + d; digits++;
            if (dot) exp -= 4;
        }
        if (digits == 0) return false;
        if (i < t.Length)
        {
            if (t[i] != 'p' && t[i] != 'P') return false;
            if (!int.TryParse(t[(i + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int e)) return false;
            exp += e;
        }
        value = Math.ScaleB(mant, exp) * (neg ? -1 : 1);
        return true;
    }

    public static int Format(long v, Span<byte> dest)
    {
        Utf8Formatter.TryFormat(v, dest, out int n);
        return n;
    }

    public static byte[] ToBytes(long v)
    {
        Span<byte> tmp = stackalloc byte[20];
        int n = Format(v, tmp);
        return tmp[..n].ToArray();
    }

    public static int DigitCount(long v)
    {
        if (v == long.MinValue) return 20;
        int n = v < 0 ? 2 : 1;
        ulong u = (ulong)Math.Abs(v);
        while (u >= 10) { u /= 10; n++; }
        return n;
    }

    /// <summary>Redis's "%.17g" for RESP doubles and ZSET scores (addReplyDouble): shortest exact round trip.</summary>
    public static string FormatDouble17g(double v)
    {
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        return G17(v);
    }

    static string G17(double v)
    {
        // %.17g: 17 significant digits, exponent form when exp < -4 or >= 17, trailing zeros removed.
        if (v == 0) return double.IsNegative(v) ? "-0" : "0";
        string e = v.ToString("E16", CultureInfo.InvariantCulture); // d.dddddddddddddddde+xxx
        int ePos = e.IndexOf('E');
        int exp = int.Parse(e.AsSpan(ePos + 1), CultureInfo.InvariantCulture);
        string mantissa = e[..ePos];
        bool neg = mantissa[0] == '-';
        string digitsOnly = mantissa.Replace("-", "").Replace(".", "");
        if (exp < -4 || exp >= 17)
        {
            string m = digitsOnly[0] + "." + digitsOnly[1..];
            m = m.TrimEnd('0').TrimEnd('.');
            return (neg ? "-" : "") + m + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
        }
        string result;
        if (exp >= 0)
        {
            string intPart = digitsOnly[..(exp + 1)];
            string frac = digitsOnly[(exp + 1)..].TrimEnd('0');
            result = frac.Length > 0 ? intPart + "." + frac : intPart;
        }
        else
        {
            string frac = (new string('0', -exp - 1) + digitsOnly).TrimEnd('0');
            result = "0." + frac;
        }
        return (neg ? "-" : "") + result;
    }
    /// <summary>
    /// C's strtod on a NUL-terminated buffer, as glibc runs it: leading white space, a sign, decimal or hex
    /// (0x, p exponent) digits, inf/infinity, nan/nan(...). Returns the correctly rounded value; consumed is the
    /// number of bytes read (0 when nothing converts); erange is what errno == ERANGE would say (overflow, or a
    /// result below the normal range that is not exact). Reading stops at the first NUL, as in C.
    /// </summary>
    public static double Strtod(ReadOnlySpan<byte> s, out int consumed, out bool erange)
    {
        consumed = 0;
        erange = false;
        int nul = s.IndexOf((byte)0);
        if (nul >= 0) s = s[..nul];
        int i = 0;
        while (i < s.Length && IsSpace(s[i])) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) { neg = s[i] == '-'; i++; }
        if (StartsWithIgnoreCase(s[i..], "inf"))
        {
            consumed = StartsWithIgnoreCase(s[i..], "infinity") ? i + 8 : i + 3;
            return neg ? double.NegativeInfinity : double.PositiveInfinity;
        }
        if (StartsWithIgnoreCase(s[i..], "nan"))
        {
            int j = i + 3;
            if (j < s.Length && s[j] == '(')
            {
                int k = j + 1;
                while (k < s.Length && (char.IsAsciiLetterOrDigit((char)s[k]) || s[k] == '_')) k++;
                if (k < s.Length && s[k] == ')') j = k + 1;
            }
            consumed = j;
            return double.NaN;
        }
        if (i + 1 < s.Length && s[i] == '0' && (s[i + 1] | 0x20) == 'x')
        {
            int j = i + 2;
            if (j < s.Length && (IsHex(s[j]) || (s[j] == '.' && j + 1 < s.Length && IsHex(s[j + 1]))))
                return StrtodHex(s, j, neg, out consumed, out erange);
        }
        // decimal: digits [. digits] [e [sign] digits], at least one digit
        int start = i, digits = 0;
        while (i < s.Length && char.IsAsciiDigit((char)s[i])) { i++; digits++; }
        if (i < s.Length && s[i] == '.')
        {
            i++;
            while (i < s.Length && char.IsAsciiDigit((char)s[i])) { i++; digits++; }
        }
        if (digits == 0) return 0;
        int mantissaEnd = i;
        if (i < s.Length && (s[i] | 0x20) == 'e')
        {
            int j = i + 1;
            if (j < s.Length && (s[j] == '+' || s[j] == '-')) j++;
            if (j < s.Length && char.IsAsciiDigit((char)s[j]))
            {
                while (j < s.Length && char.IsAsciiDigit((char)s[j])) j++;
                i = j;
            }
        }
        consumed = i;
        var text = Encoding.ASCII.GetString(s[start..i]);
        double v = double.Parse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture);
        if (double.IsInfinity(v)) erange = true;
        else if (Math.Abs(v) < 2.2250738585072014E-308 && !DecimalIsExactly(s[start..mantissaEnd], s[mantissaEnd..i], v))
            erange = true;
        return neg ? -v : v;
    }

    static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);

    static bool StartsWithIgnoreCase(ReadOnlySpan<byte> s, string lower)
    {
        if (s.Length < lower.Length) return false;
        for (int k = 0; k < lower.Length; k++)
            if ((s[k] | 0x20) != lower[k]) return false;
        return true;
    }

    /// <summary>Whether the decimal mantissa·10^exponent equals v (a zero or subnormal double) exactly.</summary>
    static bool DecimalIsExactly(ReadOnlySpan<byte> mantissa, ReadOnlySpan<byte> exponent, double v)
    {
        BigInteger d = 0;
        long e10 = 0;
        bool frac = false;
        foreach (byte c in mantissa)
        {
            if (c == '.') { frac = true; continue; }
            d = d * 10 + (c - '0');
            if (frac) e10--;
        }
        if (exponent.Length > 1)
        {
            long e = 0;
            int k = 1;
            bool eneg = exponent[k] == '-';
            if (exponent[k] == '+' || exponent[k] == '-') k++;
            for (; k < exponent.Length; k++) e = Math.Min(e * 10 + (exponent[k] - '0'), 1_000_000);
            e10 += eneg ? -e : e;
        }
        if (d.IsZero) return true;
        if (v == 0 || e10 >= 0 || e10 < -5000) return false;
        // v = bits·2^-1074 exactly; d·10^e10 == bits·2^-1074  <=>  d·2^1074 == bits·10^-e10
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(v));
        return d << 1074 == bits * BigInteger.Pow(10, (int)-e10);
    }

    static double StrtodHex(ReadOnlySpan<byte> s, int i, bool neg, out int consumed, out bool erange)
    {
        erange = false;
        BigInteger m = 0;
        long e2 = 0;
        bool dot = false;
        for (; i < s.Length; i++)
        {
            byte c = s[i];
            if (c == '.' && !dot) { dot = true; continue; }
            if (!IsHex(c)) break;
            m = m * 16 + Convert.ToInt32(((char)c).ToString(), 16);
            if (dot) e2 -= 4;
        }
        if (i < s.Length && (s[i] | 0x20) == 'p')
        {
            int j = i + 1;
            bool eneg = false;
            if (j < s.Length && (s[j] == '+' || s[j] == '-')) { eneg = s[j] == '-'; j++; }
            if (j < s.Length && char.IsAsciiDigit((char)s[j]))
            {
                long e = 0;
                while (j < s.Length && char.IsAsciiDigit((char)s[j])) { e = Math.Min(e * 10 + (s[j] - '0'), 1_000_000); j++; }
                e2 += eneg ? -e : e;
                i = j;
            }
        }
        consumed = i;
        if (m.IsZero) return neg ? -0.0 : 0.0;
        // Round m·2^e2 to 53 bits (fewer below the normal range), ties to even.
        long top = (long)m.GetBitLength() - 1 + e2;    // exponent of the leading bit
        int precision = top >= -1022 ? 53 : (int)Math.Max(-1, 53 - (-1022 - top));
        long shift = (long)m.GetBitLength() - precision;
        BigInteger q = m;
        bool inexact = false;
        if (shift > 0)
        {
            q = m >> (int)Math.Min(shift, int.MaxValue);
            var rem = m - (q << (int)shift);
            var half = BigInteger.One << (int)(shift - 1);
            inexact = !rem.IsZero;
            if (rem > half || (rem == half && !q.IsEven)) q += 1;
            e2 += shift;
        }
        double v = e2 > 2000 ? double.PositiveInfinity : Math.ScaleB((double)q, (int)Math.Max(e2, -3000));
        if (double.IsInfinity(v)) erange = true;
        else if (v < 2.2250738585072014E-308 && inexact) erange = true;
        return neg ? -v : v;
    }
}
