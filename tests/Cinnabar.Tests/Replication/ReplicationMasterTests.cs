using System.Diagnostics;
using System.Text;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Replication;

/// <summary>
/// Cinnabar as a master of real redis-server 7.0 replicas: full sync (disk and diskless) of every data type,
/// the command stream after it, partial resync after a dropped link, WAIT, min-replicas, INFO replication's
/// fields, and the error texts of REPLCONF/PSYNC/WAIT compared byte for byte with redis-server.
/// </summary>
public sealed class ReplicationMasterTests
{
    static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(60);

    static ServerProcess Cinnabar(params string[] extra) =>
        new(Env.CinnabarServer, new[] { "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0" }.Concat(extra).ToArray());

    static ServerProcess Replica(int masterPort, params string[] extra) =>
        new(Env.RedisServer, new[] { "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", masterPort.ToString() }.Concat(extra).ToArray());

    static Dictionary<string, string> Info(RespConnection c, string section)
    {
        var text = c.Call("INFO", section);
        var d = new Dictionary<string, string>();
        foreach (var line in text.Split("\r\n").Skip(1))
        {
            int i = line.IndexOf(':');
            if (i > 0) d[line[..i]] = line[(i + 1)..];
        }
        return d;
    }

    static List<string> InfoFieldNames(RespConnection c, string section) =>
        c.Call("INFO", section).Split("\r\n").Skip(1).Where(l => l.Contains(':')).Select(l => l[..l.IndexOf(':')]).ToList();

    /// <summary>Waits until the replica's link is up, it processed every byte of the master's stream, and the datasets match.</summary>
    static void AssertInSync(ServerProcess master, ServerProcess replica)
    {
        using var m = master.Connect();
        using var r = replica.Connect();
        string last = "";
        bool ok = Env.WaitUntil(() =>
        {
            var mi = Info(m, "replication");
            var ri = Info(r, "replication");
            last = $"master offset {mi["master_repl_offset"]}, replica link {ri.GetValueOrDefault("master_link_status")} offset {ri.GetValueOrDefault("slave_repl_offset")}";
            return ri.GetValueOrDefault("master_link_status") == "up" && ri.GetValueOrDefault("slave_repl_offset") == mi["master_repl_offset"]
                && m.Call("DEBUG", "DIGEST") == r.Call("DEBUG", "DIGEST");
        }, SyncTimeout, 50);
        Assert.True(ok, $"replica not in sync: {last}\nmaster log:\n{master.Output}\nreplica log:\n{replica.Output}");
    }

    static void Ok(RespConnection c, params string[] args)
    {
        var reply = c.Call(args);
        Assert.False(reply.StartsWith('-'), $"{string.Join(' ', args)} -> {reply}");
    }

