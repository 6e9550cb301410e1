using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Cinnabar.Server.Scripting.Lua.LuaApi;

namespace Cinnabar.Server.Scripting.Lua;

/// <summary>
/// The base-library functions that must see through the sandbox's read-only proxies (or refuse them):
/// rawset, rawget, next, pairs, ipairs, unpack, setmetatable, getmetatable, loadstring and load. They
/// are C functions like the originals, with the originals' argument errors, so a script's tail call to
/// them keeps its frame for error positions.
/// </summary>
public sealed unsafe partial class LuaEngine
{
    int refProxies, refGlobalsProxy, refGlobalsMetaShown, refStringMetaShown, refRawNext, refIpairsAux;
    const string ReadOnlyError = "Attempt to modify a readonly table";

    void RegisterBuiltins()
    {
        lua_rawgeti(L, REGISTRYINDEX, refRealGlobals);
        void F(string name, delegate* unmanaged[Cdecl]<nint, int> fn)
        {
            PushFunction(L, fn);
            RawSetField(L, -2, name);
        }
        F("rawset", &BRawSet);
        F("rawget", &BRawGet);
        F("next", &BNext);
        F("pairs", &BPairs);
        F("ipairs", &BIpairs);
        F("unpack", &BUnpack);
        F("setmetatable", &BSetMetatable);
        F("getmetatable", &BGetMetatable);
        F("loadstring", &BLoadString);
        F("load", &BLoad);
        Pop(L, 1);
    }

    static string ArgErr(nint l, int n, string fname, string msg) => Where(l, 1) + $"bad argument #{n} to '{fname}' ({msg})";

    static bool CheckTable(nint l, int n, string fname, out int rc)
    {
        rc = 0;
        if (lua_type(l, n) == TTABLE) return true;
        rc = Fail(l, ArgErr(l, n, fname, $"table expected, got {TypeName(l, n)}"));
        return false;
    }

    static bool CheckAny(nint l, int n, string fname, out int rc)
    {
        rc = 0;
        if (lua_type(l, n) != TNONE) return true;
        rc = Fail(l, ArgErr(l, n, fname, "value expected"));
        return false;
    }

    /// <summary>If the value at idx (absolute) is a sandbox proxy, replaces it with the table it protects.</summary>
    static bool MapProxy(nint l, int idx)
    {
        var e = Engine;
        lua_rawgeti(l, REGISTRYINDEX, e.refProxies);
        lua_pushvalue(l, idx);
        lua_rawget(l, -2);
        if (lua_type(l, -1) == TNIL)
        {
            Pop(l, 2);
            return false;
        }
        lua_replace(l, idx);
        Pop(l, 1);
        return true;
    }

