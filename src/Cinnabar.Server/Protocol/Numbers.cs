using System.Buffers.Text;
using System.Globalization;

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
}