    /// <summary>Every type and encoding, TTLs, stream groups, a function library, in three databases.</summary>
    static void Fill(RespConnection c)
    {
        Ok(c, "FUNCTION", "LOAD", "#!lua name=replib\nredis.register_function('rset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)");
        foreach (var db in new[] { "0", "3", "9" })
        {
            Ok(c, "SELECT", db);
            Ok(c, "SET", "s:small", "bar");
            Ok(c, "SET", "s:int", "12345");
            Ok(c, "SET", "s:big", new string('x', 20000));
            Ok(c, "SET", "s:ttl", "v", "PX", "100000000");
            Ok(c, "RPUSH", "l:small", "a", "b", "1", "-300", "70000");
            Ok(c, new[] { "RPUSH", "l:big" }.Concat(Enumerable.Range(0, 2000).Select(i => "e" + i)).ToArray());
            Ok(c, "SADD", "set:int", "1", "2", "3", "-70000");
            Ok(c, "SADD", "set:str", "a", "b", "c");
            Ok(c, new[] { "SADD", "set:big" }.Concat(Enumerable.Range(0, 1000).Select(i => "m" + i)).ToArray());
            Ok(c, "ZADD", "z:lp", "1", "a", "2.5", "b", "inf", "c");
            Ok(c, new[] { "ZADD", "z:sk" }.Concat(Enumerable.Range(0, 300).SelectMany(i => new[] { (i * 1.5).ToString(System.Globalization.CultureInfo.InvariantCulture), "m" + i })).ToArray());
            Ok(c, "HSET", "h:lp", "f1", "v1", "f2", "22");
            Ok(c, "EXPIRE", "h:lp", "100000");
            Ok(c, new[] { "HSET", "h:ht" }.Concat(Enumerable.Range(0, 600).SelectMany(i => new[] { "f" + i, "v" + i })).ToArray());
            Ok(c, "PFADD", "hll", "a", "b", "c");
            for (int i = 0; i < 50; i++) Ok(c, "XADD", "st", $"{1000 + i}-0", "a", i.ToString());
            Ok(c, "XGROUP", "CREATE", "st", "g1", "0");
            Ok(c, "XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "st", ">");
        }
        Ok(c, "SELECT", "0");
    }

    /// <summary>Writes of every kind after the sync: types, MULTI/EXEC, EVAL, FCALL, expiries, other dbs, a served BLPOP.</summary>
    static void WriteStream(ServerProcess master)
    {
        using var c = master.Connect();
        Ok(c, "SET", "k1", "v1");
        Ok(c, "INCR", "counter");
        Ok(c, "INCRBYFLOAT", "float", "1.5");
        Ok(c, "APPEND", "s:small", "more");
        Ok(c, "LPUSH", "l:small", "x", "y");
        Ok(c, "RPOP", "l:small");
        Ok(c, "LSET", "l:big", "5", "changed");
        Ok(c, "SADD", "set:str", "d");
        Ok(c, "SREM", "set:int", "2");
        Ok(c, "SPOP", "set:big", "3");
        Ok(c, "ZADD", "z:lp", "9", "new");
        Ok(c, "ZINCRBY", "z:sk", "2", "m1");
        Ok(c, "ZPOPMIN", "z:sk", "2");
        Ok(c, "HSET", "h:ht", "f1", "changed");
        Ok(c, "HDEL", "h:ht", "f2");
        Ok(c, "HINCRBY", "h:lp", "f2", "3");
        Ok(c, "PFADD", "hll", "z");
        Ok(c, "XADD", "st", "*", "new", "entry");
        Ok(c, "XACK", "st", "g1", "1000-0");
        Ok(c, "XCLAIM", "st", "g1", "bob", "0", "1001-0");
        Ok(c, "XTRIM", "st", "MAXLEN", "40");
        Ok(c, "SET", "ex", "v", "EX", "1000");
        Ok(c, "SETEX", "setex", "1000", "v");
        Ok(c, "EXPIRE", "k1", "5000");
        Ok(c, "PEXPIRE", "counter", "5000000");
        Ok(c, "GETEX", "s:int", "EX", "7000");
        Ok(c, "PERSIST", "s:ttl");
        Ok(c, "SET", "short", "v", "PX", "30");
        Ok(c, "MULTI");
        Ok(c, "SET", "m1", "1");
        Ok(c, "INCR", "m1");
        Ok(c, "LPUSH", "mlist", "a");
        Assert.StartsWith("*3", c.Call("EXEC"));
        Ok(c, "EVAL", "redis.call('SET', KEYS[1], 'a'); redis.call('RPUSH', KEYS[2], 'b', 'c'); return 1", "2", "e1", "e2");
        Ok(c, "EVAL", "return redis.call('SPOP', KEYS[1])", "1", "set:str");
        Ok(c, "FCALL", "rset", "1", "viafunction", "val");
        Ok(c, "SELECT", "5");
        Ok(c, "SET", "in5", "v");
        Ok(c, "HSET", "h5", "a", "b");
        Ok(c, "SELECT", "9");
        Ok(c, "DEL", "s:big");
        Ok(c, "RENAME", "l:small", "l:renamed");
        Ok(c, "SELECT", "3");
        Ok(c, "FLUSHDB");
        Ok(c, "SET", "after-flush", "1");
        Ok(c, "SELECT", "0");
        Ok(c, "COPY", "h:ht", "h:copy");
        Ok(c, "SORT", "l:big", "ALPHA", "LIMIT", "0", "10", "STORE", "sorted");
        Ok(c, "BITFIELD", "bf", "SET", "u8", "0", "200");
        Ok(c, "SETRANGE", "range", "5", "abc");
        // A blocked BLPOP served by a push propagates as LPOP.
        using (var blocked = master.Connect())
        {
            blocked.Send(RespConnection.Encode(new[] { "BLPOP", "bl", "10" }.Select(s => Encoding.UTF8.GetBytes(s)).ToArray()));
            Assert.True(Env.WaitUntil(() => Info(c, "clients")["blocked_clients"] == "1", TimeSpan.FromSeconds(10)));
            Ok(c, "RPUSH", "bl", "one", "two");
            Assert.StartsWith("*2", RespConnection.Latin1(blocked.ReadReply()));
        }
        // The short TTL runs out: the master's expiry reaches the replica as DEL.
        Assert.True(Env.WaitUntil(() => c.Call("EXISTS", "short") == ":0\r\n", TimeSpan.FromSeconds(10)));
        for (int i = 0; i < 500; i++) Ok(c, "SET", "bulk:" + i, new string('b', i % 50));
    }

    [Theory]
    [InlineData(false, "disabled")]
    [InlineData(true, "disabled")]
    [InlineData(true, "swapdb")]
    public void FullSyncOfEveryTypeThenTheStream(bool diskless, string replicaDisklessLoad)
    {
        using var master = Cinnabar("--repl-diskless-sync", diskless ? "yes" : "no");
        using (var c = master.Connect()) Fill(c);
        using var replica = Replica(master.Port, "--repl-diskless-load", replicaDisklessLoad);
        AssertInSync(master, replica);
        string target = diskless ? "Starting BGSAVE for SYNC with target: replicas sockets" : "Starting BGSAVE for SYNC with target: disk";
        Assert.Contains(target, master.WaitForOutput(target));
        string receiving = replicaDisklessLoad != "disabled" ? "Loading DB in memory"
            : diskless ? "receiving streamed RDB from master with EOF" : "MASTER <-> REPLICA sync: receiving";
        Assert.Contains(receiving, replica.WaitForOutput(receiving));
        using (var r = replica.Connect())
        {
            Assert.Contains("replib", r.Call("FUNCTION", "LIST"));
            Assert.NotEqual(":0\r\n", r.Call("DBSIZE"));
        }
        WriteStream(master);
        AssertInSync(master, replica);
        using (var m = master.Connect())
        {
            var info = Info(m, "replication");
            Assert.Equal("1", info["connected_slaves"]);
            Assert.Matches("^ip=127\\.0\\.0\\.1,port=" + replica.Port + ",state=online,offset=\\d+,lag=\\d+$", info["slave0"]);
            Assert.Equal("1", info["repl_backlog_active"]);
            Assert.Equal("1", Info(m, "stats")["sync_full"]);
            Assert.Contains("flags=S ", m.Call("CLIENT", "LIST", "TYPE", "replica"));
            Assert.Equal("1", Info(m, "clients")["connected_clients"]);   // the replica is not counted
        }
    }

    /// <summary>A hand-made replica: a raw socket that reads what the master sends byte by byte.</summary>
    sealed class RawReplica : IDisposable
    {
        readonly System.Net.Sockets.Socket socket;
        readonly byte[] one = new byte[1];

        public RawReplica(int port)
        {
            socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { ReceiveTimeout = 15000 };
            socket.Connect("127.0.0.1", port);
        }

        public void Send(params string[] args) => socket.Send(RespConnection.Encode(args.Select(a => Encoding.UTF8.GetBytes(a)).ToArray()));

        public string ReadLine()
        {
            var sb = new StringBuilder();
            while (true)
            {
                if (socket.Receive(one) != 1) throw new IOException("closed");
                sb.Append((char)one[0]);
                if (one[0] == '\n') return sb.ToString();
            }
        }

        public byte[] ReadUntil(byte[] end)
        {
            var ms = new MemoryStream();
            while (ms.Length < end.Length || !ms.GetBuffer().AsSpan((int)ms.Length - end.Length, end.Length).SequenceEqual(end))
            {
                if (socket.Receive(one) != 1) throw new IOException("closed");
                ms.WriteByte(one[0]);
            }
            return ms.ToArray();
        }

        /// <summary>True when nothing arrives within the time.</summary>
        public bool Quiet(int ms)
        {
            socket.ReceiveTimeout = ms;
            try { return socket.Receive(one) == 0; }
            catch (System.Net.Sockets.SocketException) { return true; }
            finally { socket.ReceiveTimeout = 15000; }
        }

        public void Dispose() => socket.Dispose();
    }

    [Fact]
    public void DisklessSyncWaitsForTheDelayAndHoldsTheStreamUntilTheFirstAck()
    {
        using var master = Cinnabar("--repl-diskless-sync-delay", "2");
        using (var c = master.Connect()) Ok(c, "SET", "k", "v");
        using var r = new RawReplica(master.Port);
        r.Send("REPLCONF", "capa", "eof", "capa", "psync2");
        Assert.Equal("+OK\r\n", r.ReadLine());
        var sw = Stopwatch.StartNew();
        r.Send("PSYNC", "?", "-1");
        // \n keepalives while the delay runs, then +FULLRESYNC.
        string line;
        int keepalives = 0;
        while ((line = r.ReadLine()) == "\n") keepalives++;
        // Idle time counts in whole seconds of the clock (unixtime - lastinteraction), as in Redis.
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(0.9), $"FULLRESYNC after {sw.Elapsed}");
        Assert.True(keepalives >= 1, "no keepalive before FULLRESYNC");
        Assert.Matches("^\\+FULLRESYNC [0-9a-f]{40} \\d+\r\n$", line);
        string replid = line.Split(' ')[1];
        long offset = long.Parse(line.Split(' ')[2]);
        var eof = r.ReadLine();
        Assert.Matches("^\\$EOF:[0-9a-f]{40}\r\n$", eof);
        var mark = Encoding.ASCII.GetBytes(eof[5..45]);
        var rdb = Encoding.Latin1.GetString(r.ReadUntil(mark));
        Assert.StartsWith("REDIS0010", rdb);
        foreach (var aux in new[] { "repl-stream-db", "repl-id", "repl-offset", replid }) Assert.Contains(aux, rdb);
        // Writes during and after the transfer wait for the replica's first ACK.
        using (var c = master.Connect()) Ok(c, "SET", "after", "sync");
        Assert.True(r.Quiet(300), "stream sent before the first ACK");
        r.Send("REPLCONF", "ACK", offset.ToString());
        var stream = Encoding.Latin1.GetString(r.ReadUntil("sync\r\n"u8.ToArray()));
        Assert.EndsWith("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$4\r\nsync\r\n", stream);
    }

