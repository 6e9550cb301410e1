using Cinnabar.Server.Network;

namespace Cinnabar.Server.Commands;

/// <summary>CONFIG GET/SET/RESETSTAT/REWRITE (config.c configSetCommand and friends).</summary>
public static class ConfigCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("config|get", Get);
        t.Register("config|set", Set);
        t.Register("config|resetstat", ResetStat);
        t.Register("config|rewrite", Rewrite);
        t.Register("config|help", c => HelpReply.Write(c, "CONFIG", new[]
        {
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        }));
    }

    static void Get(Client c)
    {
        var patterns = new List<string>();
        for (int i = 2; i < c.ArgCount; i++) patterns.Add(c.ArgString(i));
        var matches = c.Server.Config.Get(patterns);
        c.Reply.MapHeader(matches.Count);
        foreach (var (name, value) in matches)
        {
            c.Reply.Bulk(name);
            c.Reply.Bulk(value);
        }
    }

    static void Set(Client c)
    {
        if (c.ArgCount % 2 == 1)
        {
            c.Syntax();
            return;
        }
        var config = c.Server.Config;
        int count = (c.ArgCount - 2) / 2;
        var directives = new Config.Directive[count];
        string unknown = null, errArg = null, errText = null;
        for (int i = 0; i < count; i++)
        {
            string name = c.ArgString(2 + i * 2);
            var d = config.Find(name);
            if (d == null || d.FileOnly)
            {
                unknown ??= name;
                continue;
            }
            if (d.Flags.Contains("sensitive")) c.Redact(3 + i * 2);
            if (unknown != null || errText != null) continue;
            if (d.Immutable)
            {
                errText = "can't set immutable config";
                errArg = name;
            }
            else if (d.Flags.Contains("protected") && c.Server.Settings.EnableProtectedConfigs == "no")
            {
                errText = "can't set protected config";
                errArg = name;
            }
            for (int j = 0; j < i && errText == null; j++)
            {
                if (directives[j] == d)
                {
                    errText = "duplicate parameter";
                    errArg = name;
                }
            }
            directives[i] = d;
        }
        if (unknown != null)
        {
            c.Error($"ERR Unknown option or number of arguments for CONFIG SET - '{unknown}'");
            return;
        }
        if (errText != null)
        {
            c.Error($"ERR CONFIG SET failed (possibly related to argument '{errArg}') - {errText}");
            return;
        }
        var old = directives.Select(d => d.Value).ToArray();
        for (int i = 0; i < count; i++)
        {
            string err = config.TrySet(directives[i], new[] { c.ArgString(3 + i * 2) });
            if (err != null)
            {
                for (int j = i - 1; j >= 0; j--) config.TrySet(directives[j], directives[j].MultiArg ? new[] { old[j] } : new[] { old[j] });
                c.Error($"ERR CONFIG SET failed (possibly related to argument '{directives[i].Name}') - {err}");
                return;
            }
        }
        c.Reply.Ok();
    }

    static void ResetStat(Client c)
    {
        var s = c.Server;
        s.Stats.Reset();
        s.Repl.Master.StatSyncFull = s.Repl.Master.StatSyncPartialOk = s.Repl.Master.StatSyncPartialErr = 0;
        foreach (var cmd in s.Commands.All)
        {
            cmd.Calls = cmd.Microseconds = cmd.RejectedCalls = cmd.FailedCalls = 0;
            if (cmd.Subcommands != null)
                foreach (var sub in cmd.Subcommands.Values) sub.Calls = sub.Microseconds = sub.RejectedCalls = sub.FailedCalls = 0;
        }
        s.SlowLog.Reset();
        s.PeakMemory = s.UsedMemory();
        c.Reply.Ok();
    }

    static void Rewrite(Client c)
    {
        var s = c.Server;
        if (string.IsNullOrEmpty(s.ConfigFile))
        {
            c.Error("ERR The server is running without a config file");
            return;
        }
        string err = s.Config.Rewrite(s.ConfigFile);
        if (err != null)
        {
            s.Log.Warning($"CONFIG REWRITE failed: {err}");
            c.Error($"ERR Rewriting config file: {err}");
            return;
        }
        s.Log.Notice("CONFIG REWRITE executed with success.");
        c.Reply.Ok();
    }
}
