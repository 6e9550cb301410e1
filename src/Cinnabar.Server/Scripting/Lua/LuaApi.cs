using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cinnabar.Server.Scripting.Lua;

/// <summary>
/// The Lua 5.1 C API, bound from Debian's liblua5.1.so.0 (see Scripting/README.md for why 5.1 and why this
/// library). The library is opened with RTLD_GLOBAL first so the Debian module packages (cjson.so, bit.so),
/// which do not link liblua themselves, can resolve the lua_* symbols when they are dlopen'ed.
///
/// Rule for every callback written in C#: it must never make Lua raise an error (lua_error, luaL_error, a
/// metamethod or an allocation failure would longjmp over managed frames). Callbacks return error markers
/// and a Lua-side wrapper raises; see LuaEngine.
/// </summary>
public static unsafe class LuaApi
{
    public const string Lib = "liblua5.1.so.0";
    public const int REGISTRYINDEX = -10000;
    public const int ENVIRONINDEX = -10001;
    public const int GLOBALSINDEX = -10002;
    public const int MULTRET = -1;

    public const int TNONE = -1, TNIL = 0, TBOOLEAN = 1, TLIGHTUSERDATA = 2, TNUMBER = 3, TSTRING = 4,
        TTABLE = 5, TFUNCTION = 6, TUSERDATA = 7, TTHREAD = 8;

    public const int MASKCALL = 1, MASKRET = 2, MASKLINE = 4, MASKCOUNT = 8;
    public const int GCCOLLECT = 2, GCCOUNT = 3, GCSTEP = 5;
    public const int ERRRUN = 2, ERRSYNTAX = 3, ERRMEM = 4, ERRERR = 5;

    /// <summary>lua_Debug as laid out by Lua 5.1 on x86-64 (LUA_IDSIZE 60).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Debug
    {
        public int Event;
        public byte* Name, NameWhat, What, Source;
        public int CurrentLine, Nups, LineDefined, LastLineDefined;
        public fixed byte ShortSrc[60];
        public int ICi;
    }

    static bool? available;
    static string loadError;

    /// <summary>True when liblua5.1 could be loaded (once per process).</summary>
    public static bool Available
    {
        get
        {
            if (available == null)
            {
                // CINNABAR_LUA_LIB names another library to probe (tests use a missing one).
                nint h = dlopen(Environment.GetEnvironmentVariable("CINNABAR_LUA_LIB") ?? Lib, RTLD_NOW | RTLD_GLOBAL);
                if (h == 0)
                {
                    nint e = dlerror();
                    loadError = e == 0 ? "dlopen failed" : Marshal.PtrToStringUTF8(e);
                    available = false;
                }
                else if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
                {
                    loadError = "the C# to Lua error bridge supports x86-64 only";
                    available = false;
                }
                else
                {
                    LuaErrorFunction = dlsym(h, "lua_error");
                    available = LuaErrorFunction != 0;
                }
            }
            return available.Value;
        }
    }

    public static string LoadError => loadError;

    // Calls marked SuppressGCTransition are short and never run Lua code (so never call back into C#).

    /// <summary>The address of lua_error itself, installed as a hook to raise from inside the VM (SCRIPT KILL).</summary>
    public static nint LuaErrorFunction;

    const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
    [DllImport("libc", EntryPoint = "dlopen")] public static extern nint dlopen(string file, int mode);
    [DllImport("libc", EntryPoint = "dlsym")] public static extern nint dlsym(nint handle, string name);
    [DllImport("libc", EntryPoint = "dlerror")] static extern nint dlerror();

    /// <summary>Opens a Lua C module (Debian's lua-cjson / lua-bitop) and returns its luaopen_* function, or 0.</summary>
    public static nint OpenModule(string[] paths, string entry)
    {
        foreach (var p in paths)
        {
            if (!File.Exists(p)) continue;
            nint h = dlopen(p, RTLD_NOW);
            if (h == 0) continue;
            nint f = dlsym(h, entry);
            if (f != 0) return f;
        }
        return 0;
    }

