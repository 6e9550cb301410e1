using Stopwatch = System.Diagnostics.Stopwatch;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using static Cinnabar.Server.Scripting.Lua.LuaApi;

namespace Cinnabar.Server.Scripting.Lua;

/// <summary>
/// One Lua 5.1 interpreter with Redis 7.0's environment: the sandbox (Sandbox.lua), the redis.* API, the
/// cjson/bit modules (Debian's) and struct/cmsgpack (C#), and the conversions between Lua values and RESP
/// (script_lua.c's rules). EVAL scripts share one engine; functions have their own, as in Redis.
/// </summary>
public sealed unsafe partial class LuaEngine : IDisposable
{
    public const string SandboxSource = "@cinnabar_sandbox";
    static readonly string[] CjsonPaths = { "/usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so", "/usr/lib/aarch64-linux-gnu/lua/5.1/cjson.so", "/usr/lib/lua/5.1/cjson.so", "/usr/local/lib/lua/5.1/cjson.so" };
    static readonly string[] BitPaths = { "/usr/lib/x86_64-linux-gnu/lua/5.1/bit.so", "/usr/lib/aarch64-linux-gnu/lua/5.1/bit.so", "/usr/lib/lua/5.1/bit.so", "/usr/local/lib/lua/5.1/bit.so" };

    public readonly ScriptingState State;
    public readonly bool FunctionMode;
    public nint L;
    public readonly Client ScriptClient;
    int refRealGlobals, refGlobalsMeta, refLibGlobals, refErrorHandler;
    int gcCount;

    /// <summary>The engine whose Lua code is running on this thread (callbacks find their engine here).</summary>
    [ThreadStatic] static LuaEngine current;

    /// <summary>FUNCTION LOAD in progress: the library being filled, and when its load started.</summary>
    public Functions.LibraryBuilder Loading;
    long loadStartTicks;
    bool loadTimedOut;

    public static string ModuleWarning;

    public LuaEngine(ScriptingState state, bool functionMode)
    {
        State = state;
        FunctionMode = functionMode;
        ScriptClient = new Client(state.Server, 0, -1, "", "") { Authenticated = true, CanBlock = false, Db = state.Server.Dbs[0], IsScriptClient = true };
        var prev = current;
        current = this;
        try { Init(); }
        finally { current = prev; }
    }

    public void Dispose()
    {
        if (L != 0) lua_close(L);
        L = 0;
        ScriptClient.Reply.Release();
    }

    public long MemoryBytes => L == 0 ? 0 : lua_gc(L, GCCOUNT, 0) * 1024L;

    // ------------------------------------------------------------------ setup

    nint countHookTrampoline;

    void Init()
    {
        // Every trampoline is made now, before any runs: making one later flips its code page writable.
        countHookTrampoline = Trampoline((nint)(delegate* unmanaged[Cdecl]<nint, nint, int>)&CountHook);
        Trampoline((nint)(delegate* unmanaged[Cdecl]<nint, nint, int>)&LoadHook);
        L = luaL_newstate();
        OpenLib((nint)(delegate* unmanaged[Cdecl]<nint, int>)&OpenBase, "");
        OpenLib((nint)(delegate* unmanaged[Cdecl]<nint, int>)&OpenTable, "table");
        OpenLib((nint)(delegate* unmanaged[Cdecl]<nint, int>)&OpenString, "string");
        OpenLib((nint)(delegate* unmanaged[Cdecl]<nint, int>)&OpenMath, "math");

        nint cjson = OpenModule(CjsonPaths, "luaopen_cjson");
        if (cjson != 0)
        {
            lua_pushcclosure(L, cjson, 0);
            if (lua_pcall(L, 0, 1, 0) == 0) SetGlobal("cjson");
            else Pop(L, 1);
        }
        nint bit = OpenModule(BitPaths, "luaopen_bit");
        if (bit != 0)
        {
            lua_pushcclosure(L, bit, 0);
            if (lua_pcall(L, 0, 1, 0) == 0) SetGlobal("bit");
            else Pop(L, 1);
        }
        if ((cjson == 0 || bit == 0) && ModuleWarning == null)
        {
            ModuleWarning = $"Lua modules missing ({(cjson == 0 ? "lua-cjson " : "")}{(bit == 0 ? "lua-bitop" : "")}): scripts will not find {(cjson == 0 ? "cjson " : "")}{(bit == 0 ? "bit" : "")}";
            State.Server.Log.Warning(ModuleWarning);
        }

        // The real globals, kept for KEYS/ARGV and for the library loader.
        lua_pushvalue(L, GLOBALSINDEX);
        refRealGlobals = luaL_ref(L, REGISTRYINDEX);

        // Load the sandbox chunk and run it with (G, api, mode).
        var src = LoadSandboxSource();
        fixed (byte* p = src)
        fixed (byte* name = "@cinnabar_sandbox\0"u8)
        {
            if (luaL_loadbuffer(L, p, (nuint)src.Length, name) != 0)
                throw new InvalidOperationException("sandbox: " + ToStr(L, -1));
        }
        lua_pushvalue(L, GLOBALSINDEX);
        PushApi();
        PushString(L, FunctionMode ? "function" : "eval");
        if (lua_pcall(L, 3, 8, 0) != 0) throw new InvalidOperationException("sandbox: " + ToStr(L, -1));
        // stack: P_G, MG, LIBG, real, P_GM, P_strmeta, raw next, ipairs iterator
        refIpairsAux = luaL_ref(L, REGISTRYINDEX);
        refRawNext = luaL_ref(L, REGISTRYINDEX);
        refStringMetaShown = luaL_ref(L, REGISTRYINDEX);
        refGlobalsMetaShown = luaL_ref(L, REGISTRYINDEX);
        refProxies = luaL_ref(L, REGISTRYINDEX);
        refLibGlobals = luaL_ref(L, REGISTRYINDEX);
        refGlobalsMeta = luaL_ref(L, REGISTRYINDEX);
        lua_pushvalue(L, -1);
        refGlobalsProxy = luaL_ref(L, REGISTRYINDEX);
        lua_replace(L, GLOBALSINDEX);   // the proxy becomes the globals of every chunk compiled from now on
        RegisterBuiltins();

        PushFunction(L, &ErrorHandler);
        refErrorHandler = luaL_ref(L, REGISTRYINDEX);
        lua_settop(L, 0);
    }

