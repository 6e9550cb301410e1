using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Server.Cluster;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// Slot migration: MIGRATE against redis-server 7.0 (same commands to both, same replies), its timeout, cached
/// connection and propagation as DEL; then redis-cli --cluster reshard / rebalance / fix / add-node / del-node on a
/// Cinnabar cluster and on a mixed Cinnabar + redis-server cluster while a StackExchange.Redis client keeps writing,
/// with every acknowledged write found afterwards.
/// </summary>
public sealed class MigrationTests
{
    const int NodeTimeout = 2000;
    static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    readonly ITestOutputHelper output;

    public MigrationTests(ITestOutputHelper output) => this.output = output;

    [DllImport("libc", SetLastError = true)] static extern int kill(int pid, int sig);

    static (int code, string output) RedisCliWithInput(string stdin, params string[] args) => Tools.Run("redis-cli", args, stdin, timeoutMs: 180_000);

    static (int code, string output) RedisCli(params string[] args) => RedisCliWithInput(null, args);

    // ------------------------------------------------------------------------------------------------ MIGRATE

    /// <summary>The same MIGRATE script from a source to a target; the replies, then what each side holds.</summary>
    static List<string> MigrateScript(int source, int target, int refusedPort)
    {
        var log = new List<string>();
        using var c = new RespConnection(source);
        string t = target.ToString();
        void Run(params string[] args) => log.Add((string.Join(' ', args) + " -> " + c.Call(args).TrimEnd())
            .Replace(" " + t + " ", " TARGET ").Replace(" " + refusedPort + " ", " REFUSED "));
        Run("SET", "a", "1", "PX", "100000");
        Run("SET", "b", "2");
        Run("RPUSH", "l", "x", "y");
        Run("HSET", "h", "f", "v");
        Run("MIGRATE", "127.0.0.1", t, "a", "0", "1000");
        Run("MIGRATE", "127.0.0.1", t, "", "3", "1000", "KEYS", "b", "l", "nosuchkey");
        Run("MIGRATE", "127.0.0.1", t, "nosuchkey", "0", "1000");
        Run("MIGRATE", "127.0.0.1", t, "", "0", "1000", "KEYS", "nosuchkey", "other");
        Run("SET", "b", "5");
        Run("MIGRATE", "127.0.0.1", t, "", "3", "1000", "KEYS", "b");                        // BUSYKEY from the target
        Run("MIGRATE", "127.0.0.1", t, "", "3", "1000", "COPY", "REPLACE", "KEYS", "b");
        Run("EXISTS", "b");
        Run("MIGRATE", "127.0.0.1", t, "b", "0", "1000", "AUTH", "foo");                     // the target has no password
        Run("MIGRATE", "127.0.0.1", t, "b", "0", "1000", "AUTH2", "user", "foo");
        Run("MIGRATE", "127.0.0.1", refusedPort.ToString(), "b", "0", "1000");             // refused: reported at the write
        Run("MIGRATE", "127.0.0.1", "-1", "b", "0", "1000");
        Run("MIGRATE", "", t, "b", "0", "1000");
        Run("MIGRATE", "127.0.0.1", t, "b", "0", "1000", "KEYS", "x");
        Run("MIGRATE", "127.0.0.1", t, "", "x", "1000", "KEYS", "b");
        Run("MIGRATE", "127.0.0.1", t, "", "0", "x", "KEYS", "b");
        Run("MIGRATE", "127.0.0.1", t, "b", "0", "x", "FOO");
        Run("MIGRATE", "127.0.0.1", t, "b", "0", "1000", "AUTH");
        Run("MIGRATE", "127.0.0.1", t, "b", "0", "1000", "AUTH2", "x");
        Run("MIGRATE", "127.0.0.1", t, "b", "0");
        Run("MIGRATE", "127.0.0.1", t, "b", "99", "1000");
        Run("MIGRATE", "127.0.0.1", t, "b", "0", "0", "REPLACE");                            // timeout 0 means 1000 ms
        Run("MIGRATE", "localhost", t, "h", "1", "1000");
        Run("COMMAND", "GETKEYS", "MIGRATE", "h", "p", "", "0", "5", "AUTH", "keys", "KEYS", "k1", "k2");
        Run("COMMAND", "GETKEYS", "MIGRATE", "h", "p", "k", "0", "5", "KEYS", "k1");
        Run("DBSIZE");
        using var tc = new RespConnection(target);
        foreach (var db in new[] { "0", "1", "3" })
        {
            tc.Call("SELECT", db);
            foreach (var key in new[] { "a", "b", "l", "h" })
            {
                string ttl = tc.Call("PTTL", key).TrimEnd();
                if (ttl.StartsWith(":9")) ttl = ":9xxxx";   // 100 s less what the script took
                log.Add($"target db{db} {key}: {tc.Call("DUMP", key).Length} bytes, pttl {ttl}");
            }
        }
        return log;
    }