    static bool IsProxy(nint l, int idx)
    {
        var e = Engine;
        lua_rawgeti(l, REGISTRYINDEX, e.refProxies);
        lua_pushvalue(l, idx);
        lua_rawget(l, -2);
        bool r = lua_type(l, -1) != TNIL;
        Pop(l, 2);
        return r;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BRawSet(nint l)
    {
        if (!CheckTable(l, 1, "rawset", out int rc)) return rc;
        if (!CheckAny(l, 2, "rawset", out rc)) return rc;
        if (!CheckAny(l, 3, "rawset", out rc)) return rc;
        if (IsProxy(l, 1)) return Fail(l, ReadOnlyError);
        if (lua_type(l, 2) == TNIL) return Fail(l, "table index is nil");
        if (lua_type(l, 2) == TNUMBER && double.IsNaN(lua_tonumber(l, 2))) return Fail(l, "table index is NaN");
        lua_settop(l, 3);
        lua_rawset(l, 1);
        return 1;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BRawGet(nint l)
    {
        if (!CheckTable(l, 1, "rawget", out int rc)) return rc;
        if (!CheckAny(l, 2, "rawget", out rc)) return rc;
        MapProxy(l, 1);
        lua_settop(l, 2);
        lua_rawget(l, 1);
        return 1;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BNext(nint l)
    {
        if (!CheckTable(l, 1, "next", out int rc)) return rc;
        MapProxy(l, 1);
        lua_settop(l, 2);
        lua_rawgeti(l, REGISTRYINDEX, Engine.refRawNext);
        lua_insert(l, 1);
        // The original raises "invalid key to 'next'": run it protected and pass its error on.
        if (lua_pcall(l, 2, MULTRET, 0) != 0) return -1;
        return lua_gettop(l);
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BPairs(nint l)
    {
        if (!CheckTable(l, 1, "pairs", out int rc)) return rc;
        MapProxy(l, 1);
        lua_settop(l, 1);
        lua_rawgeti(l, REGISTRYINDEX, Engine.refRawNext);
        lua_insert(l, 1);
        lua_pushnil(l);
        return 3;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BIpairs(nint l)
    {
        if (!CheckTable(l, 1, "ipairs", out int rc)) return rc;
        MapProxy(l, 1);
        lua_settop(l, 1);
        lua_rawgeti(l, REGISTRYINDEX, Engine.refIpairsAux);
        lua_insert(l, 1);
        lua_pushnumber(l, 0);
        return 3;
    }

    static bool OptInt(nint l, int n, string fname, long def, out long v, out int rc)
    {
        rc = 0;
        v = def;
        if (lua_type(l, n) <= TNIL) return true;
        double d = lua_tonumber(l, n);
        if (d == 0 && lua_isnumber(l, n) == 0)
        {
            rc = Fail(l, ArgErr(l, n, fname, $"number expected, got {TypeName(l, n)}"));
            return false;
        }
        v = (int)TruncateToLong(d);
        return true;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BUnpack(nint l)
    {
        if (!CheckTable(l, 1, "unpack", out int rc)) return rc;
        if (!OptInt(l, 2, "unpack", 1, out long i, out rc)) return rc;
        if (!OptInt(l, 3, "unpack", (long)lua_objlen(l, 1), out long e, out rc)) return rc;
        if (i > e) return 0;
        long n = e - i + 1;
        if (n >= int.MaxValue || lua_checkstack(l, (int)n) == 0) return Fail(l, Where(l, 1) + "too many results to unpack");
        for (long k = i; k <= e; k++) lua_rawgeti(l, 1, (int)k);
        return (int)n;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BSetMetatable(nint l)
    {
        int t2 = lua_type(l, 2);
        if (!CheckTable(l, 1, "setmetatable", out int rc)) return rc;
        if (t2 != TNIL && t2 != TTABLE) return Fail(l, ArgErr(l, 2, "setmetatable", "nil or table expected"));
        if (HasMetaField(l, 1, "__metatable")) return Fail(l, Where(l, 1) + "cannot change a protected metatable");
        if (IsProxy(l, 1)) return Fail(l, ReadOnlyError);
        lua_settop(l, 2);
        lua_setmetatable(l, 1);
        return 1;
    }

    /// <summary>luaL_getmetafield: pushes the field and returns true, or pushes nothing.</summary>
    static bool HasMetaField(nint l, int idx, string field)
    {
        if (lua_getmetatable(l, idx) == 0) return false;
        RawGetField(l, -1, field);
        if (lua_type(l, -1) == TNIL)
        {
            Pop(l, 2);
            return false;
        }
        lua_remove(l, -2);
        return true;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BGetMetatable(nint l)
    {
        if (!CheckAny(l, 1, "getmetatable", out int rc)) return rc;
        var e = Engine;
        lua_settop(l, 1);
        lua_rawgeti(l, REGISTRYINDEX, e.refGlobalsProxy);
        bool isGlobals = lua_rawequal(l, 1, 2) != 0;
        Pop(l, 1);
        if (isGlobals)
        {
            lua_rawgeti(l, REGISTRYINDEX, e.refGlobalsMetaShown);
            return 1;
        }
        if (IsProxy(l, 1))
        {
            lua_pushnil(l);
            return 1;
        }
        if (lua_type(l, 1) == TSTRING)
        {
            lua_rawgeti(l, REGISTRYINDEX, e.refStringMetaShown);
            return 1;
        }
        if (lua_getmetatable(l, 1) == 0)
        {
            lua_pushnil(l);
            return 1;
        }
        RawGetField(l, -1, "__metatable");
        if (lua_type(l, -1) != TNIL) return 1;
        Pop(l, 1);
        return 1;
    }

    [DllImport(Lib)] static extern int lua_rawequal(nint L, int a, int b);

    const string BinaryRefused = "binary chunks are not allowed";

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BLoadString(nint l)
    {
        int t = lua_type(l, 1);
        if (t != TSTRING && t != TNUMBER) return Fail(l, ArgErr(l, 1, "loadstring", $"string expected, got {TypeName(l, 1)}"));
        var code = ToBytes(l, 1);
        byte[] name;
        if (lua_type(l, 2) <= TNIL) name = code;
        else
        {
            int t2 = lua_type(l, 2);
            if (t2 != TSTRING && t2 != TNUMBER) return Fail(l, ArgErr(l, 2, "loadstring", $"string expected, got {TypeName(l, 2)}"));
            name = ToBytes(l, 2);
        }
        return Compile(l, code, name);
    }

    static int Compile(nint l, byte[] code, byte[] name)
    {
        lua_settop(l, 0);
        if (code.Length > 0 && code[0] == 0x1b)
        {
            lua_pushnil(l);
            PushString(l, BinaryRefused);
            return 2;
        }
        int nul = Array.IndexOf(name, (byte)0);
        var cname = new byte[(nul < 0 ? name.Length : nul) + 1];
        Array.Copy(name, cname, cname.Length - 1);
        int rc;
        fixed (byte* p = code)
        fixed (byte* n = cname)
            rc = luaL_loadbuffer(l, p, (nuint)code.Length, n);
        if (rc == 0) return 1;
        lua_pushnil(l);
        lua_insert(l, -2);
        return 2;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int BLoad(nint l)
    {
        if (lua_type(l, 1) != TFUNCTION) return Fail(l, ArgErr(l, 1, "load", $"function expected, got {TypeName(l, 1)}"));
        byte[] name = "=(load)"u8.ToArray();
        if (lua_type(l, 2) > TNIL)
        {
            int t2 = lua_type(l, 2);
            if (t2 != TSTRING && t2 != TNUMBER) return Fail(l, ArgErr(l, 2, "load", $"string expected, got {TypeName(l, 2)}"));
            name = ToBytes(l, 2);
        }
        lua_settop(l, 1);
        var code = new List<byte>();
        while (true)
        {
            lua_pushvalue(l, 1);
            if (lua_pcall(l, 0, 1, 0) != 0)
            {
                // The reader's error comes back as load's (nil, message), as lua_load reports it.
                lua_pushnil(l);
                lua_insert(l, -2);
                return 2;
            }
            int t = lua_type(l, -1);
            if (t == TNIL) { Pop(l, 1); break; }
            if (t != TSTRING && t != TNUMBER)
            {
                lua_settop(l, 0);
                lua_pushnil(l);
                PushString(l, "reader function must return a string");
                return 2;
            }
            var piece = ToSpan(l, -1);
            if (piece.Length == 0) { Pop(l, 1); break; }
            foreach (var b in piece) code.Add(b);
            Pop(l, 1);
        }
        return Compile(l, code.ToArray(), name);
    }
}
