using System.Security.Cryptography;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Scripting.Lua;

namespace Cinnabar.Server.Scripting;

/// <summary>
/// Everything scripts share in one server: the EVAL engine and its script cache, the functions engine and
/// its libraries, the script running now, and the busy-script machinery (script.c).
/// </summary>
public sealed class ScriptingState
{
    public readonly CinnabarServer Server;
    LuaEngine evalEngine, functionEngine;
    public readonly Dictionary<string, EvalScript> Scripts = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, EvalScript>.AlternateLookup<ReadOnlySpan<char>> scriptsBySpan;
    public readonly Functions.Library Functions;
    public ScriptRun Current;

    public const string Unavailable = "ERR Lua scripting is not available: liblua5.1.so.0 could not be loaded (install the liblua5.1-0 package)";
    public const string SlowEvalError = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    public const string SlowScriptError = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

    public ScriptingState(CinnabarServer server)
    {
        Server = server;
        Functions = new Functions.Library(this);
        scriptsBySpan = Scripts.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static bool Available => LuaApi.Available;

    /// <summary>Logged once at startup when liblua5.1 is missing; scripting commands then answer an error.</summary>
    public void WarnIfUnavailable()
    {
        if (!Available)
            Server.Log.Warning($"Lua scripting disabled: {LuaApi.Lib} could not be loaded ({LuaApi.LoadError}). Install the liblua5.1-0 package (and lua-cjson, lua-bitop) to enable EVAL and FUNCTION.");
    }

    public LuaEngine EvalEngine => evalEngine ??= new LuaEngine(this, functionMode: false);
    public LuaEngine FunctionEngine => functionEngine ??= new LuaEngine(this, functionMode: true);

    public long EvalMemory => evalEngine?.MemoryBytes ?? 0;
    public long FunctionMemory => functionEngine?.MemoryBytes ?? 0;

    /// <summary>SCRIPT FLUSH: a new interpreter and an empty cache.</summary>
    public void FlushScripts()
    {
        evalEngine?.Dispose();
        evalEngine = null;
        Scripts.Clear();
    }

    /// <summary>FUNCTION FLUSH: a new functions interpreter.</summary>
    public void ResetFunctionEngine()
    {
        functionEngine?.Dispose();
        functionEngine = null;
    }

    // ------------------------------------------------------------------ EVAL scripts

    public sealed class EvalScript
    {
        public string Sha;
        public int Ref;
        public ScriptFlags Flags;
        public byte[] Body;
    }

    public static string Sha1Hex(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(body, hash);
        return Convert.ToHexString(hash).ToLowerInvariant();
    }

    /// <summary>The cached script whose SHA1 (hex, either case) is <paramref name="sha"/>, without allocating.</summary>
    public bool TryGetScript(ReadOnlySpan<byte> sha, out EvalScript script)
    {
        script = null;
        if (sha.Length != 40) return false;
        Span<char> chars = stackalloc char[40];
        for (int i = 0; i < 40; i++) chars[i] = (char)sha[i];
        return scriptsBySpan.TryGetValue(chars, out script);
    }

    /// <summary>luaCreateFunction: the cached script, or a newly compiled one; null with the error reply sent.</summary>
    public EvalScript CreateScript(Client c, ReadOnlySpan<byte> body)
    {
        string sha = Sha1Hex(body);
        if (Scripts.TryGetValue(sha, out var existing)) return existing;
        var flags = ScriptFlags.EvalCompat;
        int shebangLen = 0;
        if (body.Length >= 2 && body[0] == '#' && body[1] == '!')
        {
            int nl = body.IndexOf((byte)'\n');
            if (nl < 0)
            {
                c.Error("ERR Invalid script shebang");
                return null;
            }
            shebangLen = nl;
            var parts = Encoding.Latin1.GetString(body[..nl]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
            {
                c.Error("ERR Invalid engine in script shebang");
                return null;
            }
            if (parts[0] != "#!lua")
            {
                c.Error("ERR Unexpected engine in script shebang: " + parts[0]);
                return null;
            }
            flags = ScriptFlags.None;
            for (int j = 1; j < parts.Length; j++)
            {
                if (parts[j].StartsWith("flags=", StringComparison.Ordinal))
                {
                    foreach (var f in parts[j][6..].Split(','))
                    {
                        if (f.Length == 0) continue;
                        var flag = ScriptFlagsInfo.Parse(f, ignoreCase: false);
                        if (flag == null)
                        {
                            c.Error("ERR Unexpected flag in script shebang: " + f);
                            return null;
                        }
                        flags |= flag.Value;
                    }
                }
                else
                {
                    c.Error("ERR Unknown lua shebang option: " + parts[j]);
                    return null;
                }
            }
        }
        var fn = EvalEngine.Compile(body[shebangLen..], "@user_script", out string error);
        if (fn == null)
        {
            c.Error("ERR Error compiling script (new function): " + error);
            return null;
        }
        var script = new EvalScript { Sha = sha, Ref = fn.Value, Flags = flags, Body = body.ToArray() };
        Scripts[sha] = script;
        return script;
    }

    // ------------------------------------------------------------------ running

    /// <summary>scriptPrepareForRun's checks; null when the script may run, else the error it replies.</summary>
    public string CheckCanRun(ScriptFlags flags, bool ro)
    {
        // A script without a shebang runs under the old rules, except that a stale replica refuses it outright.
        if ((flags & ScriptFlags.EvalCompat) != 0) return Server.Repl.RunningStale ? Replication.ReplicationState.MasterDownError : null;
        if ((flags & ScriptFlags.AllowOom) == 0 && Server.Settings.MaxMemory > 0 && !Server.EnsureMemory())
        {
            // A script that may write counts as a deny-oom command (scriptFlagsToCmdFlags). A no-writes one
            // runs: redis-server 7.0.15 does not refuse it either.
            if ((flags & ScriptFlags.NoWrites) == 0) return "OOM command not allowed when used memory > 'maxmemory'.";
        }
        if (Server.ClusterEnabled && (flags & ScriptFlags.NoCluster) != 0)
            return "ERR Can not run script on cluster, 'no-cluster' flag is set.";
        // A shebang script that may write is a write command to processCommand (READONLY), and one without
        // allow-stale is not stale (MASTERDOWN), in that order.
        if ((flags & ScriptFlags.NoWrites) == 0 && Server.Repl.MasterHost != null && Server.Repl.ReadOnlyReplica)
            return Replication.ReplicationState.ReadOnlyError;
        if (Server.Repl.RunningStale && (flags & ScriptFlags.AllowStale) == 0)
            return Replication.ReplicationState.MasterDownError;
        if ((flags & ScriptFlags.NoWrites) == 0 && ro)
            return "ERR Can not execute a script with write flag using *_ro command.";
        if ((flags & ScriptFlags.NoWrites) == 0 && Server.Repl.DenyWritesNoReplicas)
            return "NOREPLICAS Not enough good replicas to write.";   // min-replicas-to-write
        return null;
    }

    readonly ScriptRun reusableRun = new();

    /// <summary>Runs a compiled script or function for the caller; the reply (or error) goes to the caller.</summary>
    public void Execute(Client c, LuaEngine engine, int fnRef, string name, bool isEval, ScriptFlags flags, bool ro, ScriptArgs keysAndArgs)
    {
        bool compat = (flags & ScriptFlags.EvalCompat) != 0;
        // Scripts never nest (EVAL and FCALL are noscript), so one run context serves every call.
        var run = reusableRun;
        run.Start(c, engine, name, isEval,
            readOnly: ro || (!compat && (flags & ScriptFlags.NoWrites) != 0),
            allowOom: !compat && (flags & ScriptFlags.AllowOom) != 0,
            oom: Server.Settings.MaxMemory > 0 && !Server.EnsureMemory());
        run.AllowCrossSlot = compat || (flags & ScriptFlags.AllowCrossSlotKeys) != 0;
        Current = run;
        try
        {
            engine.Run(run, fnRef, keysAndArgs);
        }
        finally
        {
            Current = null;
            if (run.TimedOut) ExitTimedOutMode(run);
            run.Caller = null;
        }
    }

    /// <summary>
    /// scriptCall: runs one command for redis.call with the script client. Returns null with the reply in
    /// the script client's buffer, or the error text (luaPushError adds the ERR code when missing).
    /// </summary>
    public string Call(ScriptRun run, Client sc)
    {
        var server = Server;
        // Redis's command table knows every 7.0 command; one this build does not implement yet is still
        // checked (arity, noscript) before it is refused.
        var name = sc.Arg(0);
        int argc = sc.ArgCount;
        var cmd = server.Commands.LookupName(name);
        if (cmd == null && name.Length <= 64 && name.IndexOf((byte)'|') < 0)
            cmd = server.Commands.Find(Encoding.Latin1.GetString(name).ToLowerInvariant());
        if (cmd != null && cmd.Subcommands != null && argc >= 2)
            cmd = sc.Arg(1).Length <= 64 ? cmd.Subcommands.GetValueOrDefault(sc.ArgString(1).ToLowerInvariant()) : null;
        if (cmd == null) return "Unknown Redis command called from script";
        if ((cmd.Arity > 0 && cmd.Arity != argc) || argc < -cmd.Arity)
            return "Wrong number of args calling Redis command from script";
        if ((cmd.Flags & CommandFlags.NoScript) != 0) return "This Redis command is not allowed from script";
        if (cmd.Handler == null) return "Unknown Redis command called from script";
        bool write = (cmd.Flags & CommandFlags.Write) != 0;
        if (write && run.ReadOnly) return "Write commands are not allowed from read-only scripts.";
        if (write && !run.WriteDirty && server.Repl.DeniesWritesFrom(run.Caller)) return "-" + Replication.ReplicationState.ReadOnlyError;
        if (write && !run.WriteDirty && server.Repl.DenyWritesNoReplicas)
            return "-NOREPLICAS Not enough good replicas to write.";   // scriptVerifyWriteCommandAllow
        if (!run.AllowOom && server.Settings.MaxMemory > 0 && !run.WriteDirty && run.Oom && (cmd.Flags & CommandFlags.DenyOom) != 0)
            return "-OOM command not allowed when used memory > 'maxmemory'.";
        if (write) run.WriteDirty = true;
        if (server.ClusterEnabled && server.ScriptClusterCheck(sc, run.Caller, cmd, ref run.ClusterSlot, run.AllowCrossSlot) is string clusterError)
            return clusterError;

        sc.LastCommand = cmd.FullName;
        sc.ClearRedactions();
        long errorsBefore = server.Stats.TotalErrorReplies;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        bool propagate = server.Prop.Enabled;
        if (propagate) server.Prop.BeginCall((PropagateTarget)(run.ReplFlags & 3));
        try
        {
            cmd.Handler(sc);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            server.Log.Warning($"Internal error in command '{cmd.FullName}': {e}");
            sc.Error("ERR internal error while executing '" + cmd.FullName + "'");
        }
        // Redis 7.0 replicates scripts by their effects: each write the script makes is propagated.
        if (propagate) server.Prop.EndCall(sc, cmd);
        long usec = (System.Diagnostics.Stopwatch.GetTimestamp() - start) * 1_000_000 / System.Diagnostics.Stopwatch.Frequency;
        server.FeedMonitorsAfterCall(sc, cmd);
        cmd.Calls++;
        cmd.Microseconds += usec;
        if (server.Stats.TotalErrorReplies != errorsBefore) cmd.FailedCalls++;
        server.Stats.CommandsProcessed++;
        return null;
    }

    // ------------------------------------------------------------------ busy scripts

    /// <summary>
    /// scriptInterrupt, called from the Lua count hook: once the script has run past busy-reply-threshold
    /// the server answers other clients (BUSY, SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE) between
    /// instructions. Returns true when the script must be killed.
    /// </summary>
    public bool Interrupt(ScriptRun run)
    {
        if (run.Killed) return false;   // already being unwound
        if (!run.TimedOut)
        {
            long elapsed = run.ElapsedMs;
            if (elapsed < Server.Settings.BusyReplyThresholdMs) return false;
            Server.Log.Warning($"Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {(run.IsEval ? "SCRIPT KILL" : "FUNCTION KILL")} command.");
            run.TimedOut = true;
            Server.BusyScriptError = run.IsEval ? SlowEvalError : SlowScriptError;
            run.Caller.Flags |= ClientFlags.Protected;
        }
        Server.Loop.ProcessEventsWhileBlocked();
        if (run.Killed)
        {
            Server.Log.Warning("Lua script killed by user with SCRIPT KILL.");
            return true;
        }
        return false;
    }

    void ExitTimedOutMode(ScriptRun run)
    {
        Server.BusyScriptError = null;
        var c = run.Caller;
        c.Flags &= ~ClientFlags.Protected;
        if ((c.Flags & ClientFlags.CloseAsap) != 0) Server.Loop.MarkPendingWrite(c);
    }

    /// <summary>scriptKill: SCRIPT KILL (isEval) and FUNCTION KILL.</summary>
    public void Kill(Client c, bool isEval)
    {
        var run = Current;
        if (run == null)
        {
            c.Error("NOTBUSY No scripts in execution right now.");
            return;
        }
        if (run.WriteDirty)
        {
            c.Error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
            return;
        }
        if (isEval && !run.IsEval)
        {
            c.Error(SlowScriptError);
            return;
        }
        if (!isEval && run.IsEval)
        {
            c.Error(SlowEvalError);
            return;
        }
        run.Killed = true;
        c.Reply.Ok();
    }

    // ------------------------------------------------------------------ math.random (redisLrand48)

    ulong rand48 = 0x1234ABCD330EUL;

    public int Rand48()
    {
        rand48 = (rand48 * 0x5DEECE66DUL + 0xB) & 0xFFFFFFFFFFFFUL;
        return (int)(rand48 >> 17);
    }

    public void Srand48(int seed) => rand48 = ((ulong)(uint)seed << 16) | 0x330E;
}
