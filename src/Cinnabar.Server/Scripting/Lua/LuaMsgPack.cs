using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Cinnabar.Server.Scripting.Lua.LuaApi;

namespace Cinnabar.Server.Scripting.Lua;

/// <summary>
/// cmsgpack as Redis ships it (lua-cmsgpack 0.4.0's behaviour): pack(...) concatenates the encodings of
/// its arguments; tables whose keys are exactly 1..n become arrays, others maps; integral numbers use the
/// smallest integer form, others float32 when exact else float64; nesting stops at 16 levels (nil).
/// unpack, unpack_one(s, [offset]) and unpack_limit(s, limit, [offset]) decode.
/// </summary>
public static unsafe class LuaMsgPack
{
    const int MaxNesting = 16;

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    public static int Pack(nint l)
    {
        try
        {
            int nargs = lua_gettop(l);
            if (nargs == 0) return LuaEngine.Fail(l, LuaEngine.Where(l, 1) + "bad argument #0 to 'pack' (MessagePack pack needs input.)");
            var buf = new List<byte>();
            for (int i = 1; i <= nargs; i++)
            {
                lua_checkstack(l, 4);
                lua_pushvalue(l, i);
                Encode(l, buf, 0);
            }
            lua_settop(l, 0);
            PushBytes(l, buf.ToArray());
            return 1;
        }
        catch (Exception e) { return LuaEngine.Fail(l, "cmsgpack: " + e.Message); }
    }

    /// <summary>Encodes the value on top of the stack and pops it.</summary>
    static void Encode(nint l, List<byte> buf, int level)
    {
        int t = lua_type(l, -1);
        if (t == TTABLE && level == MaxNesting) t = TNIL;
        switch (t)
        {
            case TSTRING: EncodeBytes(buf, ToSpan(l, -1)); break;
            case TBOOLEAN: buf.Add(lua_toboolean(l, -1) != 0 ? (byte)0xc3 : (byte)0xc2); break;
            case TNUMBER:
            {
                double n = lua_tonumber(l, -1);
                if (!double.IsInfinity(n) && !double.IsNaN(n) && n >= -9223372036854775808.0 && n < 9223372036854775808.0 && (double)(long)n == n) EncodeInt(buf, (long)n);
                else EncodeDouble(buf, n);
                break;
            }
            case TTABLE: EncodeTable(l, buf, level); break;
            default: buf.Add(0xc0); break;
        }
        Pop(l, 1);
    }

    static void EncodeBytes(List<byte> buf, ReadOnlySpan<byte> s)
    {
        int len = s.Length;
        if (len < 32) buf.Add((byte)(0xa0 | len));
        else if (len <= 0xff) { buf.Add(0xd9); buf.Add((byte)len); }
        else if (len <= 0xffff) { buf.Add(0xda); buf.Add((byte)(len >> 8)); buf.Add((byte)len); }
        else { buf.Add(0xdb); buf.Add((byte)(len >> 24)); buf.Add((byte)(len >> 16)); buf.Add((byte)(len >> 8)); buf.Add((byte)len); }
        foreach (var b in s) buf.Add(b);
    }

    static void EncodeDouble(List<byte> buf, double d)
    {
        float f = (float)d;
        Span<byte> b = stackalloc byte[8];
        if (d == (double)f)
        {
            buf.Add(0xca);
            BinaryPrimitives.WriteSingleBigEndian(b, f);
            for (int i = 0; i < 4; i++) buf.Add(b[i]);
        }
        else
        {
            buf.Add(0xcb);
            BinaryPrimitives.WriteDoubleBigEndian(b, d);
            for (int i = 0; i < 8; i++) buf.Add(b[i]);
        }
    }

    static void Big(List<byte> buf, byte tag, ulong v, int bytes)
    {
        buf.Add(tag);
        for (int i = bytes - 1; i >= 0; i--) buf.Add((byte)(v >> (8 * i)));
    }

