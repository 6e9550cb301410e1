using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Cinnabar.Server.Scripting.Lua.LuaApi;

namespace Cinnabar.Server.Scripting.Lua;

/// <summary>
/// The struct library scripts get in Redis (struct.pack, struct.unpack, struct.size): binary packing
/// with endianness (&lt; &gt;), alignment (!n), b B h H l L T i[n] I[n] f d x c[n] s, written from its
/// documented behaviour. Errors come back as FAIL + message for the sandbox wrapper to raise.
/// </summary>
public static unsafe class LuaStruct
{
    const int MaxIntSize = 32, MaxAlign = 8;

    sealed class StructError(string msg) : Exception(msg);

    struct Header
    {
        public bool Little;
        public int Align;
    }

    static int GetNum(string fmt, ref int i, int df)
    {
        if (i >= fmt.Length || !char.IsAsciiDigit(fmt[i])) return df;
        long a = 0;
        while (i < fmt.Length && char.IsAsciiDigit(fmt[i]))
        {
            a = a * 10 + (fmt[i++] - '0');
            if (a > int.MaxValue) throw new StructError("integral size overflow");
        }
        return (int)a;
    }

    static int OptSize(nint l, char opt, string fmt, ref int i)
    {
        switch (opt)
        {
            case 'B': case 'b': return 1;
            case 'H': case 'h': return 2;
            case 'L': case 'l': case 'T': return 8;
            case 'f': return 4;
            case 'd': return 8;
            case 'x': return 1;
            case 'c': return GetNum(fmt, ref i, 1);
            case 'i': case 'I':
            {
                int sz = GetNum(fmt, ref i, 4);
                if (sz > MaxIntSize) throw new StructError(LuaEngine.Where(l, 1) + $"integral size {sz} is larger than limit of {MaxIntSize}");
                return sz;
            }
            default: return 0;
        }
    }

    static int ToAlign(long len, Header h, char opt, int size)
    {
        if (size == 0 || opt == 'c') return 0;
        if (size > h.Align) size = h.Align;
        return (int)((size - (len & (size - 1))) & (size - 1));
    }

    static void ControlOptions(nint l, char opt, string fmt, ref int i, ref Header h, string fname)
    {
        switch (opt)
        {
            case ' ': return;
            case '>': h.Little = false; return;
            case '<': h.Little = true; return;
            case '!':
            {
                int a = GetNum(fmt, ref i, MaxAlign);
                if (a <= 0 || (a & (a - 1)) != 0) throw new StructError(LuaEngine.Where(l, 1) + $"alignment {a} is not a power of 2");
                h.Align = a;
                return;
            }
            default:
                throw new StructError(LuaEngine.Where(l, 1) + $"bad argument #1 to '{fname}' (invalid format option '{opt}')");
        }
    }

    static string ArgError(nint l, int n, string fname, string msg) => LuaEngine.Where(l, 1) + $"bad argument #{n} to '{fname}' ({msg})";

    /// <summary>pack pushes a nil mark after its arguments, so the first missing one reads "nil".</summary>
    static string TypeName(nint l, int n, int nilAt) => n == nilAt ? "nil" : LuaEngine.TypeName(l, n);

    static string CheckString(nint l, int n, string fname, out byte[] s, int nilAt = -1)
    {
        s = null;
        int t = lua_type(l, n);
        if (t != TSTRING && t != TNUMBER) return ArgError(l, n, fname, $"string expected, got {TypeName(l, n, nilAt)}");
        s = ToBytes(l, n);
        return null;
    }

