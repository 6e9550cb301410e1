using System.Globalization;
using System.Reflection;
using System.Text;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Config;

/// <summary>One directive of Redis 7.0's config table (data/directives.tsv, recorded from config.c and a live server).</summary>
public sealed class Directive
{
    public string Name;
    public string Type;
    public string Default;
    public long Min = long.MinValue, Max = long.MaxValue;
    public ulong UMax = ulong.MaxValue;
    public string[] EnumValues = Array.Empty<string>();
    public HashSet<string> Flags = new();
    public string Value;                 // as CONFIG GET prints it
    public readonly List<string> Aliases = new();

    public bool Immutable => Flags.Contains("immutable");
    public bool MultiArg => Flags.Contains("multi-arg");
    public bool Hidden => Flags.Contains("hidden");
    public bool FileOnly => Flags.Contains("file-only");
    public bool IsUnsigned => Type is "uint" or "ulonglong" or "size" or "size-percent" or "octal";
}

/// <summary>
/// The configuration: parses redis.conf and command-line directives, answers CONFIG GET/SET/REWRITE,
/// and pushes every change into <see cref="ServerSettings"/> for the hot path.
/// </summary>
public sealed class ConfigTable
{
    readonly Dictionary<string, Directive> byName = new(StringComparer.OrdinalIgnoreCase);
    readonly List<Directive> ordered = new();
    readonly CinnabarServer server;
    public readonly List<string> FileLines = new();  // the main config file as read, for CONFIG REWRITE

    public ConfigTable(CinnabarServer server)
    {
        this.server = server;
        Load();
        foreach (var d in ordered)
        {
            if (d.FileOnly || d.Default == "-") continue;
            string def = d.Default == "\"\"" ? "" : d.Default;
            if (d.Name == "dir") def = Directory.GetCurrentDirectory();
            d.Default = def;
            d.Value = def;
        }
        foreach (var d in ordered) if (d.Value != null) Apply(d);
    }