    static void EncodeInt(List<byte> buf, long n)
    {
        if (n >= 0)
        {
            if (n <= 127) buf.Add((byte)n);
            else if (n <= 0xff) Big(buf, 0xcc, (ulong)n, 1);
            else if (n <= 0xffff) Big(buf, 0xcd, (ulong)n, 2);
            else if (n <= 0xffffffffL) Big(buf, 0xce, (ulong)n, 4);
            else Big(buf, 0xcf, (ulong)n, 8);
        }
        else
        {
            if (n >= -32) buf.Add((byte)(sbyte)n);
            else if (n >= -128) Big(buf, 0xd0, (ulong)n, 1);
            else if (n >= -32768) Big(buf, 0xd1, (ulong)n, 2);
            else if (n >= -2147483648L) Big(buf, 0xd2, (ulong)n, 4);
            else Big(buf, 0xd3, (ulong)n, 8);
        }
    }

    static void Header(List<byte> buf, long n, byte fix, byte tag16, byte tag32)
    {
        if (n <= 15) buf.Add((byte)(fix | n));
        else if (n <= 65535) Big(buf, tag16, (ulong)n, 2);
        else Big(buf, tag32, (ulong)n, 4);
    }

    static void EncodeTable(nint l, List<byte> buf, int level)
    {
        lua_checkstack(l, 4);
        // table_is_an_array: only positive integral number keys, and the largest equals the count.
        long count = 0, max = 0;
        bool array = true;
        lua_pushnil(l);
        while (lua_next(l, -2) != 0)
        {
            Pop(l, 1);
            double n;
            if (lua_type(l, -1) != TNUMBER || (n = lua_tonumber(l, -1)) <= 0 || (double)(long)n != n || n > int.MaxValue)
            {
                Pop(l, 1);
                array = false;
                break;
            }
            if ((long)n > max) max = (long)n;
            count++;
        }
        if (array && max == count)
        {
            long len = (long)lua_objlen(l, -1);
            Header(buf, len, 0x90, 0xdc, 0xdd);
            for (long j = 1; j <= len; j++)
            {
                lua_pushnumber(l, j);
                lua_rawget(l, -2);
                Encode(l, buf, level + 1);
            }
            return;
        }
        long pairs = 0;
        lua_pushnil(l);
        while (lua_next(l, -2) != 0)
        {
            Pop(l, 1);
            pairs++;
        }
        Header(buf, pairs, 0x80, 0xde, 0xdf);
        lua_pushnil(l);
        while (lua_next(l, -2) != 0)
        {
            lua_pushvalue(l, -2);
            Encode(l, buf, level + 1);   // key
            Encode(l, buf, level + 1);   // value
        }
    }

    // ------------------------------------------------------------------ decoding

    sealed class Cursor
    {
        public byte[] Data;
        public int Pos;
        public int Err;   // 1 = missing bytes, 2 = bad format
        public int Left => Data.Length - Pos;
    }

    static bool Need(Cursor c, int n)
    {
        if (c.Left < n) { c.Err = 1; return false; }
        return true;
    }