    static byte[] sandboxSource;

    static byte[] LoadSandboxSource()
    {
        if (sandboxSource != null) return sandboxSource;
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("Sandbox.lua")
            ?? throw new InvalidOperationException("missing resource Sandbox.lua");
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return sandboxSource = ms.ToArray();
    }

    void OpenLib(nint opener, string name)
    {
        lua_pushcclosure(L, opener, 0);
        PushString(L, name);
        if (lua_pcall(L, 1, 0, 0) != 0) throw new InvalidOperationException("luaopen " + name + ": " + ToStr(L, -1));
    }

    // luaopen_* are called through lua_pcall so an error there cannot escape.
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })] static int OpenBase(nint l) => luaopen_base(l);
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })] static int OpenTable(nint l) => luaopen_table(l);
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })] static int OpenString(nint l) => luaopen_string(l);
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })] static int OpenMath(nint l) => luaopen_math(l);

    void SetGlobal(string name)
    {
        PushString(L, name);
        lua_insert(L, -2);
        lua_rawset(L, GLOBALSINDEX);
    }

    void PushApi()
    {
        lua_createtable(L, 0, 32);
        void F(string name, delegate* unmanaged[Cdecl]<nint, int> fn)
        {
            PushFunction(L, fn);
            RawSetField(L, -2, name);
        }
        F("call", &RedisCall);
        F("pcall", &RedisPCall);
        F("sha1hex", &Sha1Hex);
        F("error_reply", &ErrorReply);
        F("status_reply", &StatusReply);
        F("log", &LogCommand);
        F("setresp", &SetResp);
        F("set_repl", &SetRepl);
        F("acl_check_cmd", &AclCheckCmd);
        F("math_random", &MathRandom);
        F("math_randomseed", &MathRandomSeed);
        F("error_handler", &ErrorHandler);
        F("register_function", &RegisterFunction);
        F("struct_pack", &LuaStruct.Pack);
        F("struct_unpack", &LuaStruct.Unpack);
        F("struct_size", &LuaStruct.Size);
        F("msgpack_pack", &LuaMsgPack.Pack);
        F("msgpack_unpack", &LuaMsgPack.Unpack);
        F("msgpack_unpack_one", &LuaMsgPack.UnpackOne);
        F("msgpack_unpack_limit", &LuaMsgPack.UnpackLimit);
        lua_pushlightuserdata(L, 1);
        RawSetField(L, -2, "FAIL");
        PushString(L, CinnabarServer.Version);
        RawSetField(L, -2, "version");
        var v = CinnabarServer.Version.Split('.');
        lua_pushnumber(L, (int.Parse(v[0]) << 16) | (int.Parse(v[1]) << 8) | int.Parse(v[2]));
        RawSetField(L, -2, "version_num");
    }

    // ------------------------------------------------------------------ compile and run

    /// <summary>Compiles a chunk and keeps it in the registry; returns the reference or null with the Lua error.</summary>
    public int? Compile(ReadOnlySpan<byte> code, string chunkName, out string error)
    {
        error = null;
        var prev = current;
        current = this;
        try
        {
            byte[] name = Encoding.Latin1.GetBytes(chunkName + "\0");
            int rc;
            fixed (byte* p = code)
            fixed (byte* n = name)
                rc = luaL_loadbuffer(L, p, (nuint)code.Length, n);
            if (rc != 0)
            {
                error = ToStr(L, -1) ?? "unknown error";
                lua_settop(L, 0);
                return null;
            }
            return luaL_ref(L, REGISTRYINDEX);
        }
        finally { current = prev; }
    }

    public void Unref(int r)
    {
        if (L != 0) luaL_unref(L, REGISTRYINDEX, r);
    }

    /// <summary>
    /// Runs a compiled EVAL script (keys/args become the KEYS/ARGV globals) or a function (called with the
    /// keys and args tables), writing the reply, or the error, to the caller as luaCallFunction does.
    /// </summary>
    public void Run(ScriptRun run, int fnRef, ScriptArgs keysAndArgs)
    {
        var prev = current;
        current = this;
        var c = run.Caller;
        try
        {
            lua_settop(L, 0);
            ScriptClient.Db = c.Db;
            ScriptClient.Reply.Resp3 = false;
            ScriptClient.Reply.Length = ScriptClient.Reply.Sent = 0;
            if (State.Server.Settings.BusyReplyThresholdMs > 0)
                lua_sethook(L, countHookTrampoline, MASKCOUNT, 100000);

            lua_rawgeti(L, REGISTRYINDEX, refErrorHandler);
            lua_rawgeti(L, REGISTRYINDEX, fnRef);
            int rc;
            if (!FunctionMode)
            {
                lua_rawgeti(L, REGISTRYINDEX, refRealGlobals);
                PushBytes(L, "KEYS"u8);
                PushKeys(keysAndArgs);
                lua_rawset(L, -3);
                PushBytes(L, "ARGV"u8);
                PushArgs(keysAndArgs);
                lua_rawset(L, -3);
                Pop(L, 1);
                rc = lua_pcall(L, 0, 1, 1);
            }
            else
            {
                PushKeys(keysAndArgs);
                PushArgs(keysAndArgs);
                rc = lua_pcall(L, 2, 1, 1);
            }
            if (++gcCount == 50)
            {
                lua_gc(L, GCSTEP, 50);
                gcCount = 0;
            }
            if (rc != 0) ReplyError(run, c);
            else
            {
                bool resp3 = ScriptClient.Reply.Resp3;
                LuaToReply(c, resp3);
            }
        }
        finally
        {
            lua_sethook(L, 0, 0, 0);
            lua_settop(L, 0);
            current = prev;
        }
    }

    void PushKeys(ScriptArgs keysAndArgs)
    {
        lua_createtable(L, keysAndArgs.KeyCount, 0);
        for (int i = 0; i < keysAndArgs.KeyCount; i++)
        {
            PushBytes(L, keysAndArgs.Key(i));
            lua_rawseti(L, -2, i + 1);
        }
    }

    void PushArgs(ScriptArgs keysAndArgs)
    {
        lua_createtable(L, keysAndArgs.ArgCount, 0);
        for (int i = 0; i < keysAndArgs.ArgCount; i++)
        {
            PushBytes(L, keysAndArgs.Arg(i));
            lua_rawseti(L, -2, i + 1);
        }
    }

    /// <summary>The error at the top of the stack, as the reply luaCallFunction sends.</summary>
    void ReplyError(ScriptRun run, Client c)
    {
        if (run.Killed)
        {
            // The value thrown by the kill hook is meaningless; the error handler already built the reply
            // table when it could, but with "error in error handling" it could not.
            if (lua_type(L, -1) != TTABLE)
            {
                c.Error($"ERR Script killed by user with SCRIPT KILL... script: {run.Name}, on {run.KilledAt}.");
                return;
            }
        }
        if (lua_type(L, -1) != TTABLE)
        {
            string msg = lua_isstring(L, -1) != 0 ? ToStr(L, -1) : "execution failure";
            if (msg.Length > 100) msg = msg[..100];
            c.Error($"ERR Error running script {run.Name}, {msg}");
            return;
        }
        RawGetField(L, -1, "err");
        string err = lua_isstring(L, -1) != 0 ? ToStr(L, -1) : null;
        Pop(L, 1);
        RawGetField(L, -1, "source");
        string source = lua_isstring(L, -1) != 0 ? ToStr(L, -1) : null;
        Pop(L, 1);
        RawGetField(L, -1, "line");
        string line = lua_isstring(L, -1) != 0 ? ToStr(L, -1) : null;
        Pop(L, 1);
        bool counted = IgnoreErrorStats(L);
        err ??= "ERR unknown error";
        int nul = err.IndexOf('\0');
        if (nul >= 0) err = err[..nul];
        string text = err;
        if (source != null && line != null) text += $" script: {run.Name}, on {source}:{line}.";
        ErrorReply(c, text, counted);
    }

    /// <summary>An error a redis.call already counted in the error stats (ignore_error_stats_update).</summary>
    static bool IgnoreErrorStats(nint l)
    {
        RawGetField(l, -1, "ignore_error_stats_update");
        bool b = lua_type(l, -1) == TBOOLEAN && lua_toboolean(l, -1) != 0;
        Pop(l, 1);
        return b;
    }

    /// <summary>ERR_REPLY_FLAG_NO_STATS_UPDATE: the reply without counting the error a second time.</summary>
    static void ErrorReply(Client c, string text, bool alreadyCounted)
    {
        if (alreadyCounted) c.Reply.Error(text);
        else c.Error(text);
    }

    // ------------------------------------------------------------------ FUNCTION LOAD

    /// <summary>Runs a library's code with the load-time globals so it can call redis.register_function.</summary>
    public bool LoadLibrary(Functions.LibraryBuilder lib, ReadOnlySpan<byte> code, long timeoutMs, out string error)
    {
        error = null;
        var prev = current;
        current = this;
        try
        {
            lua_settop(L, 0);
            SetGlobalsIndex(refLibGlobals);
            byte[] name = "@user_function\0"u8.ToArray();
            int rc;
            fixed (byte* p = code)
            fixed (byte* n = name)
                rc = luaL_loadbuffer(L, p, (nuint)code.Length, n);
            if (rc != 0)
            {
                error = "Error compiling function: " + (ToStr(L, -1) ?? "");
                return false;
            }
            Loading = lib;
            loadStartTicks = Stopwatch.GetTimestamp();
            loadTimedOut = false;
            if (timeoutMs > 0) lua_sethook(L, Trampoline((nint)(delegate* unmanaged[Cdecl]<nint, nint, int>)&LoadHook), MASKCOUNT, 100000);
            rc = lua_pcall(L, 0, 0, 0);
            if (rc != 0)
            {
                string msg;
                if (lua_type(L, -1) == TTABLE)
                {
                    RawGetField(L, -1, "err");
                    msg = lua_isstring(L, -1) != 0 ? ToStr(L, -1) : "";
                    Pop(L, 1);
                }
                else msg = "ERR " + (lua_isstring(L, -1) != 0 ? ToStr(L, -1) : "");
                error = "Error registering functions: " + msg;
                return false;
            }
            return true;
        }
        finally
        {
            Loading = null;
            lua_sethook(L, 0, 0, 0);
            lua_settop(L, 0);
            SetGlobalsIndex(refRealGlobals);
            current = prev;
        }
    }

    /// <summary>Points the globals proxy's __index at the load-time globals or back at the real ones.</summary>
    void SetGlobalsIndex(int which)
    {
        lua_rawgeti(L, REGISTRYINDEX, refGlobalsMeta);
        lua_rawgeti(L, REGISTRYINDEX, which);
        RawSetField(L, -2, "__index");
        Pop(L, 1);
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int LoadHook(nint l, nint ar)
    {
        var e = current;
        if (e == null || e.Loading == null) return 0;
        long ms = (Stopwatch.GetTimestamp() - e.loadStartTicks) * 1000 / Stopwatch.Frequency;
        if (ms > 500 || e.loadTimedOut)
        {
            e.loadTimedOut = true;
            lua_sethook(l, Trampoline((nint)(delegate* unmanaged[Cdecl]<nint, nint, int>)&LoadHook), MASKLINE, 0);
            lua_checkstack(l, 4);
            PushErrorTable(l, "FUNCTION LOAD timeout");
            return -1;
        }
        return 0;
    }

    // ------------------------------------------------------------------ the busy-script hook

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int CountHook(nint l, nint ar)
    {
        var e = current;
        if (e == null) return 0;
        try
        {
            var run = e.State.Current;
            if (run == null) return 0;
            if (run.Killed || e.State.Interrupt(run))
            {
                // SCRIPT KILL: raise now, and at every following line and instruction, so a pcall in the
                // script cannot swallow it.
                Debug d;
                if (run.KilledAt == null && lua_getstack(l, 0, &d) != 0)
                {
                    fixed (byte* what = "Sl\0"u8) lua_getinfo(l, what, &d);
                    run.KilledAt = CString(d.Source) + ":" + d.CurrentLine;
                }
                lua_sethook(l, Trampoline((nint)(delegate* unmanaged[Cdecl]<nint, nint, int>)&CountHook), MASKLINE | MASKCOUNT, 1);
                lua_checkstack(l, 4);
                PushErrorTable(l, "Script killed by user with SCRIPT KILL...");
                return -1;
            }
        }
        catch (Exception ex)
        {
            e.State.Server.Log.Warning("script hook: " + ex.Message);
        }
        return 0;
    }

    // ------------------------------------------------------------------ the error handler

    /// <summary>
    /// __redis__err__handler: turns what was raised into {err=..., source=..., line=...} where source/line
    /// are the script's own frame (the caller when a C function, or this sandbox, raised).
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int ErrorHandler(nint l)
    {
        try
        {
            var e = current;
            lua_settop(l, 1);
            Debug d;
            bool have = FindUserFrame(l, out d);
            string source = have ? CString(d.Source) : null;
            int line = have ? d.CurrentLine : 0;
            if (lua_type(l, 1) != TTABLE)
            {
                string msg = ToDisplayString(l, 1);
                const string prefix = "cinnabar_sandbox:";
                if (msg.StartsWith(prefix, StringComparison.Ordinal))
                {
                    int sep = msg.IndexOf(": ", prefix.Length, StringComparison.Ordinal);
                    if (sep > 0)
                    {
                        msg = msg[(sep + 2)..];
                        if (have && line > 0) msg = ShortSrc(ref d) + ":" + line + ": " + msg;
                    }
                }
                lua_settop(l, 0);
                NewTable(l);
                PushString(l, "ERR " + msg);
                RawSetField(l, -2, "err");
            }
            if (have)
            {
                PushString(l, source ?? "?");
                RawSetField(l, 1, "source");
                lua_pushnumber(l, line);
                RawSetField(l, 1, "line");
            }
            return 1;
        }
        catch
        {
            return 1;
        }
    }

    /// <summary>The frame Redis reports for an error: the raiser, or its caller when the raiser is C;
    /// frames of this sandbox's wrappers (and the tail calls they make) are skipped.</summary>
    static bool FindUserFrame(nint l, out Debug d)
    {
        d = default;
        int level = 1;
        fixed (Debug* pd = &d)
        fixed (byte* what = "nSl\0"u8)
        {
            if (lua_getstack(l, level, pd) == 0) return false;
            lua_getinfo(l, what, pd);
            if (IsC(pd))
            {
                level++;
                if (lua_getstack(l, level, pd) == 0) return false;
                lua_getinfo(l, what, pd);
            }
            bool skipped = false;
            while (IsSandbox(pd) || (skipped && (IsTail(pd) || IsC(pd))))
            {
                skipped = true;
                level++;
                if (lua_getstack(l, level, pd) == 0) return false;
                lua_getinfo(l, what, pd);
            }
        }
        return true;
    }

    static bool IsC(Debug* d) => d->What != null && d->What[0] == (byte)'C' && d->What[1] == 0;
    static bool IsTail(Debug* d) => d->What != null && d->What[0] == (byte)'t';
    static bool IsSandbox(Debug* d) => CString(d->Source) == SandboxSource;

    static string ShortSrc(ref Debug d)
    {
        fixed (byte* p = d.ShortSrc) return CString(p);
    }

    /// <summary>tostring() of a raised value, without running Lua code.</summary>
    static string ToDisplayString(nint l, int idx)
    {
        switch (lua_type(l, idx))
        {
            case TNIL: return "nil";
            case TBOOLEAN: return lua_toboolean(l, idx) != 0 ? "true" : "false";
            case TNUMBER:
            case TSTRING: return ToStr(l, idx);
            default:
                string tn = lua_type(l, idx) switch
                {
                    TTABLE => "table", TFUNCTION => "function", TUSERDATA => "userdata", TLIGHTUSERDATA => "userdata", TTHREAD => "thread", _ => "?",
                };
                return tn + ": 0x" + lua_topointer(l, idx).ToString("x14");
        }
    }

    /// <summary>luaL_where(L, level) for a C# function called through a sandbox wrapper (level 2 = the script).</summary>
    public static string Where(nint l, int level)
    {
        Debug d;
        if (lua_getstack(l, level, &d) == 0) return "";
        fixed (byte* what = "Sl\0"u8) lua_getinfo(l, what, &d);
        if (d.CurrentLine > 0) return ShortSrc(ref d) + ":" + d.CurrentLine + ": ";
        return "";
    }

    // ------------------------------------------------------------------ callback plumbing

    /// <summary>Raises msg (luaL_error: the caller passes Where(l, 1) + text): the trampoline calls lua_error.</summary>
    public static int Fail(nint l, string msg)
    {
        lua_checkstack(l, 2);
        PushString(l, msg);
        return -1;
    }

    /// <summary>Raises {err=...}, as luaPushError + luaError do.</summary>
    static int FailTable(nint l, string msg)
    {
        lua_checkstack(l, 4);
        PushErrorTable(l, msg);
        return -1;
    }

    /// <summary>luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets "ERR "; newlines trimmed.</summary>
    public static void PushErrorTable(nint l, string error)
    {
        string code, msg;
        if (error.Length > 0 && error[0] == '-')
        {
            int sp = error.IndexOf(' ');
            if (sp < 0) { msg = error[1..]; code = "ERR"; }
            else { code = error[1..sp]; msg = error[(sp + 1)..]; }
        }
        else { msg = error; code = "ERR"; }
        msg = msg.Trim('\r', '\n');
        string final = code + " " + msg;
        int nul = final.IndexOf('\0');
        if (nul >= 0) final = final[..nul];
        NewTable(l);
        PushString(l, final);
        RawSetField(l, -2, "err");
    }

    static LuaEngine Engine => current;

    // ------------------------------------------------------------------ redis.*

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int RedisCall(nint l) => GenericCall(l, true);

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int RedisPCall(nint l) => GenericCall(l, false);

    /// <summary>redis.call / redis.pcall (luaRedisGenericCommand): the reply, or its error raised by call.</summary>
    static int GenericCall(nint l, bool raise)
    {
        try
        {
            var e = Engine;
            var run = e?.State.Current;
            if (run == null || run.Engine != e)
                return FailTable(l, "redis.call/pcall can only be called inside a script invocation");
            int argc = lua_gettop(l);
            string err = null;
            var sc = e.ScriptClient;
            if (argc == 0) err = "Please specify at least one argument for this redis lib call";
            else
            {
                // The arguments go into the script client's own request buffer, reused call after call.
                var request = sc.Request;
                request.BeginArgs();
                Span<byte> num = stackalloc byte[64];
                for (int i = 0; i < argc; i++)
                {
                    int t = lua_type(l, i + 1);
                    if (t == TNUMBER) request.AppendArg(num[..FormatG17(lua_tonumber(l, i + 1), num)]);
                    else if (t == TSTRING) request.AppendArg(ToSpan(l, i + 1));
                    else { err = "Lua redis lib command arguments must be strings or integers"; break; }
                }
            }
            lua_settop(l, 0);
            if (err != null)
            {
                PushErrorTable(l, err);
                return raise ? -1 : 1;
            }
            string callError = e.State.Call(run, sc);
            if (callError != null)
            {
                PushErrorTable(l, callError);   // no command ran, so the error is counted when replied
                return raise ? -1 : 1;
            }
            var reply = sc.Reply;
            int pos = 0;
            bool isError = reply.Length > 0 && reply.Buffer[0] == (byte)'-';
            lua_checkstack(l, 8);
            PushReply(l, reply.Buffer.AsSpan(0, reply.Length), ref pos);
            reply.Length = reply.Sent = 0;
            if (reply.Buffer.Length > 256 * 1024) reply.Drained();
            return raise && isError ? -1 : 1;
        }
        catch (Exception ex)
        {
            lua_settop(l, 0);
            PushErrorTable(l, "internal error: " + ex.Message);
            return raise ? -1 : 1;
        }
    }

    /// <summary>C's "%.17g" (what Redis uses to pass Lua numbers as command arguments), into a span.</summary>
    static int FormatG17(double d, Span<byte> dst)
    {
        if (!double.IsNaN(d)) return Double17g.Format(d, dst);
        var text = BitConverter.DoubleToInt64Bits(d) < 0 ? "-nan"u8 : "nan"u8;
        text.CopyTo(dst);
        return text.Length;
    }

    /// <summary>C's "%.17g" (what Redis uses to pass Lua numbers as command arguments).</summary>
    public static string FormatG17(double d)
    {
        if (double.IsNaN(d)) return BitConverter.DoubleToInt64Bits(d) < 0 ? "-nan" : "nan";
        return Numbers.FormatDouble17g(d);
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int Sha1Hex(nint l)
    {
        try
        {
            if (lua_gettop(l) != 1) return FailTable(l, "wrong number of arguments");
            var s = ToSpan(l, 1);
            Span<byte> hash = stackalloc byte[20];
            SHA1.HashData(s, hash);
            string hex = Convert.ToHexString(hash).ToLowerInvariant();
            lua_settop(l, 0);
            PushString(l, hex);
            return 1;
        }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int ErrorReply(nint l)
    {
        try
        {
            if (lua_gettop(l) != 1 || lua_type(l, -1) != TSTRING)
            {
                lua_settop(l, 0);
                PushErrorTable(l, "wrong number or type of arguments");
                return 1;
            }
            string s = CStringOf(ToBytes(l, 1));
            lua_settop(l, 0);
            PushErrorTable(l, s.Length > 0 && s[0] == '-' ? s : "-" + s);
            return 1;
        }
        catch { return 0; }
    }

    static string CStringOf(byte[] b)
    {
        int nul = Array.IndexOf(b, (byte)0);
        return Encoding.Latin1.GetString(b, 0, nul < 0 ? b.Length : nul);
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int StatusReply(nint l)
    {
        try
        {
            if (lua_gettop(l) != 1 || lua_type(l, -1) != TSTRING)
            {
                lua_settop(l, 0);
                PushErrorTable(l, "wrong number or type of arguments");
                return 1;
            }
            NewTable(l);
            PushString(l, "ok");
            lua_pushvalue(l, 1);
            lua_rawset(l, -3);
            return 1;
        }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int LogCommand(nint l)
    {
        try
        {
            int argc = lua_gettop(l);
            if (argc < 2) return FailTable(l, "redis.log() requires two arguments or more.");
            if (lua_isnumber(l, 1) == 0) return FailTable(l, "First argument must be a number (log level).");
            int level = (int)lua_tonumber(l, 1);
            if (level < 0 || level > 3) return FailTable(l, "Invalid debug level.");
            var log = Engine.State.Server.Log;
            if (level < (int)log.Level) { lua_settop(l, 0); return 0; }
            var sb = new StringBuilder();
            for (int j = 2; j <= argc; j++)
            {
                var s = ToStr(l, j);
                if (s == null) continue;
                if (j != 2) sb.Append(' ');
                sb.Append(s);
            }
            log.Write((Cinnabar.Server.LogLevel)level, sb.ToString());
            lua_settop(l, 0);
            return 0;
        }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int SetResp(nint l)
    {
        try
        {
            var e = Engine;
            if (e?.State.Current == null) return FailTable(l, "redis.setresp can only be called inside a script invocation");
            if (lua_gettop(l) != 1) return FailTable(l, "redis.setresp() requires one argument.");
            int resp = (int)lua_tonumber(l, 1);
            if (resp != 2 && resp != 3) return FailTable(l, "RESP version must be 2 or 3.");
            e.ScriptClient.Reply.Resp3 = resp == 3;
            lua_settop(l, 0);
            return 0;
        }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int SetRepl(nint l)
    {
        try
        {
            var e = Engine;
            if (e?.State.Current == null) return FailTable(l, "redis.set_repl can only be called inside a script invocation");
            if (lua_gettop(l) != 1) return FailTable(l, "redis.set_repl() requires two arguments.");
            int flags = (int)lua_tonumber(l, -1);
            if ((flags & ~3) != 0) return FailTable(l, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
            e.State.Current.ReplFlags = flags;
            lua_settop(l, 0);
            return 0;
        }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int AclCheckCmd(nint l)
    {
        try
        {
            var e = Engine;
            if (e?.State.Current == null) return FailTable(l, "redis.acl_check_cmd can only be called inside a script invocation");
            int argc = lua_gettop(l);
            if (argc == 0) return FailTable(l, "Please specify at least one argument for this redis lib call");
            for (int i = 1; i <= argc; i++)
                if (lua_type(l, i) != TNUMBER && lua_type(l, i) != TSTRING) return FailTable(l, "Lua redis lib command arguments must be strings or integers");
            var name = ToBytes(l, 1);
            var cmd = e.State.Server.Commands.LookupName(name);
            if (cmd != null && cmd.Subcommands != null && argc >= 2)
                cmd = CommandTableLookupSub(cmd, ToBytes(l, 2));
            if (cmd == null) return FailTable(l, "Invalid command passed to redis.acl_check_cmd()");
            lua_settop(l, 0);
            lua_pushboolean(l, 1);
            return 1;
        }
        catch { return 0; }
    }

    static Commands.Command CommandTableLookupSub(Commands.Command parent, byte[] name)
    {
        string lower = Encoding.Latin1.GetString(name).ToLowerInvariant();
        return parent.Subcommands.TryGetValue(lower, out var sub) && sub.Handler != null ? sub : null;
    }

    // ---- math.random with Redis's rand48, the same sequence on every platform ----

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int MathRandom(nint l)
    {
        try
        {
            var st = Engine.State;
            double r = (st.Rand48() % 2147483647) / 2147483647.0;
            int top = lua_gettop(l);
            switch (top)
            {
                case 0:
                    lua_pushnumber(l, r);
                    return 1;
                case 1:
                {
                    if (!CheckInt(l, 1, "random", out int u, out string err)) return Fail(l, err);
                    if (u < 1) return Fail(l, Where(l, 1) + "bad argument #1 to 'random' (interval is empty)");
                    lua_settop(l, 0);
                    lua_pushnumber(l, Math.Floor(r * u) + 1);
                    return 1;
                }
                case 2:
                {
                    if (!CheckInt(l, 1, "random", out int lo, out string err)) return Fail(l, err);
                    if (!CheckInt(l, 2, "random", out int up, out err)) return Fail(l, err);
                    if (lo > up) return Fail(l, Where(l, 1) + "bad argument #2 to 'random' (interval is empty)");
                    lua_settop(l, 0);
                    lua_pushnumber(l, Math.Floor(r * ((double)up - lo + 1)) + lo);
                    return 1;
                }
                default:
                    return Fail(l, Where(l, 1) + "wrong number of arguments");
            }
        }
        catch { return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int MathRandomSeed(nint l)
    {
        try
        {
            if (!CheckInt(l, 1, "randomseed", out int seed, out string err)) return Fail(l, err);
            Engine.State.Srand48(seed);
            lua_settop(l, 0);
            return 0;
        }
        catch { return 0; }
    }

    /// <summary>luaL_checkint with its error text (for a C# function behind a sandbox wrapper).</summary>
    public static bool CheckInt(nint l, int n, string fname, out int value, out string error)
    {
        value = 0;
        error = null;
        double d = lua_tonumber(l, n);
        if (d == 0 && lua_isnumber(l, n) == 0)
        {
            error = Where(l, 1) + $"bad argument #{n} to '{fname}' (number expected, got {TypeName(l, n)})";
            return false;
        }
        value = (int)(long)d;
        return true;
    }

    public static string TypeName(nint l, int n) => lua_type(l, n) switch
    {
        TNONE => "no value", TNIL => "nil", TBOOLEAN => "boolean", TLIGHTUSERDATA => "userdata", TNUMBER => "number",
        TSTRING => "string", TTABLE => "table", TFUNCTION => "function", TUSERDATA => "userdata", TTHREAD => "thread", _ => "?",
    };

    // ---- redis.register_function (FUNCTION LOAD only) ----

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    static int RegisterFunction(nint l)
    {
        try
        {
            var e = Engine;
            var lib = e?.Loading;
            if (lib == null) return FailTable(l, "redis.register_function can only be called on FUNCTION LOAD command");
            int argc = lua_gettop(l);
            if (argc < 1 || argc > 2) return FailTable(l, "wrong number of arguments to redis.register_function");
            string name = null, desc = null;
            int fnRef = -1;
            var flags = ScriptFlags.None;
            if (argc == 1)
            {
                if (lua_type(l, 1) != TTABLE) return FailTable(l, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
                lua_pushnil(l);
                string err = null;
                while (lua_next(l, 1) != 0)
                {
                    // stack: table, key, value
                    if (lua_isstring(l, -2) == 0 || lua_type(l, -2) != TSTRING && lua_type(l, -2) != TNUMBER) { err = "named argument key given to redis.register_function is not a string"; break; }
                    string key = CStringOf(ToBytesNoConvert(l, -2));
                    if (key.Equals("function_name", StringComparison.OrdinalIgnoreCase))
                    {
                        if (lua_isstring(l, -1) == 0) { err = "function_name argument given to redis.register_function must be a string"; break; }
                        name = Encoding.Latin1.GetString(ToBytesNoConvert(l, -1));
                    }
                    else if (key.Equals("description", StringComparison.OrdinalIgnoreCase))
                    {
                        if (lua_isstring(l, -1) == 0) { err = "description argument given to redis.register_function must be a string"; break; }
                        desc = Encoding.Latin1.GetString(ToBytesNoConvert(l, -1));
                    }
                    else if (key.Equals("callback", StringComparison.OrdinalIgnoreCase))
                    {
                        if (lua_type(l, -1) != TFUNCTION) { err = "callback argument given to redis.register_function must be a function"; break; }
                        if (fnRef >= 0) luaL_unref(l, REGISTRYINDEX, fnRef);
                        fnRef = luaL_ref(l, REGISTRYINDEX);
                        continue;
                    }
                    else if (key.Equals("flags", StringComparison.OrdinalIgnoreCase))
                    {
                        if (lua_type(l, -1) != TTABLE) { err = "flags argument to redis.register_function must be a table representing function flags"; break; }
                        if (!ReadFlags(l, out flags)) { err = "unknown flag given"; break; }
                    }
                    else { err = "unknown argument given to redis.register_function"; break; }
                    Pop(l, 1);
                }
                if (err == null && name == null) err = "redis.register_function must get a function name argument";
                if (err == null && fnRef < 0) err = "redis.register_function must get a callback argument";
                if (err != null)
                {
                    if (fnRef >= 0) luaL_unref(l, REGISTRYINDEX, fnRef);
                    return FailTable(l, err);
                }
            }
            else
            {
                if (lua_isstring(l, 1) == 0) return FailTable(l, "first argument to redis.register_function must be a string");
                if (lua_type(l, 2) != TFUNCTION) return FailTable(l, "second argument to redis.register_function must be a function");
                name = Encoding.Latin1.GetString(ToBytes(l, 1));
                lua_settop(l, 2);
                fnRef = luaL_ref(l, REGISTRYINDEX);
            }
            string createErr = lib.AddFunction(name, fnRef, desc, flags);
            if (createErr != null)
            {
                luaL_unref(l, REGISTRYINDEX, fnRef);
                return FailTable(l, createErr);
            }
            lua_settop(l, 0);
            return 0;
        }
        catch (Exception ex) { return FailTable(l, "internal error: " + ex.Message); }
    }

    /// <summary>The string at idx without converting a number in place (lua_next must see keys unchanged).</summary>
    static byte[] ToBytesNoConvert(nint l, int idx)
    {
        if (lua_type(l, idx) == TNUMBER)
        {
            lua_pushvalue(l, idx);
            var b = ToBytes(l, -1);
            Pop(l, 1);
            return b;
        }
        return ToBytes(l, idx);
    }

    static bool ReadFlags(nint l, out ScriptFlags flags)
    {
        flags = ScriptFlags.None;
        for (int j = 1; ; j++)
        {
            lua_rawgeti(l, -1, j);
            int t = lua_type(l, -1);
            if (t == TNIL) { Pop(l, 1); return true; }
            if (lua_isstring(l, -1) == 0) { Pop(l, 1); return false; }
            string s = ToStr(l, -1);
            Pop(l, 1);
            var f = ScriptFlagsInfo.Parse(s, ignoreCase: true);
            if (f == null) return false;
            flags |= f.Value;
        }
    }
}
