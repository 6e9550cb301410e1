using System.Reflection;
using System.Text;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Commands;

[Flags]
public enum CommandFlags : long
{
    None = 0, Write = 1, ReadOnly = 2, DenyOom = 4, Admin = 8, PubSub = 16, NoScript = 32, Blocking = 64,
    Loading = 128, Stale = 256, SkipMonitor = 512, SkipSlowlog = 1024, Asking = 2048, Fast = 4096,
    NoAuth = 8192, MayReplicate = 16384, NoMandatoryKeys = 32768, NoMulti = 65536, MovableKeys = 131072,
    AllowBusy = 262144, NoAsyncLoading = 524288,
}

public delegate void CommandHandler(Client c);

/// <summary>Redis's getkeys_proc: key positions (each with the key spec whose flags it has) from the arguments.</summary>
public delegate List<(int position, KeySpec spec)> GetKeysProc(Command cmd, Func<int, ReadOnlySpan<byte>> arg, int argc);

/// <summary>One key specification (Redis 7.0 key-specs): where the keys start and how to find the rest.</summary>
public sealed class KeySpec
{
    public int BeginIndex = -1;         // begin_search index
    public string BeginKeyword;         // begin_search keyword
    public int KeywordStartFrom;
    public int LastKey, KeyStep = 1, Limit; // find_keys range
    public int KeyNumIndex = -1, FirstKey, KeyNumStep = 1; // find_keys keynum
    public bool Unknown;
    public bool Incomplete;             // the "incomplete" flag: the spec may miss keys (MIGRATE's KEYS)
    public string[] Flags = Array.Empty<string>();

    /// <summary>Keys must come from the command's getkeys_proc when it has one (Redis falls back to it then).</summary>
    public bool NeedsGetKeys => Unknown || Incomplete;
}

public sealed class Command
{
    public string Name;             // lower case; for subcommands the subcommand alone
    public string FullName;         // "get", "config|get"
    public int Arity;
    public CommandFlags Flags;
    public CommandHandler Handler;
    public Dictionary<string, Command> Subcommands;
    public Command Parent;
    public RespNode Info, Docs;
    public KeySpec[] KeySpecs = Array.Empty<KeySpec>();
    public GetKeysProc GetKeys;     // used when a key spec is "unknown", as Redis falls back to getkeys_proc
    public long Calls, Microseconds, RejectedCalls, FailedCalls;
    public bool Protected;          // gated by enable-debug-command (Redis's CMD_PROTECTED)

    public bool Implemented => Handler != null || (Subcommands != null && Subcommands.Values.Any(s => s.Handler != null));
}

/// <summary>
/// The command table. Names, arity, flags, key specs and docs are Redis 7.0.15's own, recorded from a
/// running redis-server (tools/capture_command_table.py) so COMMAND INFO/DOCS/GETKEYS answer as Redis does;
/// each command family registers its handlers against those entries.
/// </summary>
public sealed class CommandTable
{
    readonly Dictionary<string, Command> commands = new(StringComparer.Ordinal);
    readonly Dictionary<string, Command>.AlternateLookup<ReadOnlySpan<char>> byName;
    readonly CinnabarServer server;

    public CommandTable(CinnabarServer server)
    {
        this.server = server;
        byName = commands.GetAlternateLookup<ReadOnlySpan<char>>();
        var info = LoadResource("command-info.resp");
        foreach (var entry in info.Children)
        {
            var cmd = FromInfo(entry, null);
            commands[cmd.Name] = cmd;
        }
        var docs = LoadResource("command-docs.resp");
        for (int i = 0; i + 1 < docs.Children.Length; i += 2)
        {
            if (commands.TryGetValue(docs.Children[i].Text, out var cmd)) AttachDocs(cmd, docs.Children[i + 1]);
        }
        // Redis 7.0's COMMAND INFO never prints may_replicate, so the recorded table lacks it; these are the
        // commands whose JSON carries it (CLIENT PAUSE WRITE holds them back, observed on 7.0.15).
        foreach (var name in new[] { "eval", "evalsha", "fcall", "publish", "spublish", "pfcount" })
            commands[name].Flags |= CommandFlags.MayReplicate;
        CommandRegistry.RegisterAll(this);
    }