    [Fact]
    public void PartialResyncAfterTheLinkDrops()
    {
        using var master = Cinnabar();
        using (var c = master.Connect()) Fill(c);
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        using (var c = master.Connect())
        {
            Assert.Equal(":1\r\n", c.Call("CLIENT", "KILL", "TYPE", "replica"));
            for (int i = 0; i < 100; i++) Ok(c, "SET", "after-kill:" + i, "v");
            Ok(c, "SELECT", "3");
            Ok(c, "LPUSH", "l:small", "more");
        }
        replica.WaitForOutput("Successful partial resynchronization", 30_000);
        Assert.Contains("Successful partial resynchronization", replica.Output);
        AssertInSync(master, replica);
        using (var c = master.Connect())
        {
            var stats = Info(c, "stats");
            Assert.Equal("1", stats["sync_full"]);
            Assert.Equal("1", stats["sync_partial_ok"]);
        }
        string accepted = "Partial resynchronization request from 127.0.0.1:" + replica.Port + " accepted";
        Assert.Contains(accepted, master.WaitForOutput(accepted));
    }

    [Fact]
    public void PartialResyncAcrossAWrappedBacklogFallsBackToFullSync()
    {
        using var master = Cinnabar("--repl-backlog-size", "16384");
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        // Frozen, the replica cannot come back before the backlog has moved past its offset.
        Signal(replica, "STOP");
        try
        {
            using var c = master.Connect();
            Assert.Equal(":1\r\n", c.Call("CLIENT", "KILL", "TYPE", "replica"));
            for (int i = 0; i < 200; i++) Ok(c, "SET", "big:" + i, new string('x', 200));
        }
        finally { Signal(replica, "CONT"); }
        master.WaitForOutput("for lack of backlog", 30_000);
        AssertInSync(master, replica);
        using (var c = master.Connect())
        {
            Assert.Equal("2", Info(c, "stats")["sync_full"]);
            Assert.Equal("1", Info(c, "stats")["sync_partial_err"]);
        }
        Assert.Contains("Unable to partial resync with replica 127.0.0.1:" + replica.Port + " for lack of backlog", master.Output);
    }

