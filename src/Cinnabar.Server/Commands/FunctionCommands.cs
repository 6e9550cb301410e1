using Cinnabar.Server.Network;
using Cinnabar.Server.Scripting;
using Cinnabar.Server.Scripting.Functions;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>FUNCTION and FCALL/FCALL_RO (functions.c).</summary>
public static class FunctionCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("fcall", c => FCall(c, ro: false));
        t.Register("fcall_ro", c => FCall(c, ro: true));
        t.Register("function|load", Load);
        t.Register("function|delete", Delete);
        t.Register("function|list", List);
        t.Register("function|flush", Flush);
        t.Register("function|dump", Dump);
        t.Register("function|restore", Restore);
        t.Register("function|kill", c => c.Server.Scripting.Kill(c, isEval: false));
        t.Register("function|stats", Stats);
        t.Register("function|help", Help);
    }

    static bool CheckAvailable(Client c)
    {
        if (ScriptingState.Available) return true;
        c.Error(ScriptingState.Unavailable);
        return false;
    }

    static void FCall(Client c, bool ro)
    {
        if (c.Server.Monitors.Count > 0) c.Server.FeedMonitors(c);   // FCALL is skip_monitor: shown before its function
        if (!CheckAvailable(c)) return;
        var st = c.Server.Scripting;
        if (!st.Functions.ByName.TryGetValue(Encoding.Latin1.GetString(c.Arg(1)), out var fn))
        {
            c.Error("ERR Function not found");
            return;
        }
        if (!ScriptingCommands.SplitKeys(c, "ERR Bad number of keys provided", out var keysAndArgs)) return;
        string err = st.CheckCanRun(fn.Flags, ro);
        if (err != null)
        {
            c.Error(err);
            return;
        }
        st.Execute(c, st.FunctionEngine, fn.Ref, fn.Name, isEval: false, fn.Flags, ro, keysAndArgs);
    }

    static void Load(Client c)
    {
        if (!CheckAvailable(c)) return;
        bool replace = false;
        int i = 2;
        while (i < c.ArgCount - 1)
        {
            if (c.ArgIs(i, "replace")) { replace = true; i++; continue; }
            c.Error("ERR Unknown option given: " + CString(c.Arg(i)));
            return;
        }
        if (i >= c.ArgCount)
        {
            c.Error("ERR Function code is missing");
            return;
        }
        string name = c.Server.Scripting.Functions.Load(c.ArgBytes(i), replace, 500, out string error);
        if (name == null)
        {
            c.Error("ERR " + error);
            return;
        }
        c.Server.Dirty();
        c.Reply.Bulk(name);
    }

    static string CString(ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        return Encoding.Latin1.GetString(nul < 0 ? s : s[..nul]);
    }

    static void Delete(Client c)
    {
        if (!c.Server.Scripting.Functions.Delete(Encoding.Latin1.GetString(c.Arg(2))))
        {
            c.Error("ERR Library not found");
            return;
        }
        c.Server.Dirty();
        c.Reply.Ok();
    }

    static void List(Client c)
    {
        bool withCode = false;
        string pattern = null;
        for (int i = 2; i < c.ArgCount; i++)
        {
            if (!withCode && c.ArgIs(i, "withcode")) { withCode = true; continue; }
            if (pattern == null && c.ArgIs(i, "libraryname"))
            {
                if (i >= c.ArgCount - 1)
                {
                    c.Error("ERR library name argument was not given");
                    return;
                }
                pattern = Encoding.Latin1.GetString(c.Arg(++i));
                continue;
            }
            c.Error("ERR Unknown argument " + CString(c.Arg(i)));
            return;
        }
        var libs = c.Server.Scripting.Functions.Libraries
            .Where(l => pattern == null || Glob.Match(Encoding.Latin1.GetBytes(pattern), Encoding.Latin1.GetBytes(l.Name), nocase: true))
            .ToList();
        var w = c.Reply;
        w.ArrayHeader(libs.Count);
        foreach (var lib in libs)
        {
            w.MapHeader(withCode ? 4 : 3);
            w.Bulk("library_name");
            w.Bulk(lib.Name);
            w.Bulk("engine");
            w.Bulk(lib.Engine);
            w.Bulk("functions");
            w.ArrayHeader(lib.Functions.Count);
            foreach (var f in lib.Functions)
            {
                w.MapHeader(3);
                w.Bulk("name");
                w.Bulk(f.Name);
                w.Bulk("description");
                if (f.Description != null) w.Bulk(f.Description);
                else w.Null();
                w.Bulk("flags");
                var names = ScriptFlagsInfo.All.Where(x => (f.Flags & x.flag) != 0).Select(x => x.name).ToList();
                w.SetHeader(names.Count);
                foreach (var n in names) w.Simple(n);
            }
            if (withCode)
            {
                w.Bulk("library_code");
                w.Bulk(lib.Code);
            }
        }
    }

    static void Flush(Client c)
    {
        if (c.ArgCount > 3)
        {
            c.Error($"ERR unknown subcommand or wrong number of arguments for '{c.ArgString(1)}'. Try FUNCTION HELP.");
            return;
        }
        if (c.ArgCount == 3 && !c.ArgIs(2, "sync") && !c.ArgIs(2, "async"))
        {
            c.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            return;
        }
        c.Server.Scripting.Functions.Flush();
        c.Server.Dirty();
        c.Reply.Ok();
    }

    static void Dump(Client c)
    {
        c.Reply.Bulk(FunctionPayload.Dump(c.Server.Scripting.Functions.Libraries));
    }

    static void Restore(Client c)
    {
        if (!CheckAvailable(c)) return;
        if (c.ArgCount > 4)
        {
            c.Error($"ERR unknown subcommand or wrong number of arguments for '{c.ArgString(1)}'. Try FUNCTION HELP.");
            return;
        }
        string policy = "append";
        if (c.ArgCount == 4)
        {
            if (c.ArgIs(3, "append")) policy = "append";
            else if (c.ArgIs(3, "replace")) policy = "replace";
            else if (c.ArgIs(3, "flush")) policy = "flush";
            else
            {
                c.Error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
                return;
            }
        }
        string err = FunctionPayload.Parse(c.ArgBytes(2), out var codes);
        if (err == null) err = c.Server.Scripting.Functions.Restore(codes, policy);
        if (err != null)
        {
            c.Error("ERR " + err);
            return;
        }
        c.Server.Dirty();
        c.Reply.Ok();
    }

    static void Stats(Client c)
    {
        var st = c.Server.Scripting;
        var run = st.Current;
        if (run != null && run.IsEval)
        {
            c.Error(ScriptingState.SlowEvalError);
            return;
        }
        var w = c.Reply;
        w.MapHeader(2);
        w.Bulk("running_script");
        if (run == null) w.Null();
        else
        {
            w.MapHeader(3);
            w.Bulk("name");
            w.Bulk(run.Name);
            w.Bulk("command");
            var caller = run.Caller;   // still on its FCALL: its arguments are intact while the script runs
            w.ArrayHeader(caller.ArgCount);
            for (int i = 0; i < caller.ArgCount; i++) w.Bulk(caller.Arg(i));
            w.Bulk("duration_ms");
            w.Integer(run.ElapsedMs);
        }
        w.Bulk("engines");
        w.MapHeader(1);
        w.Bulk("LUA");
        w.MapHeader(2);
        w.Bulk("libraries_count");
        w.Integer(st.Functions.Libraries.Count);
        w.Bulk("functions_count");
        w.Integer(st.Functions.FunctionCount);
    }

    static void Help(Client c) => HelpReply.Write(c, "FUNCTION", new[]
    {
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
    });
}