    [DllImport(Lib)] public static extern nint luaL_newstate();
    [DllImport(Lib)] public static extern void lua_close(nint L);
    [DllImport(Lib)] public static extern int luaopen_base(nint L);
    [DllImport(Lib)] public static extern int luaopen_table(nint L);
    [DllImport(Lib)] public static extern int luaopen_string(nint L);
    [DllImport(Lib)] public static extern int luaopen_math(nint L);
    [DllImport(Lib)] public static extern int luaopen_debug(nint L);

    [DllImport(Lib), SuppressGCTransition] public static extern int lua_gettop(nint L);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_settop(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_pushvalue(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_remove(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_insert(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_replace(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern int lua_checkstack(nint L, int sz);

    [DllImport(Lib), SuppressGCTransition] public static extern int lua_type(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern int lua_isnumber(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern int lua_isstring(nint L, int idx);
    [DllImport(Lib)] public static extern int lua_iscfunction(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern double lua_tonumber(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern int lua_toboolean(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern byte* lua_tolstring(nint L, int idx, nuint* len);
    [DllImport(Lib), SuppressGCTransition] public static extern nuint lua_objlen(nint L, int idx);
    [DllImport(Lib)] public static extern nint lua_touserdata(nint L, int idx);
    [DllImport(Lib)] public static extern nint lua_topointer(nint L, int idx);

    [DllImport(Lib), SuppressGCTransition] public static extern void lua_pushnil(nint L);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_pushnumber(nint L, double n);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_pushlstring(nint L, byte* s, nuint len);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_pushcclosure(nint L, nint fn, int n);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_pushboolean(nint L, int b);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_pushlightuserdata(nint L, nint p);

    [DllImport(Lib)] public static extern void lua_gettable(nint L, int idx);
    [DllImport(Lib)] public static extern void lua_getfield(nint L, int idx, byte* k);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_rawget(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_rawgeti(nint L, int idx, int n);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_createtable(nint L, int narr, int nrec);
    [DllImport(Lib)] public static extern int lua_getmetatable(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_rawset(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern void lua_rawseti(nint L, int idx, int n);
    [DllImport(Lib)] public static extern int lua_setmetatable(nint L, int idx);
    [DllImport(Lib), SuppressGCTransition] public static extern int lua_next(nint L, int idx);

    [DllImport(Lib)] public static extern void lua_call(nint L, int nargs, int nresults);
    [DllImport(Lib)] public static extern int lua_pcall(nint L, int nargs, int nresults, int errfunc);
    [DllImport(Lib)] public static extern int luaL_loadbuffer(nint L, byte* buff, nuint sz, byte* name);
    [DllImport(Lib)] public static extern int lua_gc(nint L, int what, int data);
    [DllImport(Lib)] public static extern int luaL_ref(nint L, int t);
    [DllImport(Lib)] public static extern void luaL_unref(nint L, int t, int r);

    [DllImport(Lib)] public static extern int lua_sethook(nint L, nint func, int mask, int count);
    [DllImport(Lib)] public static extern int lua_getstack(nint L, int level, Debug* ar);
    [DllImport(Lib)] public static extern int lua_getinfo(nint L, byte* what, Debug* ar);

    // ---- small helpers ----

    public static void Pop(nint L, int n) => lua_settop(L, -n - 1);
    public static void NewTable(nint L) => lua_createtable(L, 0, 0);

    public static void PushBytes(nint L, ReadOnlySpan<byte> s)
    {
        fixed (byte* p = s) lua_pushlstring(L, p, (nuint)s.Length);
    }

    public static void PushString(nint L, string s)
    {
        int n = Encoding.Latin1.GetByteCount(s);
        Span<byte> buf = n <= 256 ? stackalloc byte[n] : new byte[n];
        Encoding.Latin1.GetBytes(s, buf);
        PushBytes(L, buf);
    }

    /// <summary>The bytes of a string (or number, converted in place as Lua does) at idx; null for other types.</summary>
    public static ReadOnlySpan<byte> ToSpan(nint L, int idx)
    {
        nuint len;
        byte* p = lua_tolstring(L, idx, &len);
        return p == null ? default : new ReadOnlySpan<byte>(p, (int)len);
    }

    public static bool IsStringOrNumber(nint L, int idx) => lua_isstring(L, idx) != 0;

    public static byte[] ToBytes(nint L, int idx)
    {
        nuint len;
        byte* p = lua_tolstring(L, idx, &len);
        return p == null ? null : new ReadOnlySpan<byte>(p, (int)len).ToArray();
    }

    public static string ToStr(nint L, int idx)
    {
        nuint len;
        byte* p = lua_tolstring(L, idx, &len);
        return p == null ? null : Encoding.Latin1.GetString(p, (int)len);
    }

    /// <summary>Raw t[key] = value for the table at idx with a string key; value is on the stack top (popped).</summary>
    public static void RawSetField(nint L, int idx, string key)
    {
        if (idx < 0 && idx > REGISTRYINDEX) idx--;  // the key pushed below shifts relative indices
        PushString(L, key);
        lua_insert(L, -2);
        lua_rawset(L, idx);
    }

    /// <summary>Pushes raw t[key] for the table at idx.</summary>
    public static void RawGetField(nint L, int idx, string key)
    {
        if (idx < 0 && idx > REGISTRYINDEX) idx--;
        PushString(L, key);
        lua_rawget(L, idx);
    }

    /// <summary>Pushes a C# callback as a Lua C function (through its trampoline, so it may raise).</summary>
    public static void PushFunction(nint L, delegate* unmanaged[Cdecl]<nint, int> fn) => lua_pushcclosure(L, Trampoline((nint)fn), 0);

    // ---- raising errors from C# ----
    //
    // A Lua error is a longjmp; one that crossed a managed frame would corrupt the runtime. So C# callbacks
    // never raise themselves: they return -1 with the error value on top of the Lua stack, and a tiny
    // native trampoline (generated here, x86-64) that called them jumps to lua_error after the managed
    // frame is gone. Being C functions to Lua, they behave exactly like Redis's own (a tail call to them
    // keeps the script's frame, luaL_where-style positions name the script line).
    //
    //   push rbx; mov rbx, rdi; mov rax, target; call rax; test eax, eax; js raise; pop rbx; ret
    //   raise: mov rdi, rbx; pop rbx; mov rax, lua_error; jmp rax

    static readonly Dictionary<nint, nint> trampolines = new();
    static nint codePage;
    static int codeUsed;
    const int PageSize = 4096;

    [DllImport("libc")] static extern nint mmap(nint addr, nuint len, int prot, int flags, int fd, nint off);
    [DllImport("libc")] static extern int mprotect(nint addr, nuint len, int prot);

    /// <summary>The trampoline for a callback (also valid for a hook: rsi passes through untouched).</summary>
    public static nint Trampoline(nint target)
    {
        lock (trampolines)
        {
            if (trampolines.TryGetValue(target, out var t)) return t;
            // A page is written only while no trampoline on it has been handed out to Lua on another
            // thread: engines make all of theirs at startup, the first time (see LuaEngine.Init).
            const int size = 48;
            if (codePage == 0 || codeUsed + size > PageSize)
            {
                codePage = mmap(0, PageSize, 1 | 2, 0x02 | 0x20, -1, 0);
                if (codePage == -1 || codePage == 0) throw new InvalidOperationException("mmap failed");
                codeUsed = 0;
            }
            else mprotect(codePage, PageSize, 1 | 2);
            byte* p = (byte*)codePage + codeUsed;
            int i = 0;
            void B(params byte[] bytes) { foreach (var b in bytes) p[i++] = b; }
            void Q(nint v) { *(long*)(p + i) = v; i += 8; }
            B(0x53);                   // push rbx
            B(0x48, 0x89, 0xfb);       // mov rbx, rdi
            B(0x48, 0xb8); Q(target);  // mov rax, target
            B(0xff, 0xd0);             // call rax
            B(0x85, 0xc0);             // test eax, eax
            B(0x78, 0x02);             // js +2
            B(0x5b);                   // pop rbx
            B(0xc3);                   // ret
            B(0x48, 0x89, 0xdf);       // mov rdi, rbx
            B(0x5b);                   // pop rbx
            B(0x48, 0xb8); Q(LuaErrorFunction); // mov rax, lua_error
            B(0xff, 0xe0);             // jmp rax
            if (mprotect(codePage, PageSize, 1 | 4) != 0) throw new InvalidOperationException("mprotect failed");
            t = (nint)p;
            codeUsed += size;
            trampolines[target] = t;
            return t;
        }
    }

    public static string CString(byte* p) => p == null ? null : Marshal.PtrToStringUTF8((nint)p);
}