    static RespNode LoadResource(string name)
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException("missing resource " + name);
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        int pos = 0;
        return RespNode.Parse(ms.GetBuffer().AsSpan(0, (int)ms.Length), ref pos);
    }

    static Command FromInfo(RespNode entry, Command parent)
    {
        var c = entry.Children;
        string fullName = c[0].Text;
        var cmd = new Command
        {
            FullName = fullName,
            Name = parent == null ? fullName : fullName[(fullName.IndexOf('|') + 1)..],
            Arity = (int)c[1].Integer,
            Info = entry,
            Parent = parent,
        };
        foreach (var f in c[2].Children) cmd.Flags |= ParseFlag(f.Text);
        var specs = new List<KeySpec>();
        foreach (var spec in c[8].Children) specs.Add(ParseKeySpec(spec));
        cmd.KeySpecs = specs.ToArray();
        if (c[9].Children.Length > 0)
        {
            cmd.Subcommands = new Dictionary<string, Command>(StringComparer.Ordinal);
            foreach (var sub in c[9].Children)
            {
                var s = FromInfo(sub, cmd);
                cmd.Subcommands[s.Name] = s;
            }
        }
        return cmd;
    }

    static void AttachDocs(Command cmd, RespNode docs)
    {
        cmd.Docs = docs;
        var subs = docs.Get("subcommands");
        if (subs == null || cmd.Subcommands == null) return;
        for (int i = 0; i + 1 < subs.Children.Length; i += 2)
        {
            string full = subs.Children[i].Text;
            string name = full[(full.IndexOf('|') + 1)..];
            if (cmd.Subcommands.TryGetValue(name, out var sub)) AttachDocs(sub, subs.Children[i + 1]);
        }
    }

    static KeySpec ParseKeySpec(RespNode spec)
    {
        var ks = new KeySpec();
        ks.Flags = spec.Get("flags")?.Children?.Select(f => f.Text).ToArray() ?? Array.Empty<string>();
        ks.Incomplete = ks.Flags.Contains("incomplete");
        var begin = spec.Get("begin_search");
        var bspec = begin.Get("spec");
        switch (begin.Get("type").Text)
        {
            case "index": ks.BeginIndex = (int)bspec.Get("index").Integer; break;
            case "keyword":
                ks.BeginKeyword = bspec.Get("keyword").Text;
                ks.KeywordStartFrom = (int)bspec.Get("startfrom").Integer;
                break;
            default: ks.Unknown = true; break;
        }
        var find = spec.Get("find_keys");
        var fspec = find.Get("spec");
        switch (find.Get("type").Text)
        {
            case "range":
                ks.LastKey = (int)fspec.Get("lastkey").Integer;
                ks.KeyStep = (int)fspec.Get("keystep").Integer;
                ks.Limit = (int)fspec.Get("limit").Integer;
                break;
            case "keynum":
                ks.KeyNumIndex = (int)fspec.Get("keynumidx").Integer;
                ks.FirstKey = (int)fspec.Get("firstkey").Integer;
                ks.KeyNumStep = (int)fspec.Get("keystep").Integer;
                break;
            default: ks.Unknown = true; break;
        }
        return ks;
    }

    static CommandFlags ParseFlag(string f) => f switch
    {
        "write" => CommandFlags.Write,
        "readonly" => CommandFlags.ReadOnly,
        "denyoom" => CommandFlags.DenyOom,
        "admin" => CommandFlags.Admin,
        "pubsub" => CommandFlags.PubSub,
        "noscript" => CommandFlags.NoScript,
        "blocking" => CommandFlags.Blocking,
        "loading" => CommandFlags.Loading,
        "stale" => CommandFlags.Stale,
        "skip_monitor" => CommandFlags.SkipMonitor,
        "skip_slowlog" => CommandFlags.SkipSlowlog,
        "asking" => CommandFlags.Asking,
        "fast" => CommandFlags.Fast,
        "no_auth" => CommandFlags.NoAuth,
        "may_replicate" => CommandFlags.MayReplicate,
        "no_mandatory_keys" => CommandFlags.NoMandatoryKeys,
        "no_multi" => CommandFlags.NoMulti,
        "movablekeys" => CommandFlags.MovableKeys,
        "allow_busy" => CommandFlags.AllowBusy,
        "no_async_loading" => CommandFlags.NoAsyncLoading,
        _ => CommandFlags.None,
    };

    /// <summary>Binds a handler to "name" or "container|sub".</summary>
    public void Register(string fullName, CommandHandler handler)
    {
        var cmd = Find(fullName) ?? throw new InvalidOperationException("not a Redis 7.0 command: " + fullName);
        cmd.Handler = handler;
    }

    /// <summary>rename-command: serve a command under another name, or under none when the new name is empty.</summary>
    public string Rename(string oldName, string newName)
    {
        if (!commands.TryGetValue(oldName, out var cmd)) return "No such command in rename-command";
        if (newName.Length > 0 && commands.ContainsKey(newName)) return "Target command name already exists";
        commands.Remove(oldName);
        if (newName.Length > 0) commands[newName] = cmd;
        return null;
    }

    public Command Find(string fullName)
    {
        int bar = fullName.IndexOf('|');
        if (bar < 0) return commands.GetValueOrDefault(fullName);
        var parent = commands.GetValueOrDefault(fullName[..bar]);
        return parent?.Subcommands?.GetValueOrDefault(fullName[(bar + 1)..]);
    }

    public IEnumerable<Command> All => commands.Values.Where(c => c.Implemented);

    /// <summary>Finds the command for a request, or explains why not with Redis's exact text.</summary>
    public Command Lookup(Client c, out string error)
    {
        error = null;
        var cmd = LookupName(c.Arg(0));
        if (cmd != null && cmd.Subcommands != null && c.ArgCount >= 2)
        {
            var sub = LookupSub(cmd, c.Arg(1));
            if (sub == null)
            {
                error = $"ERR unknown subcommand '{Truncate(c.ArgText(1), 128)}'. Try {cmd.FullName.ToUpperInvariant()} HELP.";
                cmd.RejectedCalls++;
                return null;
            }
            cmd = sub;
        }
        if (cmd == null)
        {
            var args = new StringBuilder();
            for (int i = 1; i < c.ArgCount && Encoding.Latin1.GetByteCount(args.ToString()) < 128; i++)
            {
                int room = 128 - Encoding.Latin1.GetByteCount(args.ToString());
                var a = CString(c.Arg(i));
                args.Append('\'').Append(Encoding.Latin1.GetString(a[..Math.Min(a.Length, room)])).Append("' ");
            }
            var name = CString(c.Arg(0));
            error = $"ERR unknown command '{Encoding.Latin1.GetString(name[..Math.Min(name.Length, 128)])}', with args beginning with: {args}";
            return null;
        }
        if ((cmd.Arity > 0 && cmd.Arity != c.ArgCount) || c.ArgCount < -cmd.Arity)
        {
            error = $"ERR wrong number of arguments for '{cmd.FullName}' command";
            cmd.RejectedCalls++;
            return null;
        }
        return cmd;
    }

    /// <summary>Redis formats these with %s, so an argument ends at its first NUL byte.</summary>
    static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        return nul < 0 ? s : s[..nul];
    }

    /// <summary>The command for the client's current arguments (already validated once), for re-execution.</summary>
    public Command LookupArgs(Client c)
    {
        var cmd = LookupName(c.Arg(0));
        if (cmd?.Subcommands != null && c.ArgCount >= 2) cmd = LookupSub(cmd, c.Arg(1)) ?? cmd;
        return cmd;
    }

    static string Truncate(string s, int n) => s.Length <= n ? s : s[..n];

    public Command LookupName(ReadOnlySpan<byte> name)
    {
        if (name.Length == 0 || name.Length > 64) return null;
        Span<char> lower = stackalloc char[name.Length];
        for (int i = 0; i < name.Length; i++)
        {
            byte b = name[i];
            lower[i] = (char)(b >= 'A' && b <= 'Z' ? b | 0x20 : b);
        }
        return byName.TryGetValue(lower, out var cmd) && cmd.Implemented ? cmd : null;
    }

    /// <summary>A container's subcommand by name, or null (redis.call's lookup).</summary>
    public static Command LookupSubcommand(Command parent, ReadOnlySpan<byte> name) => LookupSub(parent, name);

    static Command LookupSub(Command parent, ReadOnlySpan<byte> name)
    {
        if (name.Length > 64) return null;
        string lower = Encoding.Latin1.GetString(name).ToLowerInvariant();
        return parent.Subcommands.TryGetValue(lower, out var sub) && sub.Handler != null ? sub : null;
    }

    /// <summary>Key positions by the command's key specs (COMMAND GETKEYS, later cluster routing).</summary>
    public static List<int> KeyPositions(Command cmd, Func<int, ReadOnlySpan<byte>> arg, int argc) =>
        KeyPositionsWithSpecs(cmd, arg, argc).Select(k => k.position).ToList();

    /// <summary>Key positions with the key spec that found each (its flags answer GETKEYSANDFLAGS).</summary>
    public static List<(int position, KeySpec spec)> KeyPositionsWithSpecs(Command cmd, Func<int, ReadOnlySpan<byte>> arg, int argc)
    {
        if (cmd.GetKeys != null && cmd.KeySpecs.Any(k => k.NeedsGetKeys)) return cmd.GetKeys(cmd, arg, argc);
        var keys = new List<(int, KeySpec)>();
        foreach (var ks in cmd.KeySpecs)
        {
            if (ks.Unknown || !KeyRange(ks, arg, argc, out int first, out int last, out int step)) continue;
            for (int i = first; i <= last && i < argc; i += step) keys.Add((i, ks));
        }
        return keys;
    }

    /// <summary>
    /// One key spec's positions as a range, first..last by step (begin_search by index or keyword, find_keys by
    /// range or keynum); false when it finds no key. Allocates nothing, for cluster routing's hot path.
    /// </summary>
    public static bool KeyRange(KeySpec ks, Func<int, ReadOnlySpan<byte>> arg, int argc, out int first, out int last, out int step)
    {
        last = -1;
        step = 1;
        if (ks.BeginIndex >= 0) first = ks.BeginIndex;
        else
        {
            first = -1;
            int start = ks.KeywordStartFrom > 0 ? ks.KeywordStartFrom : argc + ks.KeywordStartFrom;
            int dir = ks.KeywordStartFrom > 0 ? 1 : -1;
            for (int i = start; i > 0 && i < argc; i += dir)
                if (Ascii.EqualsIgnoreCase(arg(i), ks.BeginKeyword)) { first = i + 1; break; }
            if (first < 0) return false;
        }
        if (first >= argc) return false;
        if (ks.KeyNumIndex >= 0)
        {
            if (!Numbers.TryParseInt64(arg(first + ks.KeyNumIndex), out long n) || n <= 0) return false;
            step = Math.Max(1, ks.KeyNumStep);
            first += ks.FirstKey;
            last = (int)Math.Min(argc - 1, first + (n - 1) * step);
            return true;
        }
        if (ks.LastKey >= 0) last = first + ks.LastKey;
        else if (ks.Limit <= 1) last = argc + ks.LastKey;
        else last = first + ((argc - 1 - first) / ks.Limit);
        step = Math.Max(1, ks.KeyStep);
        return true;
    }
}