    static void Decode(nint l, Cursor c)
    {
        if (!Need(c, 1)) return;
        lua_checkstack(l, 4);
        var d = c.Data;
        int p = c.Pos;
        byte b = d[p];
        switch (b)
        {
            case 0xcc: if (!Need(c, 2)) return; lua_pushnumber(l, d[p + 1]); c.Pos += 2; return;
            case 0xd0: if (!Need(c, 2)) return; lua_pushnumber(l, (sbyte)d[p + 1]); c.Pos += 2; return;
            case 0xcd: if (!Need(c, 3)) return; lua_pushnumber(l, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(p + 1))); c.Pos += 3; return;
            case 0xd1: if (!Need(c, 3)) return; lua_pushnumber(l, BinaryPrimitives.ReadInt16BigEndian(d.AsSpan(p + 1))); c.Pos += 3; return;
            case 0xce: if (!Need(c, 5)) return; lua_pushnumber(l, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(p + 1))); c.Pos += 5; return;
            case 0xd2: if (!Need(c, 5)) return; lua_pushnumber(l, BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(p + 1))); c.Pos += 5; return;
            case 0xcf: if (!Need(c, 9)) return; lua_pushnumber(l, BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(p + 1))); c.Pos += 9; return;
            case 0xd3: if (!Need(c, 9)) return; lua_pushnumber(l, BinaryPrimitives.ReadInt64BigEndian(d.AsSpan(p + 1))); c.Pos += 9; return;
            case 0xc0: lua_pushnil(l); c.Pos += 1; return;
            case 0xc3: lua_pushboolean(l, 1); c.Pos += 1; return;
            case 0xc2: lua_pushboolean(l, 0); c.Pos += 1; return;
            case 0xca: if (!Need(c, 5)) return; lua_pushnumber(l, BinaryPrimitives.ReadSingleBigEndian(d.AsSpan(p + 1))); c.Pos += 5; return;
            case 0xcb: if (!Need(c, 9)) return; lua_pushnumber(l, BinaryPrimitives.ReadDoubleBigEndian(d.AsSpan(p + 1))); c.Pos += 9; return;
            case 0xd9: { if (!Need(c, 2)) return; int n = d[p + 1]; if (!Need(c, 2 + n)) return; PushBytes(l, d.AsSpan(p + 2, n)); c.Pos += 2 + n; return; }
            case 0xda: { if (!Need(c, 3)) return; int n = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(p + 1)); if (!Need(c, 3 + n)) return; PushBytes(l, d.AsSpan(p + 3, n)); c.Pos += 3 + n; return; }
            case 0xdb:
            {
                if (!Need(c, 5)) return;
                long n = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(p + 1));
                if (c.Left < 5 + n) { c.Err = 1; return; }
                PushBytes(l, d.AsSpan(p + 5, (int)n)); c.Pos += 5 + (int)n; return;
            }
            case 0xdc: { if (!Need(c, 3)) return; int n = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(p + 1)); c.Pos += 3; DecodeArray(l, c, n); return; }
            case 0xdd: { if (!Need(c, 5)) return; long n = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(p + 1)); c.Pos += 5; DecodeArray(l, c, n); return; }
            case 0xde: { if (!Need(c, 3)) return; int n = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(p + 1)); c.Pos += 3; DecodeMap(l, c, n); return; }
            case 0xdf: { if (!Need(c, 5)) return; long n = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(p + 1)); c.Pos += 5; DecodeMap(l, c, n); return; }
        }
        if (b <= 0x7f) { lua_pushnumber(l, b); c.Pos += 1; return; }
        if (b >= 0xe0) { lua_pushnumber(l, (sbyte)b); c.Pos += 1; return; }
        if ((b & 0xe0) == 0xa0)
        {
            int n = b & 0x1f;
            if (!Need(c, 1 + n)) return;
            PushBytes(l, d.AsSpan(p + 1, n));
            c.Pos += 1 + n;
            return;
        }
        if ((b & 0xf0) == 0x90) { c.Pos += 1; DecodeArray(l, c, b & 0xf); return; }
        if ((b & 0xf0) == 0x80) { c.Pos += 1; DecodeMap(l, c, b & 0xf); return; }
        c.Err = 2;
    }

    static void DecodeArray(nint l, Cursor c, long len)
    {
        NewTable(l);
        int index = 1;
        while (len-- > 0)
        {
            lua_pushnumber(l, index++);
            Decode(l, c);
            if (c.Err != 0) return;
            lua_rawset(l, -3);
        }
    }

    static void DecodeMap(nint l, Cursor c, long len)
    {
        NewTable(l);
        while (len-- > 0)
        {
            Decode(l, c);
            if (c.Err != 0) return;
            Decode(l, c);
            if (c.Err != 0) return;
            if (lua_type(l, -2) == TNIL) { Pop(l, 2); continue; }   // a nil key cannot be stored
            lua_rawset(l, -3);
        }
    }

    static int UnpackFull(nint l, byte[] s, long limit, long offset)
    {
        bool decodeAll = limit == 0 && offset == 0;
        if (offset < 0 || limit < 0)
            return LuaEngine.Fail(l, LuaEngine.Where(l, 1) + $"Invalid request to unpack with offset of {offset} and limit of {s.Length}.");
        if (offset > s.Length)
            return LuaEngine.Fail(l, LuaEngine.Where(l, 1) + $"Start offset {offset} greater than input length {s.Length}.");
        if (decodeAll) limit = int.MaxValue;
        string where = LuaEngine.Where(l, 1);
        lua_settop(l, 0);
        var c = new Cursor { Data = s, Pos = (int)offset };
        int cnt = 0;
        for (; c.Left > 0 && cnt < limit; cnt++)
        {
            Decode(l, c);
            if (c.Err == 1) return LuaEngine.Fail(l, where + "Missing bytes in input.");
            if (c.Err == 2) return LuaEngine.Fail(l, where + "Bad data format in input.");
        }
        if (!decodeAll)
        {
            lua_checkstack(l, 1);
            lua_pushnumber(l, c.Left == 0 ? -1 : c.Pos);
            lua_insert(l, 1);
            cnt++;
        }
        return cnt;
    }

    static string CheckString(nint l, int n, string fname, out byte[] s)
    {
        s = null;
        int t = lua_type(l, n);
        if (t != TSTRING && t != TNUMBER) return LuaEngine.Where(l, 1) + $"bad argument #{n} to '{fname}' (string expected, got {LuaEngine.TypeName(l, n)})";
        s = ToBytes(l, n);
        return null;
    }

    static bool OptInteger(nint l, int n, string fname, long def, out long v, out string err)
    {
        v = def;
        err = null;
        if (lua_type(l, n) <= TNIL) return true;
        double d = lua_tonumber(l, n);
        if (d == 0 && lua_isnumber(l, n) == 0)
        {
            err = LuaEngine.Where(l, 1) + $"bad argument #{n} to '{fname}' (number expected, got {LuaEngine.TypeName(l, n)})";
            return false;
        }
        v = (long)d;
        return true;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    public static int Unpack(nint l)
    {
        try
        {
            string err = CheckString(l, 1, "unpack", out var s);
            if (err != null) return LuaEngine.Fail(l, err);
            return UnpackFull(l, s, 0, 0);
        }
        catch (Exception e) { return LuaEngine.Fail(l, "cmsgpack: " + e.Message); }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    public static int UnpackOne(nint l)
    {
        try
        {
            if (!OptInteger(l, 2, "unpack_one", 0, out long offset, out string err)) return LuaEngine.Fail(l, err);
            err = CheckString(l, 1, "unpack_one", out var s);
            if (err != null) return LuaEngine.Fail(l, err);
            return UnpackFull(l, s, 1, (int)offset);
        }
        catch (Exception e) { return LuaEngine.Fail(l, "cmsgpack: " + e.Message); }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    public static int UnpackLimit(nint l)
    {
        try
        {
            if (lua_type(l, 2) <= TNIL || lua_isnumber(l, 2) == 0)
                return LuaEngine.Fail(l, LuaEngine.Where(l, 1) + $"bad argument #2 to 'unpack_limit' (number expected, got {LuaEngine.TypeName(l, 2)})");
            long limit = (long)lua_tonumber(l, 2);
            if (!OptInteger(l, 3, "unpack_limit", 0, out long offset, out string err)) return LuaEngine.Fail(l, err);
            err = CheckString(l, 1, "unpack_limit", out var s);
            if (err != null) return LuaEngine.Fail(l, err);
            return UnpackFull(l, s, (int)limit, (int)offset);
        }
        catch (Exception e) { return LuaEngine.Fail(l, "cmsgpack: " + e.Message); }
    }
}