    static void Signal(ServerProcess p, string sig) => Process.Start("kill", $"-{sig} {p.Process.Id}")!.WaitForExit(5000);

    [Fact]
    public void WaitCountsAcknowledgingReplicas()
    {
        using var master = Cinnabar();
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        using var c = master.Connect();
        Ok(c, "SET", "w", "1");
        Assert.Equal(":1\r\n", c.Call("WAIT", "1", "5000"));
        Assert.Equal(":1\r\n", c.Call("WAIT", "0", "0"));
        Signal(replica, "STOP");
        try
        {
            Ok(c, "SET", "w", "2");
            var sw = Stopwatch.StartNew();
            Assert.Equal(":0\r\n", c.Call("WAIT", "1", "500"));
            Assert.True(sw.ElapsedMilliseconds >= 450, $"WAIT returned after {sw.ElapsedMilliseconds} ms");
            // Inside MULTI WAIT never blocks.
            Ok(c, "SET", "w", "3");
            Ok(c, "MULTI");
            Ok(c, "WAIT", "1", "0");
            Assert.Equal("*1\r\n:0\r\n", c.Call("EXEC"));
        }
        finally { Signal(replica, "CONT"); }
        // Once it runs again its ACK (after the GETACK it finds in the stream) satisfies a new WAIT.
        Assert.Equal(":1\r\n", c.Call("WAIT", "1", "10000"));
    }