    static double CheckNumber(nint l, int n, string fname, int nilAt = -1)
    {
        double d = lua_tonumber(l, n);
        if (d == 0 && lua_isnumber(l, n) == 0) throw new StructError(ArgError(l, n, fname, $"number expected, got {TypeName(l, n, nilAt)}"));
        return d;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    public static int Pack(nint l)
    {
        try
        {
            string err = CheckString(l, 1, "pack", out var fmtBytes);
            if (err != null) return LuaEngine.Fail(l, err);
            string fmt = CString(fmtBytes);
            int nilAt = lua_gettop(l) + 1;
            var h = new Header { Little = true, Align = 1 };
            int arg = 2;
            long total = 0;
            var b = new List<byte>();
            int i = 0;
            while (i < fmt.Length)
            {
                char opt = fmt[i++];
                int size = OptSize(l, opt, fmt, ref i);
                int toalign = ToAlign(total, h, opt, size);
                total += toalign;
                while (toalign-- > 0) b.Add(0);
                switch (opt)
                {
                    case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
                    {
                        double n = CheckNumber(l, arg++, "pack", nilAt);
                        ulong value = n < 0 ? (ulong)LuaEngine.TruncateToLong(n) : DoubleToULong(n);
                        var buf = new byte[size];
                        if (h.Little) for (int k = 0; k < size; k++) { buf[k] = (byte)value; value = k < 7 ? value >> 8 : 0; }
                        else for (int k = size - 1; k >= 0; k--) { buf[k] = (byte)value; value = size - 1 - k < 7 ? value >> 8 : 0; }
                        b.AddRange(buf);
                        break;
                    }
                    case 'x':
                        b.Add(0);
                        break;
                    case 'f':
                    {
                        float f = (float)CheckNumber(l, arg++, "pack", nilAt);
                        var bytes = BitConverter.GetBytes(f);
                        if (!h.Little) Array.Reverse(bytes);
                        b.AddRange(bytes);
                        break;
                    }
                    case 'd':
                    {
                        double d = CheckNumber(l, arg++, "pack", nilAt);
                        var bytes = BitConverter.GetBytes(d);
                        if (!h.Little) Array.Reverse(bytes);
                        b.AddRange(bytes);
                        break;
                    }
                    case 'c': case 's':
                    {
                        err = CheckString(l, arg++, "pack", out var s, nilAt);
                        if (err != null) return LuaEngine.Fail(l, err);
                        if (size == 0) size = s.Length;
                        if (s.Length < size) return LuaEngine.Fail(l, ArgError(l, arg, "pack", "string too short"));
                        for (int k = 0; k < size; k++) b.Add(s[k]);
                        if (opt == 's') { b.Add(0); size++; }
                        break;
                    }
                    default:
                        ControlOptions(l, opt, fmt, ref i, ref h, "pack");
                        break;
                }
                total += size;
            }
            lua_settop(l, 0);
            PushBytes(l, b.ToArray());
            return 1;
        }
        catch (StructError e) { return LuaEngine.Fail(l, e.Message); }
        catch (Exception e) { return LuaEngine.Fail(l, "struct: " + e.Message); }
    }

    static ulong DoubleToULong(double n)
    {
        if (double.IsNaN(n)) return 0x8000000000000000UL;
        if (n >= 18446744073709551616.0) return 0;
        if (n >= 9223372036854775808.0) return (ulong)(long)(n - 9223372036854775808.0) ^ 0x8000000000000000UL;
        return (ulong)(long)n;
    }

    static string CString(byte[] b)
    {
        int nul = Array.IndexOf(b, (byte)0);
        return Encoding.Latin1.GetString(b, 0, nul < 0 ? b.Length : nul);
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    public static int Unpack(nint l)
    {
        try
        {
            string err = CheckString(l, 1, "unpack", out var fmtBytes);
            if (err != null) return LuaEngine.Fail(l, err);
            err = CheckString(l, 2, "unpack", out var data);
            if (err != null) return LuaEngine.Fail(l, err);
            string fmt = CString(fmtBytes);
            long pos = 1;
            if (lua_type(l, 3) > TNIL)
            {
                double d = CheckNumber(l, 3, "unpack");
                pos = (long)d;
            }
            if (pos <= 0) return LuaEngine.Fail(l, ArgError(l, 3, "unpack", "offset must be 1 or greater"));
            pos--;
            long ld = data.Length;
            var h = new Header { Little = true, Align = 1 };
            var results = new List<object>();
            int i = 0;
            while (i < fmt.Length)
            {
                char opt = fmt[i++];
                long size = OptSize(l, opt, fmt, ref i);
                pos += ToAlign(pos, h, opt, (int)size);
                if (!(size <= ld && pos <= ld - size)) return LuaEngine.Fail(l, ArgError(l, 2, "unpack", "data string too short"));
                switch (opt)
                {
                    case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
                    {
                        bool signed = char.IsLower(opt);
                        ulong v = 0;
                        if (!h.Little) for (int k = 0; k < size; k++) v = (v << 8) | data[pos + k];
                        else for (long k = size - 1; k >= 0; k--) v = (v << 8) | data[pos + k];
                        if (!signed) results.Add((double)v);
                        else
                        {
                            int shift = (int)(size * 8 - 1) & 63;
                            ulong mask = ulong.MaxValue << shift;
                            if ((v & mask) != 0) v |= mask;
                            results.Add((double)(long)v);
                        }
                        break;
                    }
                    case 'x':
                        break;
                    case 'f':
                    {
                        var bytes = data.AsSpan((int)pos, 4).ToArray();
                        if (!h.Little) Array.Reverse(bytes);
                        results.Add((double)BitConverter.ToSingle(bytes));
                        break;
                    }
                    case 'd':
                    {
                        var bytes = data.AsSpan((int)pos, 8).ToArray();
                        if (!h.Little) Array.Reverse(bytes);
                        results.Add(BitConverter.ToDouble(bytes));
                        break;
                    }
                    case 'c':
                    {
                        if (size == 0)
                        {
                            if (results.Count == 0 || results[^1] is not double && !(results[^1] is byte[] bb && double.TryParse(Encoding.Latin1.GetString(bb), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)))
                                return LuaEngine.Fail(l, LuaEngine.Where(l, 1) + "format 'c0' needs a previous size");
                            var prev = results[^1];
                            size = prev is double pd ? (long)pd : (long)double.Parse(Encoding.Latin1.GetString((byte[])prev), System.Globalization.CultureInfo.InvariantCulture);
                            results.RemoveAt(results.Count - 1);
                            if (!(size <= ld && pos <= ld - size)) return LuaEngine.Fail(l, ArgError(l, 2, "unpack", "data string too short"));
                        }
                        results.Add(data.AsSpan((int)pos, (int)size).ToArray());
                        break;
                    }
                    case 's':
                    {
                        int e = Array.IndexOf(data, (byte)0, (int)pos);
                        if (e < 0) return LuaEngine.Fail(l, LuaEngine.Where(l, 1) + "unfinished string in data");
                        size = e - pos + 1;
                        results.Add(data.AsSpan((int)pos, (int)size - 1).ToArray());
                        break;
                    }
                    default:
                        ControlOptions(l, opt, fmt, ref i, ref h, "unpack");
                        break;
                }
                pos += size;
            }
            lua_settop(l, 0);
            lua_checkstack(l, results.Count + 2);
            foreach (var r in results)
            {
                if (r is double d) lua_pushnumber(l, d);
                else PushBytes(l, (byte[])r);
            }
            lua_pushnumber(l, pos + 1);
            return results.Count + 1;
        }
        catch (StructError e) { return LuaEngine.Fail(l, e.Message); }
        catch (Exception e) { return LuaEngine.Fail(l, "struct: " + e.Message); }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    public static int Size(nint l)
    {
        try
        {
            string err = CheckString(l, 1, "size", out var fmtBytes);
            if (err != null) return LuaEngine.Fail(l, err);
            string fmt = CString(fmtBytes);
            var h = new Header { Little = true, Align = 1 };
            long pos = 0;
            int i = 0;
            while (i < fmt.Length)
            {
                char opt = fmt[i++];
                int size = OptSize(l, opt, fmt, ref i);
                pos += ToAlign(pos, h, opt, size);
                if (opt == 's') return LuaEngine.Fail(l, ArgError(l, 1, "size", "option 's' has no fixed size"));
                if (opt == 'c' && size == 0) return LuaEngine.Fail(l, ArgError(l, 1, "size", "option 'c0' has no fixed size"));
                if (!"bBhHlLTiIfdxc".Contains(opt)) ControlOptions(l, opt, fmt, ref i, ref h, "size");
                pos += size;
            }
            lua_settop(l, 0);
            lua_pushnumber(l, pos);
            return 1;
        }
        catch (StructError e) { return LuaEngine.Fail(l, e.Message); }
        catch (Exception e) { return LuaEngine.Fail(l, "struct: " + e.Message); }
    }
}
