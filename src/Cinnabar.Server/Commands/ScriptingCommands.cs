using Cinnabar.Server.Network;
using Cinnabar.Server.Scripting;

namespace Cinnabar.Server.Commands;

/// <summary>EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (eval.c).</summary>
public static class ScriptingCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("eval", c => Eval(c, sha: false, ro: false));
        t.Register("evalsha", c => Eval(c, sha: true, ro: false));
        t.Register("eval_ro", c => Eval(c, sha: false, ro: true));
        t.Register("evalsha_ro", c => Eval(c, sha: true, ro: true));
        t.Register("script|load", ScriptLoad);
        t.Register("script|exists", ScriptExists);
        t.Register("script|flush", ScriptFlush);
        t.Register("script|kill", c => c.Server.Scripting.Kill(c, isEval: true));
        t.Register("script|help", ScriptHelp);
        t.Register("script|debug", ScriptDebug);
    }

    /// <summary>The keys and arguments after numkeys; false (error sent) when numkeys is bad.</summary>
    public static bool SplitKeys(Client c, string notIntegerError, out ScriptArgs keysAndArgs)
    {
        keysAndArgs = default;
        if (!Protocol.Numbers.TryParseInt64(c.Arg(2), out long numkeys))
        {
            c.Error(notIntegerError);
            return false;
        }
        if (numkeys > c.ArgCount - 3)
        {
            c.Error("ERR Number of keys can't be greater than number of args");
            return false;
        }
        if (numkeys < 0)
        {
            c.Error("ERR Number of keys can't be negative");
            return false;
        }
        keysAndArgs = new ScriptArgs(c, 3, (int)numkeys);
        return true;
    }

    static void Eval(Client c, bool sha, bool ro)
    {
        if (c.Server.Monitors.Count > 0) c.Server.FeedMonitors(c);   // EVAL is skip_monitor: shown before its script
        if (!ScriptingState.Available)
        {
            c.Error(ScriptingState.Unavailable);
            return;
        }
        var st = c.Server.Scripting;
        if (!SplitKeys(c, "ERR value is not an integer or out of range", out var keysAndArgs)) return;
        ScriptingState.EvalScript script;
        if (sha)
        {
            if (!st.TryGetScript(c.Arg(1), out script))
            {
                c.Error("NOSCRIPT No matching script. Please use EVAL.");
                return;
            }
        }
        else
        {
            script = st.CreateScript(c, c.Arg(1));
            if (script == null) return;
        }
        string err = st.CheckCanRun(script.Flags, ro);
        if (err != null)
        {
            c.Error(err);
            return;
        }
        st.Execute(c, st.EvalEngine, script.Ref, script.Sha, isEval: true, script.Flags, ro, keysAndArgs);
    }

    static void ScriptLoad(Client c)
    {
        if (!ScriptingState.Available)
        {
            c.Error(ScriptingState.Unavailable);
            return;
        }
        var script = c.Server.Scripting.CreateScript(c, c.Arg(2));
        if (script != null) c.Reply.Bulk(script.Sha);
    }

    static void ScriptExists(Client c)
    {
        var st = c.Server.Scripting;
        c.Reply.ArrayHeader(c.ArgCount - 2);
        for (int i = 2; i < c.ArgCount; i++)
            c.Reply.Integer(st.TryGetScript(c.Arg(i), out _) ? 1 : 0);
    }

    static void ScriptFlush(Client c)
    {
        if (c.ArgCount > 3 || (c.ArgCount == 3 && !c.ArgIs(2, "sync") && !c.ArgIs(2, "async")))
        {
            c.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
        c.Server.Scripting.FlushScripts();
        c.Reply.Ok();
    }

    /// <summary>SCRIPT DEBUG: the Lua debugger (ldb) is not provided; NO is accepted.</summary>
    static void ScriptDebug(Client c)
    {
        if (c.ArgIs(2, "no")) { c.Reply.Ok(); return; }
        if (c.ArgIs(2, "yes") || c.ArgIs(2, "sync")) { c.Error("ERR The Lua debugger is not available on this server"); return; }
        c.Error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }

    static void ScriptHelp(Client c) => HelpReply.Write(c, "SCRIPT", new[]
    {
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
    });
}