    [Fact]
    public void MinReplicasToWriteRejectsWrites()
    {
        using var master = Cinnabar();
        using var redis = new ServerProcess(Env.RedisServer);
        foreach (var s in new[] { master, redis })
        {
            using var c = s.Connect();
            Ok(c, "CONFIG", "SET", "min-replicas-to-write", "1");
        }
        var cmds = new[] { new[] { "SET", "k", "v" }, new[] { "GET", "k" }, new[] { "MULTI" }, new[] { "INCR", "k" }, new[] { "EXEC" }, new[] { "EVAL", "return 1", "0" },
            new[] { "EVAL", "return redis.call('SET', 'k', 'v')", "0" }, new[] { "EVAL", "#!lua\nreturn redis.call('SET', 'k', 'v')", "0" },
            new[] { "EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', 'k')", "0" }, new[] { "EVAL", "return redis.pcall('SET', 'k', 'v')", "0" } };
        using (var a = master.Connect())
        using (var b = redis.Connect())
            foreach (var cmd in cmds) Assert.Equal(b.Call(cmd), a.Call(cmd));
        using (var c = master.Connect())
        {
            Assert.Equal("-NOREPLICAS Not enough good replicas to write.\r\n", c.Call("SET", "k", "v"));
            Assert.Equal("0", Info(c, "replication")["min_slaves_good_slaves"]);
        }
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        using (var c = master.Connect())
        {
            Assert.True(Env.WaitUntil(() => c.Call("SET", "k", "v") == "+OK\r\n", TimeSpan.FromSeconds(10)));
            Assert.Equal("1", Info(c, "replication")["min_slaves_good_slaves"]);
            Ok(c, "CONFIG", "SET", "min-replicas-to-write", "2");
            Assert.Equal("-NOREPLICAS Not enough good replicas to write.\r\n", c.Call("SET", "k", "v"));
            Ok(c, "CONFIG", "SET", "min-replicas-to-write", "0");
            Assert.Equal("+OK\r\n", c.Call("SET", "k", "v"));
        }
    }

