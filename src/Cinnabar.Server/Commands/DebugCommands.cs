using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>debug.c: the DEBUG subcommands Redis's own test suite relies on.</summary>
public static class DebugCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("debug", Debug);
        t.Find("debug").Protected = true;
    }

    /// <summary>enable-debug-command: "no", "yes", or "local" (loopback clients only).</summary>
    public static bool Allowed(Client c)
    {
        string mode = c.Server.Settings.EnableDebugCommand;
        if (mode == "yes") return true;
        if (mode == "local") return c.Addr.StartsWith("127.") || c.Addr.StartsWith("::1") || c.Addr.StartsWith("/unix");
        return false;
    }

    public const string NotAllowed = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

    /// <summary>DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty the dataset, load the file back.</summary>
    static void Reload(Client c)
    {
        bool flush = true, save = true, merge = false;
        for (int j = 2; j < c.ArgCount; j++)
        {
            if (c.ArgIs(j, "merge")) merge = true;
            else if (c.ArgIs(j, "noflush")) flush = false;
            else if (c.ArgIs(j, "nosave")) save = false;
            else
            {
                c.Error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
                return;
            }
        }
        var server = c.Server;
        if (save && !server.SaveRdb())
        {
            c.Error("ERR");
            return;
        }
        if (flush) server.EmptyDataForReload();
        if (server.LoadRdb(server.RdbPath, merge, out _) != CinnabarServer.RdbLoadResult.Ok)
        {
            c.Error("ERR Error trying to load the RDB dump");
            return;
        }
        server.Log.Warning("DB reloaded by DEBUG RELOAD");
        c.Reply.Ok();
    }

    static void Debug(Client c)
    {
        string sub = c.ArgString(1).ToLowerInvariant();
        int argc = c.ArgCount;
        switch (sub)
        {
            case "help" when argc == 2: Help(c); return;
            case "sleep" when argc == 3:
            {
                double.TryParse(c.ArgString(2), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds);
                if (seconds > 0) Thread.Sleep(TimeSpan.FromSeconds(seconds));
                c.Reply.Ok();
                return;
            }
            case "set-active-expire" when argc == 3:
                c.Server.Settings.ActiveExpireEnabled = int.TryParse(c.ArgString(2), out int on) && on != 0;
                c.Reply.Ok();
                return;
            case "object" when argc == 3:
            {
                int i = c.Db.Find(c.Arg(2));
                if (i < 0) { c.Error("ERR no such key"); return; }
                ref var e = ref c.Db.Table.At(i);
                long idle = Lfu.LruIdleMs(e.Access) / 1000;
                c.Reply.Simple($"Value at:0x{System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(e.Value):x12} refcount:1 encoding:{Values.EncodingOf(e.Value)} serializedlength:{SerializedLength(e.Value)} lru:{e.Access & 0xFFFFFF} lru_seconds_idle:{idle}");
                return;
            }
            case "reload":
                Reload(c);
                return;
            case "populate" when argc >= 3 && argc <= 5:
                Populate(c);
                return;
            case "digest" when argc == 2:
            {
                var digest = DatasetDigest(c.Server);
                c.Reply.Simple(Convert.ToHexString(digest).ToLowerInvariant());
                return;
            }
            case "digest-value" when argc >= 2:
            {
                c.Reply.ArrayHeader(argc - 2);
                for (int j = 2; j < argc; j++)
                {
                    var digest = new byte[20];
                    int i = c.Db.Find(c.Arg(j));
                    if (i >= 0) XorObjectDigest(c.Db, i, digest);
                    c.Reply.Simple(Convert.ToHexString(digest).ToLowerInvariant());
                }
                return;
            }
        }
        c.Error($"ERR unknown subcommand or wrong number of arguments for '{c.ArgText(1)}'. Try DEBUG HELP.");
    }

    static long SerializedLength(object v)
    {
        if (!Values.IsString(v)) return Values.Cost(v);   // not RDB-exact for other types; never fails
        var s = Values.StringBytes(v);
        if (s.Length <= 11 && Protocol.Numbers.TryParseInt64(s, out long n))
        {
            if (n >= sbyte.MinValue && n <= sbyte.MaxValue) return 2;
            if (n >= short.MinValue && n <= short.MaxValue) return 3;
            if (n >= int.MinValue && n <= int.MaxValue) return 5;
        }
        int len = s.Length;
        return len + (len < 64 ? 1 : len < 16384 ? 2 : 5);
    }

    static void Populate(Client c)
    {
        if (!Protocol.Numbers.TryParseInt64(c.Arg(2), out long count) || count < 0)
        {
            c.Error("ERR value is out of range, must be positive");
            return;
        }
        string prefix = c.ArgCount >= 4 ? c.ArgString(3) : "key";
        long size = 0;
        if (c.ArgCount == 5 && (!Protocol.Numbers.TryParseInt64(c.Arg(4), out size) || size < 0))
        {
            c.Error("ERR value is out of range, must be positive");
            return;
        }
        var db = c.Db;
        for (long j = 0; j < count; j++)
        {
            var key = System.Text.Encoding.Latin1.GetBytes($"{prefix}:{j}");
            if (db.Find(key) >= 0) continue;
            var text = System.Text.Encoding.ASCII.GetBytes($"value:{j}");
            byte[] value;
            if (size == 0) value = text;
            else
            {
                value = new byte[size];
                text.AsSpan(0, (int)Math.Min(size, text.Length)).CopyTo(value);
            }
            db.Add(key, value);
        }
        c.Reply.Ok();
    }

    static void XorDigest(byte[] digest, ReadOnlySpan<byte> data) => Storage.Digest.Xor(digest, data);
    static void MixDigest(byte[] digest, ReadOnlySpan<byte> data) => Storage.Digest.Mix(digest, data);

    /// <summary>computeDatasetDigest: per db, mix the db id; per key, xor in mix(key) + the value's digest.</summary>
    public static byte[] DatasetDigest(CinnabarServer server)
    {
        var final = new byte[20];
        Span<byte> aux = stackalloc byte[4];
        foreach (var db in server.Dbs)
        {
            if (db.Count == 0) continue;
            BinaryPrimitives.WriteUInt32BigEndian(aux, (uint)db.Id);
            MixDigest(final, aux);
            foreach (int i in db.Table.Indexes().ToArray())
            {
                var digest = new byte[20];
                MixDigest(digest, db.Table.At(i).Key);
                XorObjectDigest(db, i, digest);
                XorDigest(final, digest);
            }
        }
        return final;
    }

    /// <summary>xorObjectDigest: the value's type, its contents, and "!!expire!!" when it has a TTL.</summary>
    public static void XorObjectDigest(Db db, int index, byte[] digest)
    {
        ref var e = ref db.Table.At(index);
        Span<byte> aux = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(aux, (uint)RdbTypeOf(e.Value));
        MixDigest(digest, aux);
        if (Values.IsString(e.Value)) MixDigest(digest, Values.StringBytes(e.Value));
        else if (e.Value is IRedisObject o) o.Digest(digest);
        if (e.ExpireAt != 0) XorDigest(digest, "!!expire!!"u8);
    }

    static int RdbTypeOf(object v) => Values.TypeOf(v) switch
    {
        Storage.ValueType.String => 0,
        Storage.ValueType.List => 1,
        Storage.ValueType.Set => 2,
        Storage.ValueType.ZSet => 3,
        Storage.ValueType.Hash => 4,
        Storage.ValueType.Stream => 6,
        _ => 5,
    };

    static void Help(Client c) => HelpReply.Write(c, "DEBUG", new[]
    {
        "AOF-FLUSH-SLEEP <microsec>",
        "    Server will sleep before flushing the AOF, this is used for testing.",
        "ASSERT",
        "    Crash by assertion failed.",
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "CONFIG-REWRITE-FORCE-ALL",
        "    Like CONFIG REWRITE but writes all configuration options, including",
        "    keywords not listed in original configuration file or default values.",
        "CRASH-AND-RECOVER [<milliseconds>]",
        "    Hard crash and restart after a <milliseconds> delay (default 0).",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LEAK <string>",
        "    Create a memory leak of the input string.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "HTSTATS <dbid>",
        "    Return hash table statistics of the specified Redis database.",
        "HTSTATS-KEY <key>",
        "    Like HTSTATS but for the hash table stored at <key>'s value.",
        "LOADAOF",
        "    Flush the AOF buffers on disk and reload the AOF in memory.",
        "REPLICATE <string>",
        "    Replicates the provided string to replicas, allowing data divergence.",
        "MALLCTL <key> [<val>]",
        "    Get or set a malloc tuning integer.",
        "MALLCTL-STR <key> [<val>]",
        "    Get or set a malloc tuning string.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "DROP-CLUSTER-PACKET-FILTER <packet-type>",
        "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
        "OOM",
        "    Crash the server simulating an out-of-memory error.",
        "PANIC",
        "    Crash the server simulating a panic.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. These are not propagated to",
        "    replicas. Cluster slots are not respected so keys not belonging to the",
        "    current node can be created in cluster mode.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
        "    * MERGE: conflicting keys will be loaded from RDB.",
        "    * NOFLUSH: the existing database will not be removed before load, but",
        "      conflicting keys will generate an exception and kill the server.",
        "    * NOSAVE: the database will be loaded from an existing RDB file.",
        "    Examples:",
        "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
        "      the database.",
        "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
        "      existing RDB file.",
        "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
        "      file to the database.",
        "RESTART [<milliseconds>]",
        "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
        "SDSLEN <key>",
        "    Show low level SDS string info representing `key` and value.",
        "SEGFAULT",
        "    Crash the server with sigsegv.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Sets the threshold for elements to be inserted as plain vs packed nodes",
        "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
        "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
        "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "STRINGMATCH-TEST",
        "    Run a fuzz tester against the stringmatchlen() function.",
        "STRUCTSIZE",
        "    Return the size of different Redis core C structures.",
        "LISTPACK <key>",
        "    Show low level info about the listpack encoding of <key>.",
        "QUICKLIST <key> [<0|1>]",
        "    Show low level info about the quicklist encoding of <key>.",
        "    The optional argument (0 by default) sets the level of detail",
        "CLIENT-EVICTION",
        "    Show low level client eviction pools info (maxmemory-clients).",
        "PAUSE-CRON <0|1>",
        "    Stop periodic cron job processing.",
        "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
        "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
        "    In case NEVER is provided the last observed peak will never be reset",
        "    In case RESET is provided the peak reset time will be restored to the default value",
        "REPLYBUFFER RESIZING <0|1>",
        "    Enable or disable the reply buffer resize cron job",
        "CLUSTERLINK KILL <to|from|all> <node-id>",
        "    Kills the link based on the direction to/from (both) with the provided node.",
    });
}