    [Fact]
    public void MigrateRepliesAsRedisDoes()
    {
        foreach (bool redisTarget in new[] { true, false })
        {
            var logs = new List<List<string>>();
            foreach (bool redisSource in new[] { true, false })
            {
                using var source = new ServerProcess(redisSource ? Env.RedisServer : Env.CinnabarServer);
                using var target = new ServerProcess(redisTarget ? Env.RedisServer : Env.CinnabarServer);
                logs.Add(MigrateScript(source.Port, target.Port, Env.FreePort()));
            }
            output.WriteLine("target " + (redisTarget ? "redis-server" : "cinnabar") + ":\n" + string.Join("\n", logs[1]));
            Assert.Equal(logs[0], logs[1]);
        }
    }

    [Fact]
    public void MigrateToAFrozenTargetTimesOutAndKeepsTheKey()
    {
        foreach (bool redisSource in new[] { true, false })
        {
            using var source = new ServerProcess(redisSource ? Env.RedisServer : Env.CinnabarServer);
            using var target = new ServerProcess(Env.RedisServer);
            using var c = new RespConnection(source.Port, TimeSpan.FromSeconds(10));
            Assert.Equal("+OK\r\n", c.Call("SET", "k", "v"));
            kill(target.Process.Id, 19);   // SIGSTOP: the kernel still accepts the connection, nobody answers
            try
            {
                var sw = Stopwatch.StartNew();
                Assert.Equal("-IOERR error or timeout reading to target instance\r\n", c.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "k", "0", "300"));
                Assert.InRange(sw.ElapsedMilliseconds, 250, 3000);
                Assert.Equal("$1\r\nv\r\n", c.Call("GET", "k"));
                Assert.Equal("+PONG\r\n", c.Call("PING"));
            }
            finally { kill(target.Process.Id, 18); }
            // The failed connection was dropped; the next MIGRATE connects again and works (REPLACE: the thawed target
            // has run the RESTORE that timed out, as redis-server's does).
            Assert.Equal("+OK\r\n", c.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "k", "0", "1000", "REPLACE"));
            Assert.Equal(":0\r\n", c.Call("EXISTS", "k"));
        }
    }

    static int CachedSockets(RespConnection c) =>
        int.Parse(Regex.Match(c.Call("INFO", "stats"), @"migrate_cached_sockets:(\d+)").Groups[1].Value);

    [Fact]
    public void MigrateKeepsOneConnectionPerTargetAndClosesItAfterTenIdleSeconds()
    {
        using var source = new ServerProcess(Env.CinnabarServer);
        using var target = new ServerProcess(Env.RedisServer);
        using var c = new RespConnection(source.Port, TimeSpan.FromSeconds(10));
        using var tc = new RespConnection(target.Port);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("+OK\r\n", c.Call("SET", "k" + i, "v"));
            Assert.Equal("+OK\r\n", c.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "k" + i, (i % 2).ToString(), "1000"));
        }
        Assert.Equal(1, CachedSockets(c));
        Assert.Equal(2, Regex.Matches(tc.Call("CLIENT", "LIST"), "^id=", RegexOptions.Multiline).Count);   // ours and MIGRATE's
        Assert.Equal(":3\r\n", tc.Call("DBSIZE"));
        var sw = Stopwatch.StartNew();
        Assert.True(Env.WaitUntil(() => CachedSockets(c) == 0, TimeSpan.FromSeconds(20), 200));
        Assert.InRange(sw.Elapsed.TotalSeconds, 9, 13);
        Assert.True(Env.WaitUntil(() => Regex.Matches(tc.Call("CLIENT", "LIST"), "^id=", RegexOptions.Multiline).Count == 1, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void MigratedKeysLeaveTheReplicaAsOneDel()
    {
        using var master = new ServerProcess(Env.CinnabarServer);
        using var replica = new ServerProcess(Env.CinnabarServer, "--replicaof", "127.0.0.1", master.Port.ToString());
        using var target = new ServerProcess(Env.RedisServer);
        using var c = new RespConnection(master.Port, TimeSpan.FromSeconds(10));
        using var rc = new RespConnection(replica.Port);
        for (int i = 0; i < 4; i++) Assert.Equal("+OK\r\n", c.Call("SET", "k" + i, "v" + i));
        Assert.Equal("+OK\r\n", c.Call("SET", "t", "v", "EX", "100"));
        Assert.True(Env.WaitUntil(() => rc.Call("DBSIZE") == ":5\r\n", Long, 20));

        using var monitor = new RespConnection(replica.Port, TimeSpan.FromSeconds(10));
        Assert.Equal("+OK\r\n", monitor.Call("MONITOR"));
        Assert.Equal("+OK\r\n", c.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "", "0", "1000", "COPY", "KEYS", "k0"));
        Assert.Equal("+OK\r\n", c.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "", "0", "1000", "KEYS", "k1", "k2", "missing", "t"));
        Assert.True(Env.WaitUntil(() => rc.Call("DBSIZE") == ":2\r\n", Long, 20));
        Assert.Equal("$2\r\nv0\r\n", rc.Call("GET", "k0"));
        string seen = RespConnection.Latin1(monitor.ReadReply());
        while (!seen.Contains("\"DEL\"")) seen = RespConnection.Latin1(monitor.ReadReply());
        Assert.Contains("\"DEL\" \"k1\" \"k2\" \"t\"", seen);

        // The target got the TTL left (RESTORE with a relative TTL), and RESTORE itself goes to replicas as ABSTTL.
        using var tc = new RespConnection(target.Port);
        Assert.InRange(long.Parse(tc.Call("PTTL", "t")[1..].TrimEnd()), 90_000, 100_000);
        string payload = RespConnection.Latin1(c.CallRaw(new[] { "DUMP"u8.ToArray(), "k3"u8.ToArray() }));
        var dump = Encoding.Latin1.GetBytes(payload[(payload.IndexOf('\n') + 1)..^2]);
        Assert.Equal("+OK\r\n", RespConnection.Latin1(c.CallRaw(new[] { "RESTORE"u8.ToArray(), "r"u8.ToArray(), "50000"u8.ToArray(), dump })));
        while (!seen.Contains("RESTORE")) seen = RespConnection.Latin1(monitor.ReadReply());
        Assert.Matches("\"RESTORE\" \"r\" \"\\d{13}\" .* \"ABSTTL\"", seen);
        Assert.True(Env.WaitUntil(() => rc.Call("PTTL", "r") is var p && p.StartsWith(":4"), Long, 20));
    }

    // ------------------------------------------------------------------------------------------------ resharding

    /// <summary>StackExchange.Redis SETs of keys spread over every slot; remembers what was acknowledged.</summary>
    sealed class ClusterWriter : IDisposable
    {
        public readonly ConcurrentDictionary<string, string> Acked = new();
        public int Errors;
        public string LastError;
        readonly ConnectionMultiplexer mux;
        readonly CancellationTokenSource stop = new();
        readonly Task task;

        public ClusterWriter(IEnumerable<int> ports)
        {
            var config = new ConfigurationOptions { AbortOnConnectFail = false, ConnectTimeout = 3000, SyncTimeout = 3000 };
            foreach (var p in ports) config.EndPoints.Add("127.0.0.1", p);
            mux = ConnectionMultiplexer.Connect(config);
            var db = mux.GetDatabase();
            task = Task.Run(() =>
            {
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    string key = "mig:" + i, value = "v" + i;
                    try
                    {
                        if (db.StringSet(key, value)) Acked[key] = value;
                    }
                    catch (Exception e) when (e is RedisException or TimeoutException)
                    {
                        Interlocked.Increment(ref Errors);
                        LastError = e.Message;
                    }
                }
            });
        }

        public void Stop()
        {
            stop.Cancel();
            Assert.True(task.Wait(Long));
        }

        /// <summary>
        /// Every acknowledged key read back through the cluster (a new client, whose slot map is the cluster's now: the
        /// writer's may still send a slot to a node that left): the ones missing or changed.
        /// </summary>
        public List<string> Lost(IEnumerable<int> ports)
        {
            var config = new ConfigurationOptions { AbortOnConnectFail = false, ConnectTimeout = 3000, SyncTimeout = 3000 };
            foreach (var p in ports) config.EndPoints.Add("127.0.0.1", p);
            using var reader = ConnectionMultiplexer.Connect(config);
            var db = reader.GetDatabase();
            var lost = new List<string>();
            foreach (var (key, value) in Acked)
            {
                RedisValue got = default;
                for (int attempt = 0; attempt < 3; attempt++)
                {
                    try { got = db.StringGet(key); break; }
                    catch (Exception e) when (e is RedisException or TimeoutException) { }
                }
                if (got != value) lost.Add(key + "=" + got);
            }
            return lost;
        }

        public void Dispose()
        {
            stop.Cancel();
            mux.Dispose();
        }
    }

    static string Addr(ClusterNodeProcess n) => "127.0.0.1:" + n.Port;

    readonly List<string> history = new();
    ClusterWriter currentWriter;

    void Cli(params string[] args) => CliWithInput(null, args);

    void CliWithInput(string stdin, params string[] args)
    {
        var sw = Stopwatch.StartNew();
        var (code, text) = RedisCliWithInput(stdin, args);
        output.WriteLine($"redis-cli {string.Join(' ', args.Take(3))}...: exit {code}, {sw.Elapsed.TotalSeconds:F1} s");
        if (currentWriter != null) history.Add(args[1] + " done at write " + currentWriter.Acked.Count);
        Assert.True(code == 0, string.Join(' ', args) + "\n" + Tail(text));
        if (args[1] != "fix") Assert.DoesNotContain("[ERR]", text);   // fix prints the problems it then fixes
    }

    static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;

    void CheckClean(ClusterNodeProcess any, IEnumerable<ClusterNodeProcess> nodes)
    {
        // The other nodes learn a SETSLOT NODE from the bus; check agrees once they have.
        Assert.True(Env.WaitUntil(() => RedisCli("--cluster", "check", Addr(any)).code == 0, Long, 200),
            Tail(RedisCli("--cluster", "check", Addr(any)).output) + "\n" + TestCluster.Describe(nodes));
    }

    static int SlotCount(ClusterNodeProcess n)
    {
        var line = n.Nodes()[n.Id];
        int count = 0;
        foreach (var r in line.Slots.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (r.StartsWith('[')) continue;
            var p = r.Split('-');
            count += int.Parse(p[^1]) - int.Parse(p[0]) + 1;
        }
        return count;
    }

    /// <summary>A slot the node owns that holds at least <paramref name="minKeys"/> keys.</summary>
    static int SlotWithKeys(ClusterNodeProcess n, int minKeys)
    {
        var line = n.Nodes()[n.Id];
        foreach (var r in line.Slots.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (r.StartsWith('[')) continue;
            var p = r.Split('-');
            for (int s = int.Parse(p[0]); s <= int.Parse(p[^1]); s++)
                if (long.Parse(n.Call("CLUSTER", "COUNTKEYSINSLOT", s.ToString())[1..].TrimEnd()) >= minKeys) return s;
        }
        throw new InvalidOperationException("no slot with keys on " + n.Name);
    }

    /// <summary>
    /// Three masters of the given kinds plus two spare nodes; under a StackExchange.Redis writer: reshard master 0 →
    /// 1 and 1 → 2, rebalance, add a spare as master and the other as its replica, reshard slots to the new master,
    /// open a slot half-way (SETSLOT IMPORTING/MIGRATING and MIGRATE of some keys) and let fix close it, move
    /// everything off the new master and del-node both spares. No acknowledged write may be lost.
    /// </summary>
    void ReshardScenario(bool[] redis)
    {
        using var cluster = new TestCluster();
        var masters = Enumerable.Range(0, 3).Select(i => cluster.Add(redis[i], NodeTimeout)).ToArray();
        cluster.Form(Long);
        using var spare = new ClusterNodeProcess(redis[3], NodeTimeout);
        using var spareReplica = new ClusterNodeProcess(redis[4], NodeTimeout);
        var all = masters.Append(spare).Append(spareReplica).ToList();
        output.WriteLine(string.Join(", ", all.Select(n => n.Name)));
        string[] ids = masters.Select(m => m.Id).ToArray();

        using var writer = new ClusterWriter(masters.Select(m => m.Port));
        currentWriter = writer;
        Assert.True(Env.WaitUntil(() => writer.Acked.Count >= 2000, Long, 20), "writer made no progress: " + writer.LastError);

        Cli("--cluster", "reshard", Addr(masters[0]), "--cluster-from", ids[0], "--cluster-to", ids[1], "--cluster-slots", "700", "--cluster-yes");
        CheckClean(masters[0], masters);
        Cli("--cluster", "reshard", Addr(masters[1]), "--cluster-from", ids[1], "--cluster-to", ids[2], "--cluster-slots", "1400", "--cluster-yes");
        CheckClean(masters[0], masters);
        Cli("--cluster", "rebalance", Addr(masters[2]), "--cluster-yes");
        CheckClean(masters[0], masters);
        Assert.InRange(SlotCount(masters[0]), 5300, 5600);

        Cli("--cluster", "add-node", Addr(spare), Addr(masters[0]));
        Assert.True(Env.WaitUntil(() => masters.All(m => m.Nodes().ContainsKey(spare.Id)) && spare.Nodes().Count == 4, Long, 100));
        CheckClean(masters[1], all.Take(4));   // add-node checks the cluster first: the new node must know every slot
        string spareId = spare.Id;
        Cli("--cluster", "add-node", Addr(spareReplica), Addr(masters[1]), "--cluster-slave", "--cluster-master-id", spareId);
        Assert.True(Env.WaitUntil(() => spareReplica.ReplicaLinkUp, Long, 100), TestCluster.Describe(all));
        Cli("--cluster", "reshard", Addr(masters[0]), "--cluster-from", ids[0], "--cluster-to", spareId, "--cluster-slots", "300", "--cluster-yes");
        CheckClean(masters[0], all);
        Assert.Equal(300, SlotCount(spare));

        // A slot left open half-way between two masters (as a killed reshard leaves it); fix finishes the move.
        int slot = SlotWithKeys(masters[1], 2);
        Assert.Equal("+OK\r\n", masters[2].Call("CLUSTER", "SETSLOT", slot.ToString(), "IMPORTING", ids[1]));
        Assert.Equal("+OK\r\n", masters[1].Call("CLUSTER", "SETSLOT", slot.ToString(), "MIGRATING", ids[2]));
        string firstKey = masters[1].CallText("CLUSTER", "GETKEYSINSLOT", slot.ToString(), "1");
        firstKey = firstKey.Split("\r\n")[2];
        Assert.Equal("+OK\r\n", masters[1].Call("MIGRATE", "127.0.0.1", masters[2].Port.ToString(), firstKey, "0", "5000"));
        Assert.NotEqual(0, RedisCli("--cluster", "check", Addr(masters[0])).code);
        Cli("--cluster", "fix", Addr(masters[0]), "--cluster-yes");
        CheckClean(masters[0], all);

        int spareSlots = SlotCount(spare);
        Cli("--cluster", "reshard", Addr(masters[0]), "--cluster-from", spareId, "--cluster-to", ids[0], "--cluster-slots", spareSlots.ToString(), "--cluster-yes");
        CheckClean(masters[0], all);
        string spareKeys = spare.Call("DBSIZE");
        output.WriteLine($"spare after the reshard: {spareKeys.TrimEnd()} keys, a few: {spare.Call("RANDOMKEY").TrimEnd()}; role {spare.ReplicationInfo("role")}");
        Cli("--cluster", "del-node", Addr(masters[0]), spareReplica.Id);
        Cli("--cluster", "del-node", Addr(masters[0]), spareId);
        Assert.True(Env.WaitUntil(() => masters.All(m => m.Nodes().Count == 3), Long, 100), TestCluster.Describe(masters));
        CheckClean(masters[0], masters);

        writer.Stop();
        var lost = writer.Lost(masters.Select(m => m.Port));
        output.WriteLine($"acknowledged writes {writer.Acked.Count}, errors {writer.Errors} ({writer.LastError}), lost {lost.Count}");
        if (lost.Count > 0)
        {
            var idx = lost.Select(l => int.Parse(l[4..l.IndexOf('=')])).OrderBy(i => i).ToList();
            var slots = lost.Select(l => KeySlot.Of(Encoding.ASCII.GetBytes(l[..l.IndexOf('=')]))).Distinct().OrderBy(x => x).ToList();
            output.WriteLine($"lost key indexes {idx[0]}..{idx[^1]} of {writer.Acked.Count}; {slots.Count} slots: {string.Join(' ', slots.Take(40))}");
            foreach (int sl in slots.Take(3))
                output.WriteLine($"slot {sl}: " + string.Join(", ", masters.Select(m => m.Name + " " + m.Call("CLUSTER", "COUNTKEYSINSLOT", sl.ToString()).TrimEnd())));
            output.WriteLine("slot history: " + string.Join(" | ", history));
            foreach (var n in all.Where(n => !n.IsRedis))
                output.WriteLine(n.Name + ":\n" + string.Join("\n", n.Output.Split('\n').TakeLast(40)));
        }
        Assert.True(lost.Count == 0, "lost: " + string.Join(", ", lost.Take(20)));
        Assert.True(writer.Acked.Count > 5000);
        long total = masters.Sum(m => long.Parse(m.Call("DBSIZE")[1..].TrimEnd()));
        Assert.InRange(total, writer.Acked.Count, writer.Acked.Count + writer.Errors + 1);
    }

    [Fact]
    public void RedisCliReshardsACinnabarClusterUnderWritesWithoutLosingKeys() =>
        ReshardScenario(new[] { false, false, false, false, false });

    /// <summary>Keys move Cinnabar → Redis (0 → 1, and to the redis-server spare) and Redis → Cinnabar (1 → 2).</summary>
    [Fact]
    public void RedisCliReshardsAMixedClusterUnderWritesWithoutLosingKeys() =>
        ReshardScenario(new[] { false, true, false, true, false });

    [Fact]
    public void FixCoversAnUnassignedSlot()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 3; i++) cluster.Add(i == 1, NodeTimeout);
        cluster.Form(Long);
        var owner = cluster.Nodes[0];
        foreach (var n in cluster.Nodes) Assert.Equal("+OK\r\n", n.Call("CLUSTER", "DELSLOTS", "7"));   // unassigned everywhere
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => !n.StateOk), Long, 50));
        var (code, text) = RedisCli("--cluster", "check", Addr(owner));
        Assert.NotEqual(0, code);
        Assert.Contains("[ERR] Not all 16384 slots are covered by nodes.", text);
        CliWithInput("yes\n", "--cluster", "fix", Addr(owner));
        cluster.WaitAllOk(Long);
        CheckClean(owner, cluster.Nodes);
        Assert.Equal(1, cluster.Nodes.Count(n => n.Nodes()[n.Id].Slots.Split(' ').Any(r => r == "7" || r.StartsWith("7-") || r.EndsWith("-7") || InRange(r, 7))));
    }

    static bool InRange(string r, int slot)
    {
        var p = r.Split('-');
        return p.Length == 2 && int.TryParse(p[0], out int a) && int.TryParse(p[1], out int b) && slot >= a && slot <= b;
    }
}