    [Fact]
    public void InfoReplicationFieldsMatchRedisAsMasterWithOneReplica()
    {
        using var redisMaster = new ServerProcess(Env.RedisServer, "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes");
        using var redisReplica = Replica(redisMaster.Port);
        using var master = Cinnabar();
        using var replica = Replica(master.Port);
        AssertInSync(redisMaster, redisReplica);
        AssertInSync(master, replica);
        using var a = master.Connect();
        using var b = redisMaster.Connect();
        Assert.Equal(InfoFieldNames(b, "replication"), InfoFieldNames(a, "replication"));
        foreach (var c in new[] { a, b }) Ok(c, "CONFIG", "SET", "min-replicas-to-write", "1");
        Assert.Equal(InfoFieldNames(b, "replication"), InfoFieldNames(a, "replication"));
        Assert.Equal(Info(b, "replication")["min_slaves_good_slaves"], Info(a, "replication")["min_slaves_good_slaves"]);
        // Values that do not depend on ids and timing.
        foreach (var field in new[] { "role", "connected_slaves", "master_failover_state", "master_replid2", "second_repl_offset", "repl_backlog_active", "repl_backlog_size" })
            Assert.Equal(Info(b, "replication")[field], Info(a, "replication")[field]);
        Assert.Equal(Info(b, "clients")["connected_clients"], Info(a, "clients")["connected_clients"]);
        // ROLE: master, offset, one [ip, port, offset] entry.
        var role = a.Call("ROLE");
        Assert.StartsWith("*3\r\n$6\r\nmaster\r\n:", role);
        Assert.Contains($"*1\r\n*3\r\n$9\r\n127.0.0.1\r\n${replica.Port.ToString().Length}\r\n{replica.Port}\r\n", role);
    }

