using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Cinnabar.Tests.Persistence;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Replication;

/// <summary>
/// Cinnabar as a replica of a real redis-server 7.0 master: full sync (disk and diskless), the command stream
/// of every data type with MULTI/EXEC, EVAL, expiry and SELECT, partial resync after the link is killed,
/// promotion with REPLICAOF NO ONE, the error texts and INFO/ROLE shapes of a replica next to a redis-server
/// replica of the same master, and a master that dies and comes back.
/// </summary>
public sealed class ReplicaSideTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    readonly ITestOutputHelper output;
    public ReplicaSideTests(ITestOutputHelper output) => this.output = output;

    static ServerProcess RedisMaster(params string[] extra) =>
        new(Env.RedisServer, new[] { "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0" }.Concat(extra).ToArray());

    static ServerProcess Cinnabar(params string[] extra) =>
        new(Env.CinnabarServer, new[] { "--enable-debug-command", "yes" }.Concat(extra).ToArray());

    static ServerProcess RedisReplica(params string[] extra) =>
        new(Env.RedisServer, new[] { "--enable-debug-command", "yes" }.Concat(extra).ToArray());

    static string Info(RespConnection c, string field, string section = "replication") =>
        Regex.Match(c.Call("INFO", section), "\r\n" + Regex.Escape(field) + @":([^\r]*)").Groups[1].Value;

    static bool LinkUp(RespConnection c) => Info(c, "master_link_status") == "up";

    static string Digest(RespConnection c) => c.Call("DEBUG", "DIGEST");

    /// <summary>Waits (bounded) until the replica has processed everything the master has written.</summary>
    static bool CaughtUp(RespConnection master, RespConnection replica) =>
        Env.WaitUntil(() =>
        {
            string mo = Info(master, "master_repl_offset");
            return mo != "" && Info(replica, "slave_repl_offset") == mo && Digest(master) == Digest(replica);
        }, Long, 50);

    static void Pipeline(RespConnection c, IEnumerable<string[]> commands)
    {
        var batch = new List<string[]>();
        void Flush()
        {
            var ms = new MemoryStream();
            foreach (var cmd in batch) ms.Write(RespConnection.Encode(cmd.Select(a => Encoding.UTF8.GetBytes(a)).ToArray()));
            c.Send(ms.ToArray());
            foreach (var _ in batch) c.ReadReply();
            batch.Clear();
        }
        foreach (var cmd in commands)
        {
            batch.Add(cmd);
            if (batch.Count == 500) Flush();
        }
        if (batch.Count > 0) Flush();
    }

    /// <summary>Every data type, small and large encodings, several dbs, TTLs, a stream with a group and a function library.</summary>
    static IEnumerable<string[]> Dataset()
    {
        for (int i = 0; i < 300; i++)
        {
            yield return new[] { "SET", $"str:{i}", $"value-{i}" };
            yield return new[] { "SET", $"int:{i}", (i * 7919).ToString() };
        }
        yield return new[] { "SET", "big", new string('x', 100_000) };
        yield return new[] { "SET", "ttl:far", "v", "EX", "100000" };
        for (int i = 0; i < 200; i++) yield return new[] { "RPUSH", "list:big", $"element-{i}" };
        yield return new[] { "RPUSH", "list:small", "a", "b", "c" };
        for (int i = 0; i < 200; i++) yield return new[] { "HSET", "hash:big", $"f{i}", $"v{i}" };
        yield return new[] { "HSET", "hash:small", "a", "1", "b", "2" };
        for (int i = 0; i < 200; i++) yield return new[] { "SADD", "set:big", $"member-{i}" };
        yield return new[] { "SADD", "set:int", "1", "2", "3", "100000" };
        yield return new[] { "SADD", "set:small", "a", "b" };
        for (int i = 0; i < 200; i++) yield return new[] { "ZADD", "zset:big", (i * 1.5).ToString(System.Globalization.CultureInfo.InvariantCulture), $"m{i}" };
        yield return new[] { "ZADD", "zset:small", "1", "a", "2", "b" };
        for (int i = 0; i < 50; i++) yield return new[] { "XADD", "stream", "*", "field", $"v{i}" };
        yield return new[] { "XGROUP", "CREATE", "stream", "g1", "0" };
        yield return new[] { "XREADGROUP", "GROUP", "g1", "alice", "COUNT", "10", "STREAMS", "stream", ">" };
        yield return new[] { "PFADD", "hll", "a", "b", "c", "d" };
        yield return new[] { "SETBIT", "bits", "1000", "1" };
        yield return new[] { "SELECT", "2" };
        yield return new[] { "SET", "db2:key", "in db 2" };
        yield return new[] { "HSET", "db2:hash", "f", "v" };
        yield return new[] { "SELECT", "0" };
        yield return new[] { "FUNCTION", "LOAD", "#!lua name=replib\nredis.register_function('rf', function(keys, args) return redis.call('set', keys[1], args[1]) end)" };
    }

    /// <summary>The stream: writes of every type, MULTI/EXEC, EVAL, FCALL, expiry commands, other dbs.</summary>
    static IEnumerable<string[]> Writes()
    {
        yield return new[] { "set", "k1", "v1" };
        yield return new[] { "APPEND", "k1", "-more" };
        yield return new[] { "INCRBY", "int:1", "5" };
        yield return new[] { "LPUSH", "list:small", "z" };
        yield return new[] { "LPOP", "list:big" };
        yield return new[] { "HSET", "hash:small", "c", "3" };
        yield return new[] { "HDEL", "hash:big", "f1" };
        yield return new[] { "SADD", "set:int", "7" };
        yield return new[] { "SREM", "set:big", "member-3" };
        yield return new[] { "ZINCRBY", "zset:small", "10", "a" };
        yield return new[] { "ZREM", "zset:big", "m5" };
        yield return new[] { "XADD", "stream", "*", "after", "sync" };
        yield return new[] { "XACK", "stream", "g1", "0-1" };
        yield return new[] { "PFADD", "hll", "e" };
        yield return new[] { "SETBIT", "bits", "7", "1" };
        yield return new[] { "EXPIRE", "str:1", "5000" };
        yield return new[] { "SET", "ttl:new", "v", "EX", "1000" };
        yield return new[] { "PEXPIREAT", "str:2", "99999999999999" };
        yield return new[] { "PERSIST", "ttl:far" };
        yield return new[] { "EVAL", "redis.call('set', KEYS[1], ARGV[1]); redis.call('incr', KEYS[2]); return 1", "2", "evalkey", "evalcounter", "x" };
        yield return new[] { "FCALL", "rf", "1", "fkey", "fval" };
        yield return new[] { "MULTI" };
        yield return new[] { "SET", "m1", "1" };
        yield return new[] { "INCR", "m1" };
        yield return new[] { "RPUSH", "mlist", "a", "b" };
        yield return new[] { "EXEC" };
        yield return new[] { "SELECT", "3" };
        yield return new[] { "SET", "db3", "v" };
        yield return new[] { "ZADD", "db3:z", "1", "one" };
        yield return new[] { "SELECT", "0" };
        yield return new[] { "DEL", "str:10", "str:11" };
        yield return new[] { "RENAME", "str:12", "renamed" };
        yield return new[] { "COPY", "hash:small", "hash:copy" };
        yield return new[] { "SPOP", "set:small" };
        yield return new[] { "GETEX", "str:20", "EX", "3000" };
        for (int i = 0; i < 200; i++) yield return new[] { "SET", $"late:{i}", new string('y', i) };
    }

    [Theory]
    [InlineData("no")]
    [InlineData("yes")]
    public void FullSyncThenStreamOfEveryTypeMatchesTheMaster(string diskless)
    {
        using var master = RedisMaster("--repl-diskless-sync", diskless);
        using var replica = Cinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        Pipeline(m, Dataset());
        Assert.Equal("+OK\r\n", r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString()));
        Assert.True(Env.WaitUntil(() => LinkUp(r), Long), replica.Output);
        string log = replica.WaitForOutput("MASTER <-> REPLICA sync: Finished with success");
        Assert.Contains(diskless == "yes" ? "receiving streamed RDB from master with EOF to disk" : "bytes from master to disk", log);
        Assert.Contains("Trying a partial resynchronization (request ", log);
        Assert.Contains("Full resync from master: ", log);
        Assert.True(CaughtUp(m, r), $"digests {Digest(m)} {Digest(r)}\n{replica.Output}");
        Assert.Equal(m.Call("FUNCTION", "LIST"), r.Call("FUNCTION", "LIST"));

        Pipeline(m, Writes());
        Assert.True(CaughtUp(m, r), $"digests {Digest(m)} {Digest(r)}\n{replica.Output}");
        Assert.Equal(Info(m, "master_repl_offset"), Info(r, "master_repl_offset"));
        Assert.Equal(Info(m, "master_replid"), Info(r, "master_replid"));
        // REPLCONF GETACK: the master's WAIT is answered by the replica's ACK.
        Assert.Equal(":1\r\n", m.Call("WAIT", "1", "5000"));
        using (var m3 = master.Connect())
        using (var r3 = replica.Connect())
        {
            m3.Call("SELECT", "3");
            r3.Call("SELECT", "3");
            Assert.Equal(m3.Call("GET", "db3"), r3.Call("GET", "db3"));
        }
        Assert.Equal(m.Call("TTL", "ttl:new"), r.Call("TTL", "ttl:new"));
        Assert.Contains("$9\r\nconnected\r\n", r.Call("ROLE"));
    }

    [Fact]
    public void PartialResyncAfterTheMasterLinkIsKilled()
    {
        using var master = RedisMaster("--repl-diskless-sync", "no");
        using var replica = Cinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        Pipeline(m, Dataset());
        r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        Assert.True(CaughtUp(m, r), replica.Output);
        string partialBefore = Info(m, "sync_partial_ok", "stats");
        string fullBefore = Info(m, "sync_full", "stats");

        // The link goes, then the writes (MULTI/EXEC, EVAL, ...) reach the replica through the PSYNC backlog.
        Assert.Equal(":1\r\n", r.Call("CLIENT", "KILL", "TYPE", "master"));
        Pipeline(m, Writes());
        Assert.True(Env.WaitUntil(() => Info(m, "sync_partial_ok", "stats") != partialBefore, Long), replica.Output);
        Assert.True(CaughtUp(m, r), replica.Output);
        Assert.Equal(fullBefore, Info(m, "sync_full", "stats"));
        string log = replica.Output;
        Assert.Contains("Connection with master lost.", log);
        Assert.Contains("Caching the disconnected master state.", log);
        Assert.Contains("Trying a partial resynchronization (request ", log);
        Assert.Contains("Successful partial resynchronization with master.", log);
        Assert.Contains("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.", log);

        // Once more, with writes that land while the link is down.
        r.Call("CLIENT", "KILL", "TYPE", "master");
        Pipeline(m, Enumerable.Range(0, 100).Select(i => new[] { "SET", $"down:{i}", "v" }));
        Assert.True(CaughtUp(m, r), replica.Output);
        Assert.Equal(fullBefore, Info(m, "sync_full", "stats"));
    }

    [Fact]
    public void ReplicaOfNoOnePromotesWithTheOldHistoryAsReplId2()
    {
        using var master = RedisMaster("--repl-diskless-sync", "no");
        using var replica = Cinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        Pipeline(m, Dataset());
        r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        Assert.True(CaughtUp(m, r), replica.Output);
        Pipeline(m, Writes());
        Assert.True(CaughtUp(m, r), replica.Output);
        string oldId = Info(r, "master_replid");
        long offset = long.Parse(Info(r, "master_repl_offset"));

        Assert.Equal("+OK\r\n", r.Call("REPLICAOF", "NO", "ONE"));
        Assert.Equal("master", Info(r, "role"));
        Assert.Equal(oldId, Info(r, "master_replid2"));
        Assert.Equal((offset + 1).ToString(), Info(r, "second_repl_offset"));
        Assert.NotEqual(oldId, Info(r, "master_replid"));
        Assert.Equal("+OK\r\n", r.Call("SET", "written", "after promotion"));
        Assert.Equal("$15\r\nafter promotion\r\n", r.Call("GET", "written"));
        Assert.StartsWith("*3\r\n$6\r\nmaster\r\n", r.Call("ROLE"));
        string log = replica.WaitForOutput("MASTER MODE enabled");
        Assert.Contains($"Setting secondary replication ID to {oldId}, valid up to offset: {offset + 1}. New replication ID is ", log);
        Assert.Contains("MASTER MODE enabled (user request from 'id=", log);
        Assert.Equal("+OK\r\n", r.Call("REPLICAOF", "NO", "ONE"));

        // Pointed back at the master: the synthesized cached master asks for a partial resync with the new
        // replid, which the master does not know, so a full resync follows and the write is gone.
        Assert.Equal("+OK\r\n", r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString()));
        Assert.True(CaughtUp(m, r), replica.Output);
        Assert.Equal("$-1\r\n", r.Call("GET", "written"));
        Assert.Contains("Before turning into a replica, using my own master parameters to synthesize a cached master", replica.Output);
    }

    /// <summary>The same commands against a redis-server replica and a Cinnabar replica of one master, byte for byte.</summary>
    [Fact]
    public void ErrorTextsMatchARedisReplica()
    {
        using var master = RedisMaster();
        using var redis = RedisReplica();
        using var cinnabar = Cinnabar();
        using var m = master.Connect();
        m.Call("SET", "k", "v");
        var conns = new[] { redis.Connect(), cinnabar.Connect() };
        try
        {
            foreach (var c in conns)
            {
                Assert.Equal("+OK\r\n", c.Call("REPLICAOF", "127.0.0.1", master.Port.ToString()));
                Assert.True(Env.WaitUntil(() => LinkUp(c), Long));
            }
            var script = new List<string[]>
            {
                new[] { "SET", "x", "1" },
                new[] { "DEL", "k" },
                new[] { "GET", "k" },
                new[] { "EVAL", "return redis.call('set','x','1')", "0" },
                new[] { "EVAL", "#!lua\nreturn redis.call('set','x','1')", "0" },
                new[] { "EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0" },
                new[] { "MULTI" }, new[] { "SET", "x", "1" }, new[] { "GET", "k" }, new[] { "EXEC" },
                new[] { "WAIT", "1", "100" },
                new[] { "WAIT", "x", "y" },
                new[] { "REPLICAOF", "127.0.0.1", master.Port.ToString() },
                new[] { "REPLICAOF", "127.0.0.1", "99999" },
                new[] { "REPLICAOF", "127.0.0.1", "abc" },
                new[] { "SLAVEOF", "127.0.0.1", "-1" },
                new[] { "CONFIG", "GET", "replicaof" },
                new[] { "CONFIG", "GET", "replica-read-only" },
                new[] { "CONFIG", "GET", "replica-serve-stale-data" },
                new[] { "CONFIG", "GET", "replica-priority" },
                new[] { "CONFIG", "GET", "replica-announced" },
                new[] { "CONFIG", "GET", "replica-announce-ip" },
                new[] { "CONFIG", "GET", "replica-announce-port" },
                new[] { "CONFIG", "GET", "slave-read-only" },
                new[] { "CONFIG", "GET", "masterauth" },
                new[] { "CONFIG", "GET", "masteruser" },
                new[] { "CONFIG", "GET", "repl-timeout" },
                new[] { "CONFIG", "SET", "repl-diskless-load", "swapdb" },
                new[] { "CONFIG", "GET", "repl-diskless-load" },
                new[] { "CONFIG", "SET", "repl-diskless-load", "disabled" },
                new[] { "CONFIG", "SET", "replica-priority", "42" },
                new[] { "CONFIG", "SET", "replica-announced", "no" },
            };
            foreach (var cmd in script) Same(conns, cmd);
            Assert.Equal(Info(conns[0], "slave_priority"), Info(conns[1], "slave_priority"));
            Assert.Equal(Info(conns[0], "replica_announced"), Info(conns[1], "replica_announced"));

            // replica-read-only no: writes are accepted locally.
            foreach (var c in conns) c.Call("CONFIG", "SET", "replica-read-only", "no");
            Assert.Equal(conns[0].Call("SET", "local", "1"), conns[1].Call("SET", "local", "1"));
            Assert.Equal(Info(conns[0], "slave_read_only"), Info(conns[1], "slave_read_only"));
            foreach (var c in conns) c.Call("CONFIG", "SET", "replica-read-only", "yes");

            // replica-serve-stale-data no with the link down (a master port nobody listens on): MASTERDOWN.
            int dead = Env.FreePort();
            foreach (var c in conns)
            {
                c.Call("CONFIG", "SET", "replica-serve-stale-data", "no");
                Assert.Equal("+OK\r\n", c.Call("REPLICAOF", "127.0.0.1", dead.ToString()));
            }
            var stale = new List<string[]>
            {
                new[] { "GET", "k" },
                new[] { "SET", "x", "1" },
                new[] { "PING" },
                new[] { "ECHO", "hi" },
                new[] { "DBSIZE" },
                new[] { "EVAL", "return 1", "0" },
                new[] { "EVAL", "#!lua flags=no-writes\nreturn 1", "0" },
                new[] { "EVAL", "#!lua flags=no-writes,allow-stale\nreturn 1", "0" },
                new[] { "MULTI" }, new[] { "GET", "k" }, new[] { "EXEC" },
                new[] { "MULTI" }, new[] { "PING" }, new[] { "EXEC" },
                new[] { "WAIT", "0", "0" },
                new[] { "CONFIG", "GET", "replica-serve-stale-data" },
            };
            foreach (var cmd in stale) Same(conns, cmd);
            foreach (var c in conns) Assert.Equal("down", Info(c, "master_link_status"));
            Assert.StartsWith("*5\r\n$5\r\nslave\r\n", conns[1].Call("ROLE"));
        }
        finally
        {
            foreach (var c in conns) c.Dispose();
        }
    }

    static void Same(RespConnection[] conns, string[] cmd)
    {
        string expected = conns[0].Call(cmd), actual = conns[1].Call(cmd);
        Assert.True(expected == actual, $"{string.Join(' ', cmd)}:\nredis:    {expected}\ncinnabar: {actual}");
    }

    static string[] FieldNames(string info) =>
        info.Split("\r\n").Where(l => l.Contains(':') && !l.StartsWith('#')).Select(l => l[..l.IndexOf(':')]).ToArray();

    [Fact]
    public void InfoReplicationFieldsAsARedisReplica()
    {
        using var master = RedisMaster();
        using var redis = RedisReplica();
        using var cinnabar = Cinnabar();
        using var rc = redis.Connect();
        using var cc = cinnabar.Connect();
        // Link down, before the first sync (also master_link_down_since_seconds).
        int dead = Env.FreePort();
        rc.Call("REPLICAOF", "127.0.0.1", dead.ToString());
        cc.Call("REPLICAOF", "127.0.0.1", dead.ToString());
        Assert.Equal(FieldNames(rc.Call("INFO", "replication")), FieldNames(cc.Call("INFO", "replication")));
        Assert.Equal("-1", Info(cc, "master_link_down_since_seconds"));
        Assert.Equal(Info(rc, "master_last_io_seconds_ago"), Info(cc, "master_last_io_seconds_ago"));
        // Linked.
        rc.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        cc.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        Assert.True(Env.WaitUntil(() => LinkUp(rc) && LinkUp(cc), Long));
        Assert.Equal(FieldNames(rc.Call("INFO", "replication")), FieldNames(cc.Call("INFO", "replication")));
        using var m = master.Connect();
        m.Call("SET", "a", "b");
        Assert.True(Env.WaitUntil(() => Info(rc, "slave_repl_offset") == Info(m, "master_repl_offset") && Info(cc, "slave_repl_offset") == Info(m, "master_repl_offset"), Long));
        foreach (var f in new[] { "role", "master_host", "master_port", "master_link_status", "master_sync_in_progress", "slave_read_repl_offset",
                     "slave_repl_offset", "slave_priority", "slave_read_only", "replica_announced", "master_replid", "master_replid2",
                     "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size", "repl_backlog_first_byte_offset" })
            Assert.Equal(Info(rc, f), Info(cc, f));
        Assert.Equal(rc.Call("ROLE"), cc.Call("ROLE"));
        using (var c3 = cinnabar.Connect()) Assert.Contains("$4\r\nrole\r\n$7\r\nreplica\r\n", c3.Call("HELLO", "3"));
        Assert.Contains("flags=M ", cc.Call("CLIENT", "LIST", "TYPE", "master"));
        // The master dies: link down, and the time it went down is counted.
        master.Dispose();
        Assert.True(Env.WaitUntil(() => Info(cc, "master_link_status") == "down", Long));
        Assert.Equal(FieldNames(rc.Call("INFO", "replication")), FieldNames(cc.Call("INFO", "replication")));
        Assert.Matches("^[0-9]+$", Info(cc, "master_link_down_since_seconds"));
    }

    /// <summary>Keys past their TTL stay on a replica until the master deletes them; its clients do not see them.</summary>
    [Fact]
    public void ExpiredKeysWaitForTheMastersDel()
    {
        using var master = RedisMaster();
        using var redis = RedisReplica();
        using var cinnabar = Cinnabar();
        using var m = master.Connect();
        var conns = new[] { redis.Connect(), cinnabar.Connect() };
        try
        {
            m.Call("DEBUG", "SET-ACTIVE-EXPIRE", "0");
            foreach (var c in conns) c.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
            Assert.True(Env.WaitUntil(() => conns.All(LinkUp), Long));
            m.Call("SET", "soon", "v", "PX", "300");
            m.Call("SET", "later", "v", "EX", "1000");
            Assert.True(Env.WaitUntil(() => conns.All(c => c.Call("DBSIZE") == ":2\r\n"), Long));
            // Past the TTL both replicas hide the key from their clients, but keep it.
            Assert.True(Env.WaitUntil(() => conns.All(c => c.Call("EXISTS", "soon") == ":0\r\n"), Long));
            foreach (var cmd in new[] { new[] { "GET", "soon" }, new[] { "EXISTS", "soon" }, new[] { "TTL", "soon" }, new[] { "DBSIZE" }, new[] { "GET", "later" } })
                Assert.Equal(conns[0].Call(cmd), conns[1].Call(cmd));
            Assert.Equal(":2\r\n", conns[1].Call("DBSIZE"));
            // The master's lazy expiry propagates DEL.
            Assert.Equal("$-1\r\n", m.Call("GET", "soon"));
            Assert.True(Env.WaitUntil(() => conns.All(c => c.Call("DBSIZE") == ":1\r\n"), Long));
            Assert.Equal(Digest(m), Digest(conns[1]));
        }
        finally
        {
            foreach (var c in conns) c.Dispose();
        }
    }

    [Fact]
    public void MasterKilledAndRestartedIsResyncedWith()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-repl-").FullName;
        try
        {
            using var master = new DirServer(Env.RedisServer, dir, "--repl-diskless-sync", "no");
            Assert.True(master.WaitUp(), master.Log);
            // The replicaof directive at startup.
            using var replica = Cinnabar("--replicaof", "127.0.0.1", master.Port.ToString(), "--repl-timeout", "5");
            using var r = replica.Connect();
            using (var m = master.Connect()) Pipeline(m, Dataset());
            Assert.True(Env.WaitUntil(() => LinkUp(r), Long), replica.Output);
            using (var m = master.Connect()) Assert.True(CaughtUp(m, r), replica.Output);
            Assert.Matches(@":S [^\n]*Connecting to MASTER", replica.WaitForOutput("Connecting to MASTER"));

            master.Kill9();
            Assert.True(Env.WaitUntil(() => Info(r, "master_link_status") == "down", Long), replica.Output);
            Assert.Contains("Connection with master lost.", replica.WaitForOutput("Connection with master lost."));
            // Served stale meanwhile (replica-serve-stale-data yes).
            Assert.Equal("$7\r\nvalue-1\r\n", r.Call("GET", "str:1"));
            Assert.True(Env.WaitUntil(() => replica.Output.Contains("Error condition on socket for SYNC: Connection refused"), Long), replica.Output);

            // Back with an empty dataset and a new replid: the PSYNC fails, a full sync follows.
            master.Start("--repl-diskless-sync", "yes");
            Assert.True(master.WaitUp(), master.Log);
            using (var m = master.Connect())
            {
                m.Call("SET", "after", "restart");
                Assert.True(Env.WaitUntil(() => LinkUp(r), Long), replica.Output);
                Assert.True(CaughtUp(m, r), replica.Output);
                Assert.Equal(m.Call("DBSIZE"), r.Call("DBSIZE"));
                Assert.Equal("$7\r\nrestart\r\n", r.Call("GET", "after"));
                Assert.Equal(Info(m, "master_replid"), Info(r, "master_replid"));
            }
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A slow snapshot on the master (rdb-key-save-delay): keepalive newlines before the payload, the payload in
    /// many small reads, and INFO's master_sync_* lines meanwhile, as a redis-server replica shows them.
    /// </summary>
    [Theory]
    [InlineData("no")]
    [InlineData("yes")]
    public void SlowTransferShowsSyncProgressThenCompletes(string diskless)
    {
        // A one-second diskless delay lets both replicas share one snapshot, so both transfers overlap.
        using var master = RedisMaster("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "1");
        using var redis = RedisReplica();
        using var cinnabar = Cinnabar();
        using var m = master.Connect();
        Pipeline(m, Dataset());
        m.Call("CONFIG", "SET", "rdb-key-save-delay", "8000");     // ~5 s for the dataset
        using var rc = redis.Connect();
        using var cc = cinnabar.Connect();
        rc.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        cc.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        Assert.True(Env.WaitUntil(() => Info(cc, "master_sync_in_progress") == "1" && Info(rc, "master_sync_in_progress") == "1", Long), cinnabar.Output);
        string during = cc.Call("INFO", "replication"), duringRedis = rc.Call("INFO", "replication");
        Assert.Contains("master_sync_total_bytes:", during);
        Assert.Contains("master_sync_perc:", during);
        Assert.Equal(FieldNames(duringRedis), FieldNames(during));
        m.Call("CONFIG", "SET", "rdb-key-save-delay", "0");
        Assert.True(Env.WaitUntil(() => LinkUp(cc) && LinkUp(rc), Long), cinnabar.Output);
        Pipeline(m, Writes());
        Assert.True(CaughtUp(m, cc), cinnabar.Output);
        Assert.True(CaughtUp(m, rc));
    }

    /// <summary>AUTH with masteruser/masterauth in the handshake, and the announced address the master shows.</summary>
    [Fact]
    public void HandshakeAuthenticatesAndAnnounces()
    {
        using var master = RedisMaster("--requirepass", "secret");
        using var replica = Cinnabar();
        using var m = master.Connect();
        Assert.Equal("+OK\r\n", m.Call("AUTH", "secret"));
        Assert.Equal("+OK\r\n", m.Call("ACL", "SETUSER", "repl", "on", ">pw", "~*", "+@all"));
        using var r = replica.Connect();
        r.Call("CONFIG", "SET", "masterauth", "wrong");
        r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        Assert.Contains("Unable to AUTH to MASTER: -WRONGPASS", replica.WaitForOutput("Unable to AUTH to MASTER"));
        Assert.Equal("down", Info(r, "master_link_status"));

        Assert.Equal("+OK\r\n", r.Call("CONFIG", "SET", "masteruser", "repl"));
        Assert.Equal("+OK\r\n", r.Call("CONFIG", "SET", "masterauth", "pw"));
        Assert.Equal("+OK\r\n", r.Call("CONFIG", "SET", "replica-announce-ip", "10.1.2.3"));
        Assert.Equal("+OK\r\n", r.Call("CONFIG", "SET", "replica-announce-port", "4242"));
        Assert.True(Env.WaitUntil(() => LinkUp(r), Long), replica.Output);
        Assert.True(Env.WaitUntil(() => Info(m, "slave0").StartsWith("ip=10.1.2.3,port=4242,state=online"), Long), m.Call("INFO", "replication"));
        Assert.Contains("Master replied to PING, replication can continue...", replica.Output);
        m.Call("SET", "k", "v");
        Assert.True(CaughtUp(m, r), replica.Output);
    }

    /// <summary>Config-file errors for replicaof, as redis-server reports them.</summary>
    [Theory]
    [InlineData("replicaof 127.0.0.1 99999\n")]
    [InlineData("replicaof 127.0.0.1\n")]
    [InlineData("cluster-enabled yes\nreplicaof 127.0.0.1 6380\n")]
    public void ReplicaOfDirectiveErrorsAsRedis(string config)
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-replconf-").FullName;
        try
        {
            string file = Path.Combine(dir, "r.conf");
            File.WriteAllText(file, "save \"\"\n" + config);
            string Run(string binary)
            {
                var psi = new System.Diagnostics.ProcessStartInfo(binary, file) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = dir };
                using var p = System.Diagnostics.Process.Start(psi)!;
                var err = p.StandardError.ReadToEndAsync();
                var outp = p.StandardOutput.ReadToEndAsync();
                if (!p.WaitForExit(20_000)) { p.Kill(); return "timeout"; }
                return $"{p.ExitCode}|{err.Result}";
            }
            Assert.Equal(Run(Env.RedisServer), Run(Env.CinnabarServer));
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
