using System.Text;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO and the CLIENT container.</summary>
public static class ConnectionCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("ping", Ping);
        t.Register("echo", c => c.Reply.Bulk(c.Arg(1)));
        t.Register("quit", Quit);
        t.Register("reset", Reset);
        t.Register("auth", Auth);
        t.Register("hello", Hello);
        Commands_Client.Register(t);
    }

    static void Ping(Client c)
    {
        if (c.ArgCount > 2) { c.Error("ERR wrong number of arguments for 'ping' command"); return; }
        if (c.InPubSub && !c.Reply.Resp3)
        {
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk("pong"u8);
            c.Reply.Bulk(c.ArgCount == 1 ? ReadOnlySpan<byte>.Empty : c.Arg(1));
            return;
        }
        if (c.ArgCount == 1) c.Reply.Raw("+PONG\r\n"u8);
        else c.Reply.Bulk(c.Arg(1));
    }

    static void Quit(Client c)
    {
        c.Reply.Ok();
        c.Flags |= ClientFlags.CloseAfterReply;
    }

    static void Reset(Client c)
    {
        c.Server.DiscardTransaction(c);
        c.Server.ResetSubscriptions(c);
        c.Db = c.Server.Dbs[0];
        c.Reply.Resp3 = false;
        c.Name = null;
        c.Authenticated = c.Server.Settings.RequirePass.Length == 0;
        if ((c.Flags & ClientFlags.Monitor) != 0) c.Server.Monitors.Remove(c);
        c.Flags &= ~(ClientFlags.Monitor | ClientFlags.ReplyOff | ClientFlags.ReplySkip | ClientFlags.ReplySkipNext | ClientFlags.NoEvict);
        c.Reply.Simple("RESET"u8);
    }

    /// <summary>ACLAuthenticateUser for the single "default" user that requirepass configures.</summary>
    static bool CheckPassword(Client c, ReadOnlySpan<byte> user, ReadOnlySpan<byte> pass)
    {
        if (!user.SequenceEqual("default"u8)) return false;
        string required = c.Server.Settings.RequirePass;
        if (required.Length == 0) return true;
        return pass.SequenceEqual(Encoding.Latin1.GetBytes(required));
    }

    static void Auth(Client c)
    {
        if (c.ArgCount > 3) { c.Syntax(); return; }
        c.Redact(1);
        if (c.ArgCount == 3) c.Redact(2);
        ReadOnlySpan<byte> user = "default"u8, pass;
        if (c.ArgCount == 2)
        {
            if (c.Server.Settings.RequirePass.Length == 0)
            {
                c.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
                return;
            }
            pass = c.Arg(1);
        }
        else
        {
            user = c.Arg(1);
            pass = c.Arg(2);
        }
        if (CheckPassword(c, user, pass))
        {
            c.Authenticated = true;
            c.Reply.Ok();
        }
        else c.Error("WRONGPASS invalid username-password pair or user is disabled.");
    }

    static void Hello(Client c)
    {
        long ver = 0;
        int next = 1;
        if (c.ArgCount >= 2)
        {
            if (!Numbers.TryParseInt64(c.Arg(next++), out ver))
            {
                c.Error("ERR Protocol version is not an integer or out of range");
                return;
            }
            if (ver < 2 || ver > 3) { c.Error("NOPROTO unsupported protocol version"); return; }
        }
        int userArg = -1, nameArg = -1;
        for (int j = next; j < c.ArgCount; j++)
        {
            int more = c.ArgCount - 1 - j;
            if (c.ArgIs(j, "auth") && more >= 2)
            {
                userArg = j + 1;
                c.Redact(j + 1);
                c.Redact(j + 2);
                j += 2;
            }
            else if (c.ArgIs(j, "setname") && more >= 1) { nameArg = j + 1; j++; }
            else { c.Error($"ERR Syntax error in HELLO option '{c.ArgText(j)}'"); return; }
        }
        if (userArg > 0)
        {
            if (!CheckPassword(c, c.Arg(userArg), c.Arg(userArg + 1)))
            {
                c.Error("WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            c.Authenticated = true;
        }
        if (!c.Authenticated)
        {
            c.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }
        if (nameArg > 0 && !Commands_Client.TrySetName(c, c.Arg(nameArg))) return;
        if (ver != 0) c.Reply.Resp3 = ver == 3;
        c.Reply.MapHeader(7);
        c.Reply.Bulk("server"u8); c.Reply.Bulk("redis"u8);
        c.Reply.Bulk("version"u8); c.Reply.Bulk(CinnabarServer.Version);
        c.Reply.Bulk("proto"u8); c.Reply.Integer(c.ProtocolVersion);
        c.Reply.Bulk("id"u8); c.Reply.Integer(c.Id);
        c.Reply.Bulk("mode"u8); c.Reply.Bulk(c.Server.ModeName);
        c.Reply.Bulk("role"u8); c.Reply.Bulk(c.Server.Repl.IsReplica ? "replica"u8 : "master"u8);
        c.Reply.Bulk("modules"u8); c.Reply.EmptyArray();
    }
}

/// <summary>The CLIENT container (networking.c clientCommand).</summary>
public static class Commands_Client
{
    public static void Register(CommandTable t)
    {
        t.Register("client|id", c => c.Reply.Integer(c.Id));
        t.Register("client|getname", c => { if (c.Name == null) c.Reply.Null(); else c.Reply.Bulk(c.Name); });
        t.Register("client|setname", c => { if (TrySetName(c, c.Arg(2))) c.Reply.Ok(); });
        t.Register("client|info", c => c.Reply.Verbatim(InfoLine(c.Server, c) + "\n"));
        t.Register("client|list", List);
        t.Register("client|kill", Kill);
        t.Register("client|pause", Pause);
        t.Register("client|unpause", c => { c.Server.Unpause(); c.Reply.Ok(); });
        t.Register("client|reply", ReplyMode);
        t.Register("client|no-evict", NoEvict);
        t.Register("client|unblock", Unblock);
        t.Register("client|help", Help);
    }

    public static bool TrySetName(Client c, ReadOnlySpan<byte> name)
    {
        if (name.Length == 0) { c.Name = null; return true; }
        foreach (byte b in name)
        {
            if (b < '!' || b > '~')
            {
                c.Error("ERR Client names cannot contain spaces, newlines or special characters.");
                return false;
            }
        }
        c.Name = Encoding.ASCII.GetString(name);
        return true;
    }

    /// <summary>catClientInfoString: one CLIENT LIST line.</summary>
    public static string InfoLine(CinnabarServer s, Client c)
    {
        // catClientInfoString's order.
        string flags = "";
        if ((c.Flags & ClientFlags.Monitor) != 0) flags += "O";
        else if (c.ReplicaLink is { IsReplica: true }) flags += "S";
        if ((c.Flags & ClientFlags.Master) != 0) flags += "M";
        if (c.InPubSub) flags += "P";
        if (c.InMulti) flags += "x";
        if ((c.Flags & ClientFlags.Blocked) != 0) flags += "b";
        if (c.DirtyCas) flags += "d";
        if ((c.Flags & ClientFlags.CloseAfterReply) != 0) flags += "c";
        if ((c.Flags & ClientFlags.CloseAsap) != 0) flags += "A";
        if ((c.Flags & ClientFlags.NoEvict) != 0) flags += "e";
        if (flags == "") flags = "N";
        string events = (c.Flags & ClientFlags.WriteRegistered) != 0 ? "rw" : "r";
        long age = (Clock.NowMs - c.CreatedMs) / 1000;
        long idle = (Clock.NowMs - c.LastInteractionMs) / 1000;
        int qbuf = c.Request.Buffer == null ? 0 : c.Request.Unconsumed;
        int qbufFree = c.Request.Buffer == null ? 0 : c.Request.Capacity - c.Request.End;
        int rbs = c.Reply.Buffer?.Length ?? 0;
        long argvMem = 0;
        for (int i = 0; i < c.ArgCount && c.Request.Buffer != null; i++) argvMem += c.Request.ArgLength(i);
        long totMem = qbuf + qbufFree + rbs + 1024;
        return $"id={c.Id} addr={c.Addr} laddr={c.LAddr} fd={c.Fd} name={c.Name ?? ""} age={age} idle={idle} flags={flags} db={c.Db.Id} sub={c.Channels.Count} psub={c.Patterns.Count} ssub={c.ShardChannels.Count} multi={(c.InMulti ? c.Queued.Count : -1)} qbuf={qbuf} qbuf-free={qbufFree} argv-mem={argvMem} multi-mem=0 rbs={rbs} rbp={c.Reply.Length} obl={c.Reply.Pending} oll=0 omem=0 tot-mem={totMem} events={events} cmd={c.LastCommand} user={c.User} redir=-1 resp={c.ProtocolVersion}";
    }

    /// <summary>getClientType's name as CLIENT KILL/LIST TYPE spell it: my master, a replica (not MONITOR), a Pub/Sub subscriber, or normal.</summary>
    public static string TypeName(Client c)
    {
        if ((c.Flags & ClientFlags.Master) != 0) return "master";
        if ((c.Flags & ClientFlags.Monitor) == 0 && c.ReplicaLink is { IsReplica: true }) return "replica";
        if (c.InPubSub) return "pubsub";
        return "normal";
    }

    static void List(Client c)
    {
        var ids = new HashSet<long>();
        string type = null;
        for (int i = 2; i < c.ArgCount; i++)
        {
            if (c.ArgIs(i, "type") && i + 1 < c.ArgCount)
            {
                type = c.ArgString(i + 1).ToLowerInvariant();
                if (type == "replica") type = "slave";
                if (type is not ("normal" or "master" or "slave" or "pubsub"))
                {
                    c.Error($"ERR Unknown client type '{c.ArgText(i + 1)}'");
                    return;
                }
                if (type == "slave") type = "replica";
                i++;
            }
            else if (c.ArgIs(i, "id") && i + 1 < c.ArgCount)
            {
                for (int j = i + 1; j < c.ArgCount; j++)
                {
                    if (!Numbers.TryParseInt64(c.Arg(j), out long id) || id <= 0)
                    {
                        c.Error("ERR Invalid client ID");
                        return;
                    }
                    ids.Add(id);
                }
                break;
            }
            else { c.Syntax(); return; }
        }
        var sb = new StringBuilder();
        foreach (var cl in c.Server.Clients.Values.OrderBy(x => x.Id))
        {
            if (ids.Count > 0 && !ids.Contains(cl.Id)) continue;
            if (type != null && TypeName(cl) != type) continue;
            sb.Append(InfoLine(c.Server, cl)).Append('\n');
        }
        c.Reply.Verbatim(sb.ToString());
    }

    /// <summary>CLIENT UNBLOCK id [TIMEOUT|ERROR]: answers a client blocked on keys as a timeout would, or with UNBLOCKED.</summary>
    static void Unblock(Client c)
    {
        if (c.ArgCount > 4)
        {
            c.Error($"ERR unknown subcommand or wrong number of arguments for '{c.ArgString(1)}'. Try CLIENT HELP.");
            return;
        }
        bool error = false;
        if (c.ArgCount == 4)
        {
            if (c.ArgIs(3, "error")) error = true;
            else if (!c.ArgIs(3, "timeout")) { c.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"); return; }
        }
        if (!c.TryArgLong(2, out long id)) return;
        if (!c.Server.Clients.TryGetValue(id, out var target) || (target.Flags & ClientFlags.Blocked) == 0)
        {
            c.Reply.Integer(0);
            return;
        }
        if (error) c.Server.UnblockWithError(target);
        else c.Server.UnblockWithTimeout(target, viaClientUnblock: true);
        c.Reply.Integer(1);
    }

    static void Kill(Client c)
    {
        var server = c.Server;
        if (c.ArgCount == 3)
        {
            string addr = c.ArgString(2);
            var victim = server.Clients.Values.FirstOrDefault(x => x.Addr == addr);
            if (victim == null) { c.Error("ERR No such client"); return; }
            KillClient(c, victim);
            c.Reply.Ok();
            return;
        }
        long id = 0;
        string addrFilter = null, laddrFilter = null, user = null, type = null;
        bool skipMe = true;
        for (int i = 2; i < c.ArgCount; i += 2)
        {
            if (i + 1 >= c.ArgCount) { c.Syntax(); return; }
            if (c.ArgIs(i, "id"))
            {
                if (!Numbers.TryParseInt64(c.Arg(i + 1), out id) || id <= 0) { c.Error("ERR client-id should be greater than 0"); return; }
            }
            else if (c.ArgIs(i, "type"))
            {
                type = c.ArgString(i + 1).ToLowerInvariant();
                if (type == "replica") type = "slave";
                if (type is not ("normal" or "master" or "slave" or "pubsub"))
                {
                    c.Error($"ERR Unknown client type '{c.ArgText(i + 1)}'");
                    return;
                }
                if (type == "slave") type = "replica";
            }
            else if (c.ArgIs(i, "addr")) addrFilter = c.ArgString(i + 1);
            else if (c.ArgIs(i, "laddr")) laddrFilter = c.ArgString(i + 1);
            else if (c.ArgIs(i, "user"))
            {
                user = c.ArgString(i + 1);
                if (user != "default") { c.Error($"ERR No such user '{user}'"); return; }
            }
            else if (c.ArgIs(i, "skipme"))
            {
                if (c.ArgIs(i + 1, "yes")) skipMe = true;
                else if (c.ArgIs(i + 1, "no")) skipMe = false;
                else { c.Syntax(); return; }
            }
            else { c.Syntax(); return; }
        }
        long killed = 0;
        foreach (var victim in server.Clients.Values.ToArray())
        {
            if (addrFilter != null && victim.Addr != addrFilter) continue;
            if (laddrFilter != null && victim.LAddr != laddrFilter) continue;
            if (type != null && TypeName(victim) != type) continue;
            if (id != 0 && victim.Id != id) continue;
            if (user != null && victim.User != user) continue;
            if (victim == c && skipMe) continue;
            KillClient(c, victim);
            killed++;
        }
        c.Reply.Integer(killed);
    }

    static void KillClient(Client current, Client victim)
    {
        if (victim == current) victim.Flags |= ClientFlags.CloseAfterReply;
        else current.Server.Loop.FreeClient(victim);
    }

    static void Pause(Client c)
    {
        if (!Numbers.TryParseInt64(c.Arg(2), out long ms) || ms < 0)
        {
            c.Error(ms < 0 && Numbers.TryParseInt64(c.Arg(2), out _) ? "ERR timeout is negative" : "ERR timeout is not an integer or out of range");
            return;
        }
        bool writesOnly = false;
        if (c.ArgCount == 4)
        {
            if (c.ArgIs(3, "write")) writesOnly = true;
            else if (!c.ArgIs(3, "all"))
            {
                c.Error("ERR CLIENT PAUSE mode must be WRITE or ALL");
                return;
            }
        }
        else if (c.ArgCount > 4) { c.Syntax(); return; }
        c.Server.Pause(Clock.NowMs + ms, writesOnly);
        c.Reply.Ok();
    }

    static void ReplyMode(Client c)
    {
        if (c.ArgIs(2, "on"))
        {
            c.Flags &= ~(ClientFlags.ReplyOff | ClientFlags.ReplySkipNext | ClientFlags.ReplySkip);
            c.Reply.Ok();
        }
        else if (c.ArgIs(2, "off")) c.Flags |= ClientFlags.ReplyOff;
        else if (c.ArgIs(2, "skip"))
        {
            if ((c.Flags & ClientFlags.ReplyOff) == 0) c.Flags |= ClientFlags.ReplySkipNext;
        }
        else c.Syntax();
    }

    static void NoEvict(Client c)
    {
        if (c.ArgIs(2, "on")) { c.Flags |= ClientFlags.NoEvict; c.Reply.Ok(); }
        else if (c.ArgIs(2, "off")) { c.Flags &= ~ClientFlags.NoEvict; c.Reply.Ok(); }
        else c.Syntax();
    }

    static void Help(Client c) => HelpReply.Write(c, "CLIENT", new[]
    {
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    });
}