    [Fact]
    public void ReplicationCommandErrorsMatchRedis()
    {
        using var master = Cinnabar();
        using var redis = new ServerProcess(Env.RedisServer);
        var cmds = new[]
        {
            new[] { "REPLCONF" }, new[] { "REPLCONF", "listening-port" }, new[] { "REPLCONF", "listening-port", "abc" },
            new[] { "REPLCONF", "listening-port", "6380", "capa" }, new[] { "REPLCONF", "listening-port", "6380", "capa", "eof", "capa", "psync2", "capa", "foo" },
            new[] { "REPLCONF", "ip-address", new string('a', 256) }, new[] { "REPLCONF", "ip-address", new string('a', 255) },
            new[] { "REPLCONF", "foo", "bar" }, new[] { "REPLCONF", "listening-port", "1", "foo", "bar" },
            new[] { "REPLCONF", "rdb-only", "2" }, new[] { "REPLCONF", "rdb-only", "x" }, new[] { "REPLCONF", "rdb-only", "0" },
            new[] { "REPLCONF", "rdb-filter-only", "functions" }, new[] { "REPLCONF", "rdb-filter-only", "foo" },
            new[] { "PSYNC" }, new[] { "PSYNC", "a" }, new[] { "PSYNC", "a", "b" }, new[] { "PSYNC", "a", "b", "c" },
            new[] { "PSYNC", "a", "1", "failover" }, new[] { "SYNC", "x" },
            new[] { "WAIT" }, new[] { "WAIT", "1" }, new[] { "WAIT", "a", "1" }, new[] { "WAIT", "0", "-1" }, new[] { "WAIT", "0", "a" },
            new[] { "WAIT", "1", "10" }, new[] { "ROLE", "x" }, new[] { "ROLE" },
        };
        using (var a = master.Connect())
        using (var b = redis.Connect())
        {
            foreach (var cmd in cmds)
            {
                var expected = b.Call(cmd);
                Assert.True(expected == a.Call(cmd), $"{string.Join(' ', cmd)}: redis {expected}");
            }
            // ACK and GETACK from a client that is not a replica are not answered at all.
            foreach (var c in new[] { a, b })
            {
                c.Send(RespConnection.Encode(new[] { "REPLCONF", "ACK", "5" }.Select(s => Encoding.UTF8.GetBytes(s)).ToArray()));
                c.Send(RespConnection.Encode(new[] { "REPLCONF", "GETACK", "*" }.Select(s => Encoding.UTF8.GetBytes(s)).ToArray()));
                Assert.Equal("+PONG\r\n", c.Call("PING"));
            }
        }
        // PSYNC with replies still pending on the connection (pipelined after PING).
        using (var a = master.Connect())
        using (var b = redis.Connect())
        {
            var pipelined = Encoding.ASCII.GetBytes("*1\r\n$4\r\nPING\r\n*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n");
            a.Send(pipelined);
            b.Send(pipelined);
            Assert.Equal(RespConnection.Latin1(b.ReadReply()), RespConnection.Latin1(a.ReadReply()));
            Assert.Equal(RespConnection.Latin1(b.ReadReply()), RespConnection.Latin1(a.ReadReply()));
        }
    }

    [Fact]
    public void BacklogSizeAndTtlAreConfigurable()
    {
        using var master = Cinnabar("--repl-backlog-size", "100000");
        using var c = master.Connect();
        Assert.Equal("*2\r\n$17\r\nrepl-backlog-size\r\n$6\r\n100000\r\n", c.Call("CONFIG", "GET", "repl-backlog-size"));
        Assert.Equal("100000", Info(c, "replication")["repl_backlog_size"]);
        Assert.Equal("0", Info(c, "replication")["repl_backlog_active"]);
        Ok(c, "CONFIG", "SET", "repl-backlog-ttl", "1");
        using (var replica = Replica(master.Port))
        {
            AssertInSync(master, replica);
            Assert.Equal("1", Info(c, "replication")["repl_backlog_active"]);
            Ok(c, "CONFIG", "SET", "repl-backlog-size", "200000");
            Assert.Equal("200000", Info(c, "replication")["repl_backlog_size"]);
        }
        // With no replica for longer than the TTL the backlog goes, and with it the replication history.
        string replid = Info(c, "replication")["master_replid"];
        Assert.True(Env.WaitUntil(() => Info(c, "replication")["repl_backlog_active"] == "0", TimeSpan.FromSeconds(15)), master.Output);
        Assert.NotEqual(replid, Info(c, "replication")["master_replid"]);
        master.WaitForOutput("Replication backlog freed after 1 seconds without connected replicas.");
    }

