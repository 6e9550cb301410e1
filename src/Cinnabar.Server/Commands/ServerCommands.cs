using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Commands;

/// <summary>Server commands: INFO, TIME, LASTSAVE, SHUTDOWN, MONITOR, SLOWLOG, LATENCY and COMMAND.</summary>
public static class ServerCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("info", InfoCommand);
        t.Register("time", Time);
        t.Register("lastsave", c => c.Reply.Integer(c.Server.LastSaveUnix));
        t.Register("bgrewriteaof", CinnabarServer.BgRewriteAof);
        t.Register("shutdown", Shutdown);
        t.Register("monitor", Monitor);
        t.Register("slowlog|get", SlowlogGet);
        t.Register("slowlog|len", c => c.Reply.Integer(c.Server.SlowLog.Entries.Count));
        t.Register("slowlog|reset", c => { c.Server.SlowLog.Reset(); c.Reply.Ok(); });
        t.Register("slowlog|help", c => HelpReply.Write(c, "SLOWLOG", new[]
        {
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        }));
        t.Register("latency|latest", c => c.Reply.EmptyArray());
        t.Register("latency|history", c => c.Reply.EmptyArray());
        t.Register("latency|reset", c => c.Reply.Integer(0));
        t.Register("latency|doctor", c => c.Reply.Verbatim("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n"));
        t.Register("latency|graph", c => c.Error($"ERR No samples available for event '{c.ArgText(2)}'"));
        t.Register("latency|histogram", c => c.Reply.MapHeader(0));
        t.Register("latency|help", c => HelpReply.Write(c, "LATENCY", new[]
        {
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        }));
        t.Register("command", CommandAll);
        t.Register("command|count", c => c.Reply.Integer(c.Server.Commands.All.Count()));
        t.Register("command|info", CommandInfo);
        t.Register("command|docs", CommandDocs);
        t.Register("command|getkeys", c => GetKeys(c, false));
        t.Register("command|getkeysandflags", c => GetKeys(c, true));
        t.Register("command|list", CommandList);
        t.Register("command|help", c => HelpReply.Write(c, "COMMAND", new[]
        {
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        }));
    }

    static void InfoCommand(Client c)
    {
        var sections = new List<string>();
        for (int i = 1; i < c.ArgCount; i++) sections.Add(c.ArgString(i).ToLowerInvariant());
        c.Reply.Verbatim(Info.Generate(c.Server, sections));
    }

    static void Time(Client c)
    {
        long us = DateTimeOffset.UtcNow.Ticks / 10 - DateTimeOffset.UnixEpoch.Ticks / 10;
        c.Reply.ArrayHeader(2);
        c.Reply.BulkInteger(us / 1_000_000);
        c.Reply.BulkInteger(us % 1_000_000);
    }

    static void Shutdown(Client c)
    {
        bool nosave = false, save = false, now = false, force = false, abort = false;
        for (int i = 1; i < c.ArgCount; i++)
        {
            if (c.ArgIs(i, "nosave")) nosave = true;
            else if (c.ArgIs(i, "save")) save = true;
            else if (c.ArgIs(i, "now")) now = true;
            else if (c.ArgIs(i, "force")) force = true;
            else if (c.ArgIs(i, "abort")) abort = true;
            else { c.Syntax(); return; }
        }
        if ((abort && c.ArgCount != 2) || (nosave && save))
        {
            c.Syntax();
            return;
        }
        if (abort)
        {
            if (c.Server.AbortShutdown()) c.Reply.Ok();
            else c.Error("ERR No shutdown in progress.");
            return;
        }
        if (!now && !c.CanBlock)
        {
            c.Error("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client");
            return;
        }
        if (!nosave && c.Server.BusyScriptError != null)
        {
            c.Error(c.Server.BusyScriptError);   // a busy script: only SHUTDOWN NOSAVE
            return;
        }
        // Waiting for replicas, the client stays blocked until the shutdown ends (or fails: an error then).
        if (!c.Server.PrepareForShutdownAndExit(nosave, save, force, now, c)) c.Error("ERR Errors trying to SHUTDOWN. Check logs.");
    }

    static void Monitor(Client c)
    {
        if ((c.Flags & ClientFlags.Monitor) != 0) return;
        c.Flags |= ClientFlags.Monitor;
        c.Server.Monitors.Add(c);
        c.Reply.Ok();
    }

    static void SlowlogGet(Client c)
    {
        long count = 10;
        if (c.ArgCount == 3)
        {
            if (!Numbers.TryParseInt64(c.Arg(2), out count) || count < -1)
            {
                c.Error("ERR count should be greater than or equal to -1");
                return;
            }
            if (count == -1) count = long.MaxValue;
        }
        var entries = c.Server.SlowLog.Entries.Take((int)Math.Min(count, int.MaxValue)).ToList();
        c.Reply.ArrayHeader(entries.Count);
        foreach (var e in entries)
        {
            c.Reply.ArrayHeader(6);
            c.Reply.Integer(e.Id);
            c.Reply.Integer(e.Time);
            c.Reply.Integer(e.Duration);
            c.Reply.ArrayHeader(e.Args.Length);
            foreach (var a in e.Args) c.Reply.Bulk(a);
            c.Reply.Bulk(e.Addr);
            c.Reply.Bulk(e.Name);
        }
    }

    static void CommandAll(Client c)
    {
        var all = c.Server.Commands.All.ToList();
        c.Reply.ArrayHeader(all.Count);
        foreach (var cmd in all) cmd.Info.Write(c.Reply);
    }

    static void CommandInfo(Client c)
    {
        if (c.ArgCount == 2) { CommandAll(c); return; }
        c.Reply.ArrayHeader(c.ArgCount - 2);
        for (int i = 2; i < c.ArgCount; i++)
        {
            var cmd = FindByFullName(c, c.ArgString(i));
            if (cmd == null) c.Reply.Null();
            else cmd.Info.Write(c.Reply);
        }
    }

    static Command FindByFullName(Client c, string name)
    {
        var cmd = c.Server.Commands.Find(name.ToLowerInvariant());
        return cmd != null && cmd.Implemented ? cmd : null;
    }

    static void CommandDocs(Client c)
    {
        var list = new List<Command>();
        if (c.ArgCount == 2) list.AddRange(c.Server.Commands.All);
        else
            for (int i = 2; i < c.ArgCount; i++)
            {
                var cmd = FindByFullName(c, c.ArgString(i));
                if (cmd != null && cmd.Docs != null) list.Add(cmd);
            }
        c.Reply.MapHeader(list.Count);
        foreach (var cmd in list)
        {
            c.Reply.Bulk(cmd.FullName);
            cmd.Docs.Write(c.Reply);
        }
    }

    static void CommandList(Client c)
    {
        var names = new List<string>();
        foreach (var cmd in c.Server.Commands.All)
        {
            names.Add(cmd.FullName);
            if (cmd.Subcommands != null)
                foreach (var s in cmd.Subcommands.Values)
                    if (s.Handler != null) names.Add(s.FullName);
        }
        c.Reply.ArrayHeader(names.Count);
        foreach (var n in names) c.Reply.Bulk(n);
    }

    /// <summary>
    /// Key specs marked variable_flags depend on the arguments, as Redis's setGetKeys/bitfieldGetKeys decide:
    /// SET is an overwrite unless it has GET; BITFIELD is read-only unless it has SET or INCRBY.
    /// </summary>
    static string[] ResolveVariableFlags(Command cmd, KeySpec spec, Func<int, ReadOnlySpan<byte>> arg, int argc)
    {
        if (!spec.Flags.Contains("variable_flags")) return spec.Flags;
        if (cmd.FullName == "set")
        {
            for (int i = 3; i < argc; i++)
                if (Ascii.EqualsIgnoreCase(arg(i), "get")) return new[] { "RW", "access", "update" };
            return new[] { "OW", "update" };
        }
        if (cmd.FullName == "bitfield")
        {
            for (int i = 2; i < argc; i++)
                if (Ascii.EqualsIgnoreCase(arg(i), "set") || Ascii.EqualsIgnoreCase(arg(i), "incrby")) return new[] { "RW", "access", "update" };
            return new[] { "RO", "access" };
        }
        return spec.Flags.Where(f => f != "variable_flags").ToArray();
    }

    static void GetKeys(Client c, bool withFlags)
    {
        var cmd = c.Server.Commands.Find(c.ArgString(2).ToLowerInvariant());
        if (cmd != null && cmd.Subcommands != null && c.ArgCount > 3)
        {
            string sub = c.ArgString(3).ToLowerInvariant();
            cmd = cmd.Subcommands.GetValueOrDefault(sub);
        }
        if (cmd == null) { c.Error("ERR Invalid command specified"); return; }
        int argc = c.ArgCount - 2;
        if ((cmd.Arity > 0 && cmd.Arity != argc) || argc < -cmd.Arity)
        {
            c.Error("ERR Invalid number of arguments specified for command");
            return;
        }
        var keys = CommandTable.KeyPositionsWithSpecs(cmd, i => c.Arg(i + 2), argc);
        if (keys.Count == 0)
        {
            c.Error(cmd.KeySpecs.Length == 0 ? "ERR The command has no key arguments" : "ERR Invalid arguments specified for command");
            return;
        }
        c.Reply.ArrayHeader(keys.Count);
        foreach (var (k, spec) in keys)
        {
            if (withFlags)
            {
                c.Reply.ArrayHeader(2);
                c.Reply.Bulk(c.Arg(k + 2));
                var flags = ResolveVariableFlags(cmd, spec, i => c.Arg(i + 2), argc);
                c.Reply.SetHeader(flags.Length);
                foreach (var f in flags) c.Reply.Simple(f);
            }
            else c.Reply.Bulk(c.Arg(k + 2));
        }
    }
}
