using System.Globalization;

namespace Cinnabar.Server.Protocol;

/// <summary>
/// C's "%.17g" (Redis's addReplyDouble and score formatting) written straight into a byte span, without the
/// intermediate strings of <see cref="Numbers.FormatDouble17g"/> (same output; "inf"/"-inf" for infinities).
/// </summary>
public static class Double17g
{
    public const int MaxLength = 32;

    public static int Format(double v, Span<byte> dst)
    {
        if (double.IsPositiveInfinity(v)) return Copy("inf"u8, dst);
        if (double.IsNegativeInfinity(v)) return Copy("-inf"u8, dst);
        if (double.IsNaN(v)) return Copy("nan"u8, dst);
        if (v == 0) return Copy(double.IsNegative(v) ? "-0"u8 : "0"u8, dst);
        // Integers below 2^53 print as themselves (17 significant digits cover them exactly).
        if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == Math.Floor(v))
        {
            ((long)v).TryFormat(dst, out int w, default, CultureInfo.InvariantCulture);
            return w;
        }
        Span<char> e = stackalloc char[32];
        v.TryFormat(e, out int n, "E16", CultureInfo.InvariantCulture);   // [-]d.ddddddddddddddddE+ddd
        int pos = 0, o = 0;
        if (e[0] == '-') { dst[o++] = (byte)'-'; pos = 1; }
        Span<byte> digits = stackalloc byte[17];
        digits[0] = (byte)e[pos];
        for (int i = 0; i < 16; i++) digits[i + 1] = (byte)e[pos + 2 + i];
        int ePos = pos + 18;   // 'E'
        int exp = 0;
        bool expNeg = e[ePos + 1] == '-';
        for (int i = ePos + 2; i < n; i++) exp = exp * 10 + (e[i] - '0');
        if (expNeg) exp = -exp;
        int nd = 17;
        while (nd > 1 && digits[nd - 1] == '0') nd--;
        if (exp < -4 || exp >= 17)
        {
            dst[o++] = digits[0];
            if (nd > 1)
            {
                dst[o++] = (byte)'.';
                for (int i = 1; i < nd; i++) dst[o++] = digits[i];
            }
            dst[o++] = (byte)'e';
            dst[o++] = exp < 0 ? (byte)'-' : (byte)'+';
            int a = Math.Abs(exp);
            if (a >= 100) { dst[o++] = (byte)('0' + a / 100); a %= 100; dst[o++] = (byte)('0' + a / 10); dst[o++] = (byte)('0' + a % 10); }
            else { dst[o++] = (byte)('0' + a / 10); dst[o++] = (byte)('0' + a % 10); }
            return o;
        }
        if (exp >= 0)
        {
            for (int i = 0; i <= exp; i++) dst[o++] = i < nd ? digits[i] : (byte)'0';
            if (nd > exp + 1)
            {
                dst[o++] = (byte)'.';
                for (int i = exp + 1; i < nd; i++) dst[o++] = digits[i];
            }
            return o;
        }
        dst[o++] = (byte)'0';
        dst[o++] = (byte)'.';
        for (int i = 0; i < -exp - 1; i++) dst[o++] = (byte)'0';
        for (int i = 0; i < nd; i++) dst[o++] = digits[i];
        return o;
    }

    static int Copy(ReadOnlySpan<byte> s, Span<byte> dst)
    {
        s.CopyTo(dst);
        return s.Length;
    }
}