    [Fact]
    public void ShutdownWaitsForLaggingReplicas()
    {
        using var master = Cinnabar("--shutdown-timeout", "3");
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        Signal(replica, "STOP");
        try
        {
            using var c = master.Connect();
            Ok(c, "SET", "last", "write");
            using var shutdown = master.Connect();
            shutdown.Send(RespConnection.Encode(new[] { "SHUTDOWN", "NOSAVE" }.Select(s => Encoding.UTF8.GetBytes(s)).ToArray()));
            master.WaitForOutput("Waiting for replicas before shutting down.");
            // Writes wait meanwhile; ABORT ends the wait, the SHUTDOWN client gets the error and the write goes through.
            using var writer = master.Connect();
            writer.Send(RespConnection.Encode(new[] { "SET", "paused", "1" }.Select(s => Encoding.UTF8.GetBytes(s)).ToArray()));
            Assert.Equal("+OK\r\n", c.Call("SHUTDOWN", "ABORT"));
            Assert.Equal("-ERR Errors trying to SHUTDOWN. Check logs.\r\n", RespConnection.Latin1(shutdown.ReadReply()));
            Assert.Equal("+OK\r\n", RespConnection.Latin1(writer.ReadReply()));
            Assert.Equal("-ERR No shutdown in progress.\r\n", c.Call("SHUTDOWN", "ABORT"));
            // Now for real: the frozen replica never catches up, so the master exits after shutdown-timeout.
            var sw = Stopwatch.StartNew();
            shutdown.Send(RespConnection.Encode(new[] { "SHUTDOWN", "NOSAVE" }.Select(s => Encoding.UTF8.GetBytes(s)).ToArray()));
            Assert.True(master.Process.WaitForExit(15_000), "master did not exit");
            Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(2.5), $"exited after {sw.Elapsed}");
            master.WaitForOutput("replicas are in sync when shutting down.");
            Assert.Contains($"Lagging replica 127.0.0.1:{replica.Port} reported offset", master.Output);
            Assert.Contains("0 of 1 replicas are in sync when shutting down.", master.Output);
        }
        finally { Signal(replica, "CONT"); }
    }

    [Fact]
    public void ShutdownLetsACaughtUpReplicaHaveTheLastWrite()
    {
        using var master = Cinnabar();
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        using (var c = master.Connect())
        {
            for (int i = 0; i < 1000; i++) Ok(c, "SET", "k" + i, "v");
            c.Send(RespConnection.Encode(new[] { "SHUTDOWN", "NOSAVE" }.Select(s => Encoding.UTF8.GetBytes(s)).ToArray()));
            Assert.True(master.Process.WaitForExit(15_000), "master did not exit");
        }
        Assert.Contains("1 of 1 replicas are in sync when shutting down.", master.WaitForOutput("replicas are in sync"));
        using var r = replica.Connect();
        Assert.Equal(":1000\r\n", r.Call("DBSIZE"));
    }

    [Fact]
    public void ReplicaThatStopsAcknowledgingIsDroppedAfterReplTimeout()
    {
        using var master = Cinnabar("--repl-timeout", "2");
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        Signal(replica, "STOP");
        try
        {
            master.WaitForOutput("Disconnecting timedout replica (streaming sync): 127.0.0.1:" + replica.Port, 15_000);
            Assert.Contains("Disconnecting timedout replica (streaming sync)", master.Output);
            using var c = master.Connect();
            Assert.Equal("0", Info(c, "replication")["connected_slaves"]);
            Ok(c, "SET", "while", "away");
        }
        finally { Signal(replica, "CONT"); }
        AssertInSync(master, replica);
    }

    [Fact]
    public void ReplicaOverItsOutputBufferLimitIsDropped()
    {
        using var master = Cinnabar("--client-output-buffer-limit", "replica 1mb 0 0");
        using var replica = Replica(master.Port);
        AssertInSync(master, replica);
        Signal(replica, "STOP");
        try
        {
            using var c = master.Connect();
            // Enough to fill the socket buffers and then the 1 MB limit.
            var value = new string('v', 64 * 1024);
            for (int i = 0; i < 400 && Info(c, "replication")["connected_slaves"] == "1"; i++) Ok(c, "SET", "big" + (i % 10), value);
            master.WaitForOutput("scheduled to be closed ASAP for overcoming of output buffer limits", 15_000);
            Assert.Contains("scheduled to be closed ASAP for overcoming of output buffer limits", master.Output);
        }
        finally { Signal(replica, "CONT"); }
        AssertInSync(master, replica);
    }
}