    void Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("directives.tsv")!;
        using var reader = new StreamReader(stream);
        reader.ReadLine();
        var aliases = new List<(string alias, string target)>();
        string line;
        while ((line = reader.ReadLine()) != null)
        {
            var f = line.Split('\t');
            if (f.Length < 8) continue;
            if (f[1] != "-") { aliases.Add((f[0], f[1])); continue; }
            var d = new Directive { Name = f[0], Type = f[2], Default = f[3] };
            if (f[4] != "-" && long.TryParse(f[4], NumberStyles.Integer, CultureInfo.InvariantCulture, out long min)) d.Min = min;
            if (f[5] != "-")
            {
                if (ulong.TryParse(f[5], NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong umax)) d.UMax = umax;
                if (long.TryParse(f[5], NumberStyles.Integer, CultureInfo.InvariantCulture, out long max)) d.Max = max;
                else d.Max = long.MaxValue;
            }
            if (f[6] != "-") d.EnumValues = f[6].Split(',');
            if (f[7] != "-") foreach (var fl in f[7].Split(',')) d.Flags.Add(fl);
            byName[d.Name] = d;
            ordered.Add(d);
        }
        foreach (var (alias, target) in aliases)
        {
            if (!byName.TryGetValue(target, out var d)) continue;
            d.Aliases.Add(alias);
            byName[alias] = d;
        }
    }

    public Directive Find(string name) => byName.GetValueOrDefault(name);
    public string GetValue(string name) => byName.GetValueOrDefault(name)?.Value;

    // ---------------------------------------------------------------- startup

    /// <summary>Raised for a config file or command-line error; Program prints Redis's FATAL CONFIG FILE ERROR report.</summary>
    public sealed class ConfigError : Exception
    {
        public readonly int LineNumber;
        public readonly string Line;
        public ConfigError(string message, int lineNumber, string line) : base(message)
        {
            LineNumber = lineNumber;
            Line = line;
        }
    }

    /// <summary>loadServerConfigFromString's sanity checks once every line is read (reported without a line).</summary>
    public void SanityCheck()
    {
        if (server.Settings.ClusterEnabled && server.Repl.MasterHost != null)
            throw new ConfigError("replicaof directive not allowed in cluster mode", 0, null);
    }

    bool saveSeen;  // the first "save" line replaces the built-in save points; later ones append

    /// <summary>
    /// loadServerConfigFromString: each line is "name args...", quotes per sdssplitargs. The first
    /// <paramref name="mainFileLines"/> lines are the main config file, remembered for CONFIG REWRITE.
    /// </summary>
    public void LoadFromString(string text, int mainFileLines = 0)
    {
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string trimmed = lines[i].Trim(' ', '\t', '\r', '\n');
            if (i < mainFileLines) FileLines.Add(lines[i].TrimEnd('\r'));
            if (trimmed.Length == 0 || trimmed[0] == '#') continue;
            var args = SplitArgs(trimmed);
            if (args == null) throw new ConfigError("Unbalanced quotes in configuration line", i + 1, trimmed);
            if (args.Count == 0) continue;
            string name = args[0].ToLowerInvariant();
            string err = SetFromFile(name, args.GetRange(1, args.Count - 1));
            if (err != null) throw new ConfigError(err, i + 1, trimmed);
        }
    }

    string SetFromFile(string name, List<string> args)
    {
        switch (name)
        {
            case "include":
                if (args.Count != 1) return "wrong number of arguments";
                try
                {
                    LoadFromString(File.ReadAllText(args[0], Encoding.Latin1));
                }
                catch (IOException e)
                {
                    return $"Fatal error, can't open config file '{args[0]}': {e.Message}";
                }
                catch (UnauthorizedAccessException e)
                {
                    return $"Fatal error, can't open config file '{args[0]}': {e.Message}";
                }
                return null;
            case "rename-command":
                if (args.Count != 2) return "wrong number of arguments";
                return server.Commands.Rename(args[0].ToLowerInvariant(), args[1].ToLowerInvariant());
            case "user":
            case "loadmodule":
                return args.Count < 1 ? "wrong number of arguments" : null;
            case "sentinel":
                return null;
        }
        if (!byName.TryGetValue(name, out var d)) return "Bad directive or wrong number of arguments";
        if (d.Type == "ignored") return args.Count == 1 ? null : "Bad directive or wrong number of arguments";
        if (d.FileOnly) return "Bad directive or wrong number of arguments";
        if (!d.MultiArg && args.Count != 1) return "wrong number of arguments";
        if (d.MultiArg && args.Count == 0) return "wrong number of arguments";
        if (d.Name == "save")
        {
            if (args.Count == 1 && args[0] == "") { d.Value = ""; saveSeen = true; Apply(d); return null; }
            string before = saveSeen ? d.Value : "";
            saveSeen = true;
            string err = TrySet(d, args.ToArray(), fromFile: true);
            if (err == null && before.Length > 0) { d.Value = before + " " + d.Value; Apply(d); }
            return err;
        }
        return TrySet(d, args.ToArray(), fromFile: true);
    }

    /// <summary>sdssplitargs: space separated, "..." with escapes, '...' with \'; null on unbalanced quotes.</summary>
    public static List<string> SplitArgs(string line)
    {
        var result = new List<string>();
        var bytes = Encoding.Latin1.GetBytes(line);
        int p = 0;
        while (true)
        {
            while (p < bytes.Length && char.IsWhiteSpace((char)bytes[p])) p++;
            if (p >= bytes.Length) return result;
            var cur = new List<byte>();
            bool inq = false, insq = false, done = false;
            while (!done)
            {
                if (inq)
                {
                    if (p >= bytes.Length) return null;
                    if (bytes[p] == '\\' && p + 3 < bytes.Length && bytes[p + 1] == 'x' && Uri.IsHexDigit((char)bytes[p + 2]) && Uri.IsHexDigit((char)bytes[p + 3]))
                    {
                        cur.Add(Convert.ToByte(Encoding.ASCII.GetString(bytes, p + 2, 2), 16));
                        p += 3;
                    }
                    else if (bytes[p] == '\\' && p + 1 < bytes.Length)
                    {
                        p++;
                        cur.Add(bytes[p] switch { (byte)'n' => (byte)'\n', (byte)'r' => (byte)'\r', (byte)'t' => (byte)'\t', (byte)'b' => (byte)'\b', (byte)'a' => (byte)'\a', _ => bytes[p] });
                    }
                    else if (bytes[p] == '"')
                    {
                        if (p + 1 < bytes.Length && !char.IsWhiteSpace((char)bytes[p + 1])) return null;
                        done = true;
                    }
                    else cur.Add(bytes[p]);
                }
                else if (insq)
                {
                    if (p >= bytes.Length) return null;
                    if (bytes[p] == '\\' && p + 1 < bytes.Length && bytes[p + 1] == '\'') { p++; cur.Add((byte)'\''); }
                    else if (bytes[p] == '\'')
                    {
                        if (p + 1 < bytes.Length && !char.IsWhiteSpace((char)bytes[p + 1])) return null;
                        done = true;
                    }
                    else cur.Add(bytes[p]);
                }
                else
                {
                    if (p >= bytes.Length) { done = true; break; }
                    byte b = bytes[p];
                    if (b == ' ' || b == '\n' || b == '\r' || b == '\t' || b == 0) done = true;
                    else if (b == '"') inq = true;
                    else if (b == '\'') insq = true;
                    else cur.Add(b);
                }
                if (p < bytes.Length) p++;
            }
            result.Add(Encoding.Latin1.GetString(cur.ToArray()));
        }
    }

    // ---------------------------------------------------------------- CONFIG SET

    /// <summary>Validates and stores one directive's new value, then applies it. Returns an error text or null.</summary>
    public string TrySet(Directive d, string[] args, bool fromFile = false)
    {
        string value;
        string err = Normalize(d, args, out value);
        if (err != null) return err;
        string old = d.Value;
        d.Value = value;
        err = Apply(d);
        if (err != null)
        {
            d.Value = old;
            Apply(d);
        }
        return err;
    }

    static bool YesNo(string s, out bool b)
    {
        b = false;
        if (s.Equals("yes", StringComparison.OrdinalIgnoreCase)) { b = true; return true; }
        return s.Equals("no", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>memtoull: digits with an optional b/k/kb/m/mb/g/gb unit (k = 1000, kb = 1024).</summary>
    public static bool TryParseMemory(string s, out ulong value)
    {
        value = 0;
        if (s.StartsWith('-')) return false;
        int i = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        string unit = s[i..].ToLowerInvariant();
        ulong mul = unit switch
        {
            "" or "b" => 1, "k" => 1000, "kb" => 1024, "m" => 1000_000, "mb" => 1024 * 1024,
            "g" => 1000_000_000, "gb" => 1024UL * 1024 * 1024, _ => 0,
        };
        if (mul == 0) return false;
        if (i == 0) return true;
        if (!ulong.TryParse(s[..i], NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)) return false;
        value = unchecked(v * mul);
        return true;
    }

    string Normalize(Directive d, string[] args, out string value)
    {
        value = null;
        string a = args.Length > 0 ? args[0] : "";
        switch (d.Type)
        {
            case "bool":
                if (!YesNo(a, out bool b)) return "argument must be 'yes' or 'no'";
                value = b ? "yes" : "no";
                return null;
            case "int":
            case "long":
            case "uint":
            case "ulonglong":
            case "size":
            case "size-percent":
            {
                bool memory = d.Type is "size" or "size-percent";
                long n;
                if (memory && TryParseMemory(a, out ulong mem)) n = (long)mem;
                else if (d.Type == "size-percent" && a.Length > 1 && a.EndsWith('%') && Protocol.Numbers.TryParseInt64(Encoding.ASCII.GetBytes(a[..^1]), out long pct) && pct >= 0)
                {
                    if (-pct < d.Min && d.Min < 0) return $"percentage argument must be less or equal to {-d.Min}";
                    value = pct + "%";
                    return null;
                }
                else if (!memory && Protocol.Numbers.TryParseInt64(Encoding.Latin1.GetBytes(a), out long parsed)) n = parsed;
                else return d.Type == "size-percent" ? "argument must be a memory or percent value"
                    : memory ? "argument must be a memory value" : "argument couldn't be parsed into an integer";
                if (d.IsUnsigned)
                {
                    ulong u = (ulong)n;
                    ulong lo = (ulong)Math.Max(0, d.Min == long.MinValue ? 0 : d.Min);
                    if (u > d.UMax || u < lo) return $"argument must be between {lo} and {d.UMax} inclusive";
                }
                else if (n > d.Max || n < d.Min) return $"argument must be between {d.Min} and {d.Max} inclusive";
                value = d.IsUnsigned ? ((ulong)n).ToString(CultureInfo.InvariantCulture) : n.ToString(CultureInfo.InvariantCulture);
                return null;
            }
            case "octal":
            {
                try
                {
                    long n = Convert.ToInt64(a, 8);
                    if (n < Math.Max(0, d.Min) || (ulong)n > d.UMax) return $"argument must be between {Convert.ToString(Math.Max(0, d.Min), 8)} and {Convert.ToString((long)Math.Min(d.UMax, long.MaxValue), 8)} inclusive";
                    value = Convert.ToString(n, 8);
                    return null;
                }
                catch (Exception) when (a.Length >= 0) { return "argument couldn't be parsed as an octal number"; }
            }
            case "enum":
            {
                var match = d.EnumValues.FirstOrDefault(v => v.Equals(a, StringComparison.OrdinalIgnoreCase));
                if (match == null || args.Length != 1) return "argument(s) must be one of the following: " + string.Join(", ", d.EnumValues);
                value = match;
                return null;
            }
            case "flags-enum":
            {
                var parts = args.Length == 1 ? a.Split(' ', StringSplitOptions.RemoveEmptyEntries) : args;
                var chosen = new List<string>();
                foreach (var p in parts)
                {
                    var match = d.EnumValues.FirstOrDefault(v => v.Equals(p, StringComparison.OrdinalIgnoreCase));
                    if (match == null) return "argument(s) must be one of the following: " + string.Join(", ", d.EnumValues);
                    chosen.Add(match);
                }
                value = string.Join(" ", chosen);
                return null;
            }
            case "special":
                return NormalizeSpecial(d, args, out value);
            default:
                value = d.MultiArg ? string.Join(" ", args) : a;
                return null;
        }
    }

    string NormalizeSpecial(Directive d, string[] args, out string value)
    {
        value = null;
        if (args.Length == 1 && d.MultiArg && d.Name != "save") args = args[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        switch (d.Name)
        {
            case "save":
            {
                var parts = args.Length == 1 ? args[0].Split(' ', StringSplitOptions.RemoveEmptyEntries) : args;
                if (parts.Length == 0) { value = ""; return null; }
                if (parts.Length % 2 != 0) return "Invalid save parameters";
                var list = new List<string>();
                foreach (var p in parts)
                {
                    if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 0) return "Invalid save parameters";
                    list.Add(n.ToString(CultureInfo.InvariantCulture));
                }
                value = string.Join(" ", list);
                return null;
            }
            case "client-output-buffer-limit":
            {
                if (args.Length % 4 != 0) return "Wrong number of arguments in buffer limit configuration.";
                var limits = ParseBufferLimits(d.Value ?? d.Default);
                for (int i = 0; i < args.Length; i += 4)
                {
                    string cls = args[i].ToLowerInvariant();
                    if (cls == "replica") cls = "slave";
                    if (cls is not ("normal" or "slave" or "pubsub")) return "Invalid client class specified in buffer limit configuration.";
                    if (!TryParseMemory(args[i + 1], out ulong hard) || !TryParseMemory(args[i + 2], out ulong soft)
                        || !long.TryParse(args[i + 3], NumberStyles.None, CultureInfo.InvariantCulture, out long secs))
                        return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
                    limits[cls] = new[] { (long)hard, (long)soft, secs };
                }
                value = FormatBufferLimits(limits);
                return null;
            }
            case "bind":
                if (args.Length == 0 || args.Length > 16) return "Too many bind addresses specified.";
                value = string.Join(" ", args);
                return null;
            case "dir":
                try
                {
                    Directory.SetCurrentDirectory(args[0]);
                    value = Directory.GetCurrentDirectory();
                    return null;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    return e is DirectoryNotFoundException ? "No such file or directory" : e.Message;
                }
            case "notify-keyspace-events":
                return KeyspaceEventFlags.Normalize(args.Length == 0 ? "" : args[0], out value);
            case "oom-score-adj-values":
                if (args.Length != 3) return "Invalid oom-score-adj-values";
                foreach (var p in args)
                    if (!int.TryParse(p, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) || v < -2000 || v > 2000)
                        return "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";
                value = string.Join(" ", args);
                return null;
            case "latency-tracking-info-percentiles":
                foreach (var p in args)
                    if (!double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0 || v > 100)
                        return "latency-tracking-info-percentiles parameter should be between 0.0 and 100.0";
                value = string.Join(" ", args);
                return null;
            case "replicaof":
                // setConfigReplicaOfOption: "host port" or "no one"; the port as strtol reads it, 0..65535.
                if (args.Length != 2) return "wrong number of arguments";
                if (args[0].Equals("no", StringComparison.OrdinalIgnoreCase) && args[1].Equals("one", StringComparison.OrdinalIgnoreCase))
                {
                    value = "";
                    return null;
                }
                if (!int.TryParse(args[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int masterPort) || masterPort < 0 || masterPort > 65535)
                    return "Invalid master port";
                value = args[0] + " " + masterPort.ToString(CultureInfo.InvariantCulture);
                return null;
            default:
                value = string.Join(" ", args);
                return null;
        }
    }

    static Dictionary<string, long[]> ParseBufferLimits(string s)
    {
        var parts = s.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var d = new Dictionary<string, long[]>();
        for (int i = 0; i + 3 < parts.Length; i += 4)
            d[parts[i]] = new[] { long.Parse(parts[i + 1], CultureInfo.InvariantCulture), long.Parse(parts[i + 2], CultureInfo.InvariantCulture), long.Parse(parts[i + 3], CultureInfo.InvariantCulture) };
        return d;
    }

    static string FormatBufferLimits(Dictionary<string, long[]> d)
    {
        var sb = new StringBuilder();
        foreach (var cls in new[] { "normal", "slave", "pubsub" })
        {
            if (!d.TryGetValue(cls, out var l)) continue;
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(cls).Append(' ').Append(l[0]).Append(' ').Append(l[1]).Append(' ').Append(l[2]);
        }
        return sb.ToString();
    }

    /// <summary>Pushes a directive's value into the typed settings the server reads.</summary>
    string Apply(Directive d)
    {
        var s = server.Settings;
        string v = d.Value;
        long L() => long.Parse(v, CultureInfo.InvariantCulture);
        switch (d.Name)
        {
            case "port": s.Port = (int)L(); break;
            case "bind": s.Bind = v.Split(' ', StringSplitOptions.RemoveEmptyEntries); break;
            case "tcp-backlog": s.TcpBacklog = (int)L(); break;
            case "tcp-keepalive": s.TcpKeepalive = (int)L(); break;
            case "timeout": s.Timeout = (int)L(); break;
            case "databases": s.Databases = (int)L(); break;
            case "hz":
                s.Hz = (int)Math.Clamp(L(), 1, 500);
                d.Value = s.Hz.ToString(CultureInfo.InvariantCulture);
                break;
            case "maxclients": s.MaxClients = (int)L(); break;
            case "proto-max-bulk-len": s.ProtoMaxBulkLen = L(); break;
            case "client-query-buffer-limit": s.ClientQueryBufferLimit = L(); break;
            case "maxmemory": s.MaxMemory = (long)ulong.Parse(v, CultureInfo.InvariantCulture); break;
            case "maxmemory-policy":
                s.MaxMemoryPolicy = v switch
                {
                    "allkeys-lru" => EvictionPolicy.AllKeysLru, "allkeys-lfu" => EvictionPolicy.AllKeysLfu,
                    "allkeys-random" => EvictionPolicy.AllKeysRandom, "volatile-lru" => EvictionPolicy.VolatileLru,
                    "volatile-lfu" => EvictionPolicy.VolatileLfu, "volatile-random" => EvictionPolicy.VolatileRandom,
                    "volatile-ttl" => EvictionPolicy.VolatileTtl, _ => EvictionPolicy.NoEviction,
                };
                server.ApplyAccessPolicy();
                break;
            case "maxmemory-samples": s.MaxMemorySamples = (int)L(); break;
            case "maxmemory-eviction-tenacity": s.MaxMemoryEvictionTenacity = (int)L(); break;
            case "lfu-log-factor": s.LfuLogFactor = (int)L(); server.ApplyAccessPolicy(); break;
            case "lfu-decay-time": s.LfuDecayTime = (int)L(); server.ApplyAccessPolicy(); break;
            case "requirepass": s.RequirePass = v; break;
            case "enable-debug-command": s.EnableDebugCommand = v; break;
            case "enable-protected-configs": s.EnableProtectedConfigs = v; break;
            case "logfile": s.LogFile = v; break;
            case "loglevel":
                server.Log.Level = v switch { "debug" => LogLevel.Debug, "verbose" => LogLevel.Verbose, "warning" => LogLevel.Warning, "nothing" => LogLevel.Nothing, _ => LogLevel.Notice };
                break;
            case "daemonize": s.Daemonize = v == "yes"; break;
            case "pidfile": s.PidFile = v; break;
            case "slowlog-log-slower-than": s.SlowlogLogSlowerThan = L(); break;
            case "slowlog-max-len": s.SlowlogMaxLen = (int)L(); server.SlowLog.MaxLen = s.SlowlogMaxLen; break;
            case "latency-monitor-threshold": s.LatencyMonitorThreshold = L(); break;
            case "lazyfree-lazy-user-del": s.LazyfreeLazyUserDel = v == "yes"; break;
            case "lazyfree-lazy-user-flush": s.LazyfreeLazyUserFlush = v == "yes"; break;
            case "lazyfree-lazy-expire": s.LazyfreeLazyExpire = v == "yes"; break;
            case "lazyfree-lazy-eviction": s.LazyfreeLazyEviction = v == "yes"; break;
            case "lazyfree-lazy-server-del": s.LazyfreeLazyServerDel = v == "yes"; break;
            case "appendonly": return server.ApplyAppendOnly(v == "yes");
            case "appendfilename": s.AppendFilename = v; break;
            case "appenddirname": s.AppendDirname = v; break;
            case "appendfsync": return server.ApplyAppendFsync(v switch { "always" => AppendFsync.Always, "no" => AppendFsync.No, _ => AppendFsync.EverySec });
            case "no-appendfsync-on-rewrite": s.NoAppendfsyncOnRewrite = v == "yes"; break;
            case "aof-use-rdb-preamble": s.AofUseRdbPreamble = v == "yes"; break;
            case "aof-load-truncated": s.AofLoadTruncated = v == "yes"; break;
            case "aof-timestamp-enabled": s.AofTimestampEnabled = v == "yes"; break;
            case "aof-rewrite-incremental-fsync": s.AofRewriteIncrementalFsync = v == "yes"; break;
            case "aof-disable-auto-gc": s.AofDisableAutoGc = v == "yes"; break;
            case "auto-aof-rewrite-percentage": s.AutoAofRewritePercentage = L(); break;
            case "auto-aof-rewrite-min-size": s.AutoAofRewriteMinSize = L(); break;
            case "stop-writes-on-bgsave-error": s.StopWritesOnBgsaveError = v == "yes"; break;
            case "dir": s.Dir = v; break;
            case "protected-mode": s.ProtectedMode = v == "yes"; break;
            case "notify-keyspace-events":
                KeyspaceEventFlags.TryParse(v, out var events);
                server.NotifyFlags = events;
                break;
            case "hash-max-listpack-entries": s.HashMaxListpackEntries = L(); break;
            case "hash-max-listpack-value": s.HashMaxListpackValue = L(); break;
            case "set-max-intset-entries": s.SetMaxIntsetEntries = L(); break;
            case "zset-max-listpack-entries": s.ZsetMaxListpackEntries = L(); break;
            case "zset-max-listpack-value": s.ZsetMaxListpackValue = L(); break;
            case "list-max-listpack-size": s.ListMaxListpackSize = L(); break;
            case "list-compress-depth": s.ListCompressDepth = L(); break;
            case "stream-node-max-bytes": s.StreamNodeMaxBytes = L(); break;
            case "stream-node-max-entries": s.StreamNodeMaxEntries = L(); break;
            case "busy-reply-threshold": s.BusyReplyThresholdMs = L(); break;
            case "hll-sparse-max-bytes": s.HllSparseMaxBytes = L(); break;
            case "cluster-enabled": s.ClusterEnabled = v == "yes"; break;
            case "replicaof":
            {
                int sp = v.LastIndexOf(' ');
                if (sp < 0) server.Repl.ConfigureFromDirective(null, 0);
                else server.Repl.ConfigureFromDirective(v[..sp], int.Parse(v[(sp + 1)..], CultureInfo.InvariantCulture));
                break;
            }
            case "replica-read-only": server.Repl.ReadOnlyReplica = v == "yes"; break;
            case "replica-serve-stale-data": server.Repl.ServeStaleData = v == "yes"; break;
            case "replica-ignore-maxmemory": server.Repl.IgnoreMaxmemory = v == "yes"; break;
            case "cluster-config-file": s.ClusterConfigFile = v; break;
            case "cluster-node-timeout": s.ClusterNodeTimeout = L(); break;
            case "cluster-port": s.ClusterPort = (int)L(); break;
            case "cluster-announce-ip": s.ClusterAnnounceIp = v; server.Cluster?.ConfigChanged(); break;
            case "cluster-announce-port": s.ClusterAnnouncePort = (int)L(); server.Cluster?.ConfigChanged(); break;
            case "cluster-announce-bus-port": s.ClusterAnnounceBusPort = (int)L(); server.Cluster?.ConfigChanged(); break;
            case "cluster-announce-hostname":
                if (Cluster.ClusterConfigChecks.HostnameError(v) is string hostError) return hostError;
                s.ClusterAnnounceHostname = v;
                server.Cluster?.ConfigChanged();
                break;
            case "cluster-require-full-coverage": s.ClusterRequireFullCoverage = v == "yes"; break;
            case "cluster-allow-reads-when-down": s.ClusterAllowReadsWhenDown = v == "yes"; break;
            case "cluster-allow-pubsubshard-when-down": s.ClusterAllowPubsubshardWhenDown = v == "yes"; break;
            case "cluster-replica-validity-factor": s.ClusterReplicaValidityFactor = (int)L(); break;
            case "cluster-migration-barrier": s.ClusterMigrationBarrier = (int)L(); break;
            case "cluster-allow-replica-migration": s.ClusterAllowReplicaMigration = v == "yes"; break;
            case "cluster-replica-no-failover": s.ClusterReplicaNoFailover = v == "yes"; server.Cluster?.ConfigChanged(); break;
            case "cluster-preferred-endpoint-type": s.ClusterPreferredEndpointType = v; server.Cluster?.ConfigChanged(); break;
            case "cluster-link-sendbuf-limit": s.ClusterLinkSendbufLimit = (long)Math.Min(ulong.Parse(v, CultureInfo.InvariantCulture), long.MaxValue); break;
            case "repl-backlog-size" or "repl-backlog-ttl" or "repl-diskless-sync" or "repl-diskless-sync-delay"
                or "repl-diskless-sync-max-replicas" or "repl-ping-replica-period" or "repl-timeout"
                or "repl-disable-tcp-nodelay" or "min-replicas-to-write" or "min-replicas-max-lag" or "shutdown-timeout":
                server.Repl.Master.ApplyConfig(d.Name, v);   // the master side of replication (Replication/)
                break;
            case "client-output-buffer-limit":
            {
                var limits = ParseBufferLimits(v);
                if (limits.TryGetValue("normal", out var n)) s.ClientOutputBufferNormal = n;
                if (limits.TryGetValue("slave", out var r)) s.ClientOutputBufferReplica = r;
                if (limits.TryGetValue("pubsub", out var p)) s.ClientOutputBufferPubsub = p;
                break;
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- CONFIG GET

    public List<(string name, string value)> Get(IEnumerable<string> patterns)
    {
        var result = new List<(string, string)>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pattern in patterns)
        {
            if (pattern.IndexOfAny(new[] { '[', '*', '?' }) < 0)
            {
                if (seen.Contains(pattern)) continue;
                if (byName.TryGetValue(pattern, out var d) && !d.FileOnly && d.Value != null)
                {
                    seen.Add(pattern);
                    result.Add((pattern, d.Value));
                }
                continue;
            }
            var pat = Encoding.Latin1.GetBytes(pattern);
            foreach (var d in ordered)
            {
                if (d.Hidden || d.FileOnly || d.Value == null) continue;
                foreach (var name in new[] { d.Name }.Concat(d.Aliases))
                {
                    if (seen.Contains(name)) continue;
                    if (Glob.Match(pat, Encoding.Latin1.GetBytes(name), nocase: true))
                    {
                        seen.Add(name);
                        result.Add((name, d.Value));
                    }
                }
            }
        }
        return result;
    }

    public IEnumerable<Directive> All => ordered;

    // ---------------------------------------------------------------- CONFIG REWRITE

    /// <summary>
    /// rewriteConfig, as Redis 7.0 does it (Config/data/NOTES.md, section 6): comments and blank lines stay;
    /// include, rename-command and user lines stay; unknown or legacy names become "# ??? line"; a directive
    /// already in the file is rewritten in place under its canonical name on its first line (later lines of
    /// it are blanked); directives not in the file are appended after "# Generated by CONFIG REWRITE" when
    /// they differ from the default or are always written (save, dir, latency percentiles, the default
    /// user); runs of blank lines collapse to one. Written to a temp file, fsynced, then renamed.
    /// </summary>
    public string Rewrite(string path)
    {
        var output = new List<string>();
        var slots = new Dictionary<Directive, Queue<int>>();
        bool hasMarker = false, hasDefaultUser = false;
        foreach (var raw in FileLines)
        {
            string line = raw.Trim('\r', '\n', '\t', ' ');
            if (line.Length == 0 || line[0] == '#')
            {
                if (line == RewriteSignature) hasMarker = true;
                output.Add(line);
                continue;
            }
            var args = SplitArgs(line);
            string name = args == null || args.Count == 0 ? null : args[0].ToLowerInvariant();
            if (name is "include" or "rename-command" or "loadmodule" or "sentinel")
            {
                output.Add(line);
                continue;
            }
            if (name == "user")
            {
                if (args.Count > 1 && args[1] == "default") hasDefaultUser = true;
                output.Add(line);
                continue;
            }
            if (name == null || !byName.TryGetValue(name, out var d) || d.FileOnly || d.Value == null)
            {
                output.Add("# ??? " + line);
                continue;
            }
            if (!slots.TryGetValue(d, out var q)) slots[d] = q = new Queue<int>();
            q.Enqueue(output.Count);
            output.Add("");
        }
        // Each emitted line takes the next line the directive had in the file; a forced line with no slot
        // left is appended; slots nobody took stay blank.
        var appended = new List<string>();
        foreach (var d in ordered)
        {
            if (d.FileOnly || d.Value == null) continue;
            slots.TryGetValue(d, out var q);
            if (d.Hidden && q == null) continue;
            foreach (var (line, force) in RewriteLines(d))
            {
                if (q != null && q.Count > 0) output[q.Dequeue()] = line;
                else if (force) appended.Add(line);
            }
        }
        if (!hasDefaultUser) appended.Add(DefaultUserLine());
        if (appended.Count > 0)
        {
            if (output.Count > 0 && output[^1].Length != 0) output.Add("");
            if (!hasMarker) output.Add(RewriteSignature);
            output.AddRange(appended);
        }
        var content = new StringBuilder();
        bool wasEmpty = false;
        foreach (var line in output)
        {
            if (line.Length == 0)
            {
                if (wasEmpty) continue;
                wasEmpty = true;
            }
            else wasEmpty = false;
            content.Append(line).Append('\n');
        }
        string tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            {
                fs.Write(Encoding.Latin1.GetBytes(content.ToString()));
                fs.Flush(true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { }
            return e.Message;
        }
        FileLines.Clear();
        FileLines.AddRange(content.ToString().TrimEnd('\n').Split('\n'));
        return null;
    }

    const string RewriteSignature = "# Generated by CONFIG REWRITE";

    string DefaultUserLine()
    {
        string pass = server.Settings.RequirePass;
        if (pass.Length == 0) return "user default on nopass ~* &* +@all";
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.Latin1.GetBytes(pass))).ToLowerInvariant();
        return $"user default on #{hash} ~* &* +@all";
    }

    /// <summary>rewriteConfigFormatMemory: gb/mb/kb when the value divides exactly, else bytes.</summary>
    static string FormatMemory(long v)
    {
        const long kb = 1024, mb = kb * 1024, gb = mb * 1024;
        if (v == 0) return "0";
        if (v % gb == 0) return (v / gb) + "gb";
        if (v % mb == 0) return (v / mb) + "mb";
        if (v % kb == 0) return (v / kb) + "kb";
        return v.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The lines a directive rewrites to, each with whether it must be written when not in the file.</summary>
    static IEnumerable<(string line, bool force)> RewriteLines(Directive d)
    {
        string v = d.Value;
        bool changed = v != d.Default;
        switch (d.Name)
        {
            case "save":
                if (v == "") { yield return ("save \"\"", true); yield break; }
                var p = v.Split(' ');
                for (int i = 0; i + 1 < p.Length; i += 2) yield return ($"save {p[i]} {p[i + 1]}", true);
                yield break;
            case "client-output-buffer-limit":
                var defaults = ParseBufferLimits(d.Default);
                var q = v.Split(' ');
                for (int i = 0; i + 3 < q.Length; i += 4)
                {
                    var current = new[] { long.Parse(q[i + 1], CultureInfo.InvariantCulture), long.Parse(q[i + 2], CultureInfo.InvariantCulture), long.Parse(q[i + 3], CultureInfo.InvariantCulture) };
                    bool differs = !defaults.TryGetValue(q[i], out var def) || !def.SequenceEqual(current);
                    string cls = q[i] == "slave" ? "replica" : q[i];
                    yield return ($"client-output-buffer-limit {cls} {FormatMemory(current[0])} {FormatMemory(current[1])} {current[2]}", differs);
                }
                yield break;
            case "dir":
                yield return ($"dir {Repr.Quoted(v)}", true);
                yield break;
            case "latency-tracking-info-percentiles":
                yield return ($"{d.Name} {v}", true);
                yield break;
            case "replicaof":
                if (v.Length > 0) yield return ($"replicaof {v}", true);
                yield break;
            case "notify-keyspace-events":
                yield return ($"{d.Name} {Repr.Quoted(v)}", changed);
                yield break;
        }
        switch (d.Type)
        {
            case "size":
                yield return ($"{d.Name} {FormatMemory((long)ulong.Parse(v, CultureInfo.InvariantCulture))}", changed);
                yield break;
            case "size-percent":
                yield return ($"{d.Name} {(v.EndsWith('%') ? v : FormatMemory((long)ulong.Parse(v, CultureInfo.InvariantCulture)))}", changed);
                yield break;
            case "string":
            case "sds":
                yield return ($"{d.Name} {Repr.Quoted(v)}", changed);
                yield break;
        }
        yield return ($"{d.Name} {v}", changed);
    }


}
