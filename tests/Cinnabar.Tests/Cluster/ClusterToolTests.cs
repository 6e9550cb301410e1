using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// cinnabar cluster ... against real clusters (redis-server 7.0 and Cinnabar), side by side with redis-cli --cluster:
/// the same findings and exit codes on broken clusters, repairs that redis-cli's check then accepts, create, and
/// reshard/rebalance moving every key while a client keeps writing.
/// </summary>
public sealed class ClusterToolTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    readonly ITestOutputHelper log;
    public ClusterToolTests(ITestOutputHelper log) => this.log = log;

    static (int code, string output) Exec(string exe, IEnumerable<string> args, int timeoutMs = 120_000) => Tools.Run(exe, args, timeoutMs: timeoutMs);

    static (int code, string output) Tool(params string[] args) => Exec(Env.CinnabarCli, new[] { "cluster" }.Concat(args));
    static (int code, string output) RedisCli(params string[] args) => Exec("redis-cli", new[] { "--cluster" }.Concat(args));
    static string Addr(ClusterNodeProcess n) => "127.0.0.1:" + n.Port;

    /// <summary>The [ERR]/[WARNING] lines, with slot lists sorted (redis-cli prints them in hash order).</summary>
    static SortedSet<string> Findings(string output) => new(output.Split('\n')
        .Select(l => l.TrimEnd('\r'))
        .Where(l => l.StartsWith("[ERR]") || l.StartsWith("[WARNING]"))
        .Select(l => Regex.Replace(l, @"(state |open: )([0-9,]+)\.$", m =>
            m.Groups[1].Value + string.Join(",", m.Groups[2].Value.Split(',').Select(int.Parse).OrderBy(x => x)) + ".")));

    /// <summary>Both tools check the cluster: same exit code, same findings. Returns cinnabar's output.</summary>
    string CheckBothAgree(ClusterNodeProcess seed, string what, bool searchOwners = false)
    {
        var extra = searchOwners ? new[] { "--cluster-search-multiple-owners" } : Array.Empty<string>();
        var (rc, rout) = RedisCli(new[] { "check", Addr(seed) }.Concat(extra).ToArray());
        var (cc, cout) = Tool(new[] { "check", Addr(seed) }.Concat(extra).ToArray());
        log.WriteLine($"--- {what}: redis-cli {rc}, cinnabar {cc}\n{cout}");
        Assert.True(rc == cc, $"{what}: exit codes differ (redis-cli {rc}, cinnabar {cc})\nredis-cli:\n{rout}\ncinnabar:\n{cout}");
        Assert.True(Findings(rout).SetEquals(Findings(cout)),
            $"{what}: findings differ\nredis-cli: {string.Join(" | ", Findings(rout))}\ncinnabar: {string.Join(" | ", Findings(cout))}");
        return cout;
    }

    /// <summary>After a repair the bus needs a moment to carry the new owners everywhere: redis-cli's check must pass.</summary>
    void WaitRedisCliCheckPasses(ClusterNodeProcess seed, string what)
    {
        string last = "";
        bool ok = Env.WaitUntil(() =>
        {
            var (code, output) = RedisCli("check", Addr(seed));
            last = output;
            return code == 0;
        }, Long, 250);
        Assert.True(ok, $"{what}: redis-cli --cluster check still fails after the fix:\n{last}");
    }

    static TestCluster ThreeMasters(bool redis, int nodeTimeoutMs = 2000, int count = 3)
    {
        var cluster = new TestCluster();
        for (int i = 0; i < count; i++) cluster.Add(redis, nodeTimeoutMs);
        cluster.Form(Long);
        return cluster;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ClusterToolCheckAgreesWithRedisCliOnBrokenClustersAndFixRepairs(bool redis)
    {
        using var cluster = ThreeMasters(redis);
        var (a, b, c) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        string idA = a.Id, idB = b.Id, idC = c.Id;

        var healthy = CheckBothAgree(a, "healthy");
        Assert.Contains("[OK] All nodes agree about slots configuration.", healthy);
        Assert.Contains("[OK] All 16384 slots covered.", healthy);

        // Slots dropped by their owner only: the others still name it (disagreement) and nobody claims them.
        Assert.Equal("+OK\r\n", b.Call("CLUSTER", "DELSLOTS", "6000", "6001", "6002"));
        var o = CheckBothAgree(a, "DELSLOTS on one node");
        Assert.Contains("[ERR] Not all 16384 slots are covered by nodes.", o);
        var (fc, fo) = Tool("fix", Addr(a), "--cluster-yes");
        Assert.True(fc == 0, fo);
        WaitRedisCliCheckPasses(a, "DELSLOTS on one node");

        // A move left open: migrating on its owner, importing on another node.
        Assert.Equal("+OK\r\n", a.Call("CLUSTER", "SETSLOT", "100", "MIGRATING", idB));
        Assert.Equal("+OK\r\n", b.Call("CLUSTER", "SETSLOT", "100", "IMPORTING", idA));
        o = CheckBothAgree(a, "slot 100 left open");
        Assert.Contains("[WARNING] The following slots are open: 100.", o);
        (fc, fo) = Tool("fix", Addr(a), "--cluster-yes");
        Assert.True(fc == 0, fo);
        WaitRedisCliCheckPasses(a, "slot 100 left open");

        // A slot importing on two nodes at once, and another migrating on a node that does not own it.
        Assert.Equal("+OK\r\n", b.Call("CLUSTER", "SETSLOT", "12000", "IMPORTING", idC));
        Assert.Equal("+OK\r\n", a.Call("CLUSTER", "SETSLOT", "12000", "IMPORTING", idC));
        o = CheckBothAgree(a, "slot importing on two nodes");
        Assert.Contains("[WARNING] The following slots are open: 12000.", o);
        (fc, fo) = Tool("fix", Addr(a), "--cluster-yes");
        Assert.True(fc == 0, fo);
        WaitRedisCliCheckPasses(a, "slot importing on two nodes");
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.StateOk), Long));

        // A master killed with -9: its slots are uncovered; fix refuses without --cluster-fix-with-unreachable-masters.
        c.Kill9();
        o = CheckBothAgree(a, "master killed");
        Assert.Contains("[ERR] Not all 16384 slots are covered by nodes.", o);
        (fc, fo) = Tool("fix", Addr(a), "--cluster-yes");
        Assert.Equal(1, fc);
        Assert.Contains("--cluster-fix-with-unreachable-masters", fo);
        var (rc, ro) = RedisCli("fix", Addr(a), "--cluster-yes");
        Assert.Equal(1, rc);
        Assert.Contains("--cluster-fix-with-unreachable-masters", ro);
        // Once the master is back, both agree again.
        c.Start();
        Assert.True(Env.WaitUntil(() => RedisCli("check", Addr(a)).code == 0, Long, 250), TestCluster.Describe(cluster.Nodes));
        CheckBothAgree(a, "master back");
    }

    /// <summary>
    /// The other ways the doctor's tests break a cluster: settings that differ (neither check looks at them), a node
    /// busy in a script (both report it unreadable and its slots uncovered), and a node frozen with SIGSTOP, where
    /// redis-cli's check waits forever on the silent node while cinnabar gives up on it after its timeout and reports
    /// the same finding the busy case gives.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ClusterToolCheckAgreesOnMisconfiguredBusyAndFrozenNodes(bool redis)
    {
        using var cluster = ThreeMasters(redis);
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);

        Assert.Equal("+OK\r\n", b.Call("CONFIG", "SET", "cluster-node-timeout", "3000"));
        Assert.Equal("+OK\r\n", b.Call("CONFIG", "SET", "cluster-require-full-coverage", "no"));
        var o = CheckBothAgree(a, "settings that differ");
        Assert.Contains("[OK] All 16384 slots covered.", o);

        Assert.Equal("+OK\r\n", b.Call("CONFIG", "SET", "busy-reply-threshold", "100"));
        using (var busy = new RespConnection(b.Port, TimeSpan.FromSeconds(30)))
        {
            busy.Send(RespConnection.Encode(new[] { "EVAL", "local i = 0 while true do i = i + 1 end", "0" }
                .Select(System.Text.Encoding.ASCII.GetBytes).ToArray()));
            Assert.True(Env.WaitUntil(() => b.Call("PING").StartsWith("-BUSY"), Long, 50));
            o = CheckBothAgree(a, "a node busy in a script");
            Assert.Contains("[ERR] Unable to load info for node " + Addr(b), o);
            Assert.Contains("[ERR] Not all 16384 slots are covered by nodes.", o);
            Assert.Equal("+OK\r\n", b.Call("SCRIPT", "KILL"));
        }
        WaitRedisCliCheckPasses(a, "after SCRIPT KILL");

        b.Freeze();
        try
        {
            var clock = Stopwatch.StartNew();
            var (cc, co) = Tool("check", Addr(a));
            Assert.Equal(1, cc);
            Assert.Contains("[ERR] Not all 16384 slots are covered by nodes.", co);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"cinnabar check took {clock.Elapsed}");
            var (rc, _) = Exec("redis-cli", new[] { "--cluster", "check", Addr(a) }, timeoutMs: 8000);
            Assert.NotEqual(0, rc);   // killed after 8 s: redis-cli is still waiting for the frozen node
        }
        finally
        {
            b.Thaw();
        }
        WaitRedisCliCheckPasses(a, "after SIGCONT");
    }

    /// <summary>
    /// A slot importing on two nodes that both took keys (ASKING), besides its owner's: redis-cli's "case 2";
    /// and a move interrupted half way (some keys moved): finished. Every key survives, in the right place.
    /// </summary>
    [Fact]
    public void ClusterToolFixRepairsOpenSlotsHoldingKeysOnSeveralNodes()
    {
        using var cluster = ThreeMasters(redis: true);
        var (a, b, c) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        string idA = a.Id, idB = b.Id;
        // slot 0 is a's: keys on a, and on b and c which import it.
        Assert.Equal("+OK\r\n", a.Call("SET", "{06S}a", "1"));
        foreach (var (n, key) in new[] { (b, "{06S}b"), (c, "{06S}c") })
        {
            Assert.Equal("+OK\r\n", n.Call("CLUSTER", "SETSLOT", "0", "IMPORTING", idA));
            using var conn = new RespConnection(n.Port);
            Assert.Equal("+OK\r\n", conn.Call("ASKING"));
            Assert.Equal("+OK\r\n", conn.Call("SET", key, "1"));
        }
        // slot 1 ("{Qi}" hashes there) half moved from a to b: two keys moved, two not.
        for (int i = 0; i < 4; i++) Assert.Equal("+OK\r\n", a.Call("SET", "{Qi}" + i, i.ToString()));
        Assert.Equal("+OK\r\n", b.Call("CLUSTER", "SETSLOT", "1", "IMPORTING", idA));
        Assert.Equal("+OK\r\n", a.Call("CLUSTER", "SETSLOT", "1", "MIGRATING", idB));
        Assert.Equal("+OK\r\n", a.Call("MIGRATE", "127.0.0.1", b.Port.ToString(), "", "0", "5000", "KEYS", "{Qi}0", "{Qi}1"));

        var o = CheckBothAgree(a, "open slots with keys");
        Assert.Contains("[WARNING] The following slots are open: 0,1.", o);
        var (fc, fo) = Tool("fix", Addr(a), "--cluster-yes");
        log.WriteLine(fo);
        Assert.True(fc == 0, fo);
        WaitRedisCliCheckPasses(a, "open slots with keys");
        foreach (var k in new[] { "{06S}a", "{06S}b", "{06S}c" }) Assert.Equal("$1\r\n1\r\n", a.Call("GET", k));
        Assert.Equal(":0\r\n", b.Call("CLUSTER", "COUNTKEYSINSLOT", "0"));
        Assert.Equal(":0\r\n", c.Call("CLUSTER", "COUNTKEYSINSLOT", "0"));
        // The interrupted move was finished: slot 1 and its four keys are b's.
        Assert.Equal(":4\r\n", b.Call("CLUSTER", "COUNTKEYSINSLOT", "1"));
        Assert.Equal($"-MOVED 1 127.0.0.1:{b.Port}\r\n", a.Call("GET", "{Qi}0"));
        Assert.Equal("$1\r\n3\r\n", b.Call("GET", "{Qi}3"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ClusterToolCreateMakesAClusterRedisCliAccepts(int replicas)
    {
        using var cluster = new TestCluster();
        int count = 3 * (replicas + 1);
        for (int i = 0; i < count; i++) cluster.Add(redis: false, nodeTimeoutMs: 2000);
        var args = new List<string> { "create" };
        args.AddRange(cluster.Nodes.Select(Addr));
        args.AddRange(new[] { "--cluster-replicas", replicas.ToString(), "--cluster-yes" });
        var (code, output) = Tool(args.ToArray());
        log.WriteLine(output);
        Assert.True(code == 0, output);
        Assert.Contains("[OK] All 16384 slots covered.", output);
        cluster.WaitAllOk(Long);
        var (rc, ro) = RedisCli("check", Addr(cluster.Nodes[0]));
        Assert.True(rc == 0, ro);
        Assert.Equal(replicas * 3, Regex.Matches(ro, "^S: ", RegexOptions.Multiline).Count);
        Assert.Equal(3, Regex.Matches(ro, "^M: ", RegexOptions.Multiline).Count);
        if (replicas > 0)
            Assert.True(Env.WaitUntil(() => cluster.Nodes.Count(n => n.ReplicaLinkUp) == 3, Long), TestCluster.Describe(cluster.Nodes));
        // And a second create on the same nodes is refused: they are not empty.
        var again = Tool(args.ToArray());
        Assert.Equal(1, again.code);
        Assert.Contains("is not empty", again.output);
    }

    /// <summary>Keys written through a cluster client (MOVED/ASK followed) while slots move; every acknowledged write is checked after.</summary>
    sealed class Writer : IDisposable
    {
        readonly ConnectionMultiplexer mux;
        readonly Thread thread;
        volatile bool stop;
        public readonly ConcurrentDictionary<string, string> Acked = new();
        public int Errors;

        public Writer(int port)
        {
            var config = new ConfigurationOptions { AbortOnConnectFail = false, ConnectTimeout = 2000, SyncTimeout = 2000 };
            config.EndPoints.Add("127.0.0.1", port);
            mux = ConnectionMultiplexer.Connect(config);
            thread = new Thread(() =>
            {
                var db = mux.GetDatabase();
                for (int i = 0; !stop; i++)
                {
                    string key = "w:" + i, value = "v" + i;
                    try
                    {
                        if (db.StringSet(key, value)) Acked[key] = value;
                    }
                    catch (Exception) { Interlocked.Increment(ref Errors); }
                }
            }) { IsBackground = true };
            thread.Start();
        }

        public IDatabase Db => mux.GetDatabase();
        public void Stop() { stop = true; thread.Join(30_000); }
        public void Dispose() { Stop(); mux.Dispose(); }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ClusterToolReshardAndRebalanceMoveEveryKeyWhileAClientWrites(bool redis)
    {
        using var cluster = ThreeMasters(redis);
        var seed = cluster.Nodes[0];
        // Keys in every slot range first.
        using (var conn = new RespConnection(seed.Port))
            for (int i = 0; i < 3000; i++)
            {
                var r = conn.Call("SET", "pre:" + i, i.ToString());
                if (r.StartsWith("-MOVED"))
                {
                    var port = int.Parse(r.Split(':').Last().Trim());
                    cluster.Nodes.First(n => n.Port == port).Call("SET", "pre:" + i, i.ToString());
                }
            }
        // A fourth, empty master joins through add-node.
        var fresh = cluster.Add(redis, 2000);
        var (ac, ao) = Tool("add-node", Addr(fresh), Addr(seed));
        Assert.True(ac == 0, ao);
        Assert.Contains("[OK] New node added correctly.", ao);
        cluster.WaitAllOk(Long);
        string freshId = fresh.Id;

        using var writer = new Writer(seed.Port);
        Assert.True(Env.WaitUntil(() => writer.Acked.Count > 200, Long), "the writer is not writing");
        var (rc, ro) = Tool("reshard", Addr(seed), "--cluster-from", "all", "--cluster-to", freshId, "--cluster-slots", "1200",
            "--cluster-yes", "--cluster-pipeline", "7");
        log.WriteLine(string.Join("\n", ro.Split('\n').Where(l => !l.StartsWith("    Moving slot") && !l.StartsWith("Moving slot")).Take(40)));
        Assert.True(rc == 0, ro);
        Assert.Contains("Progress: 1200/1200 slots", ro);
        Assert.True(Env.WaitUntil(() => RedisCli("check", Addr(seed)).code == 0, Long, 250), RedisCli("check", Addr(seed)).output);
        Assert.Equal("1200", Regex.Match(RedisCli("check", Addr(seed)).output, freshId + @" 127\.0\.0\.1:\d+\n   slots:.*\((\d+) slots\)").Groups[1].Value);

        var (bc, bo) = Tool("rebalance", Addr(seed), "--cluster-threshold", "1", "--cluster-pipeline", "13");
        log.WriteLine(string.Join("\n", bo.Split('\n').Where(l => !l.StartsWith("Moving slot")).Take(40)));
        Assert.True(bc == 0, bo);
        Assert.Contains(">>> Rebalancing across 4 nodes. Total weight = 4.00", bo);
        int written = writer.Acked.Count;
        Assert.True(Env.WaitUntil(() => writer.Acked.Count > written + 100, Long), "the writer stopped writing");
        writer.Stop();
        Assert.True(Env.WaitUntil(() => RedisCli("check", Addr(seed)).code == 0, Long, 250), RedisCli("check", Addr(seed)).output);
        var (ic, io) = RedisCli("info", Addr(seed));
        foreach (Match m in Regex.Matches(io, @"\| (\d+) slots \|")) Assert.InRange(int.Parse(m.Groups[1].Value), 4096 - 82, 4096 + 82);

        // Nothing lost: every acknowledged write and every preloaded key reads back, and the masters hold exactly those.
        var db = writer.Db;
        foreach (var (k, v) in writer.Acked) Assert.Equal(v, (string)db.StringGet(k));
        for (int i = 0; i < 3000; i++) Assert.Equal(i.ToString(), (string)db.StringGet("pre:" + i));
        long total = cluster.Nodes.Sum(n => long.Parse(n.Call("DBSIZE").Trim(':', '\r', '\n')));
        long unacked = total - 3000 - writer.Acked.Count;
        Assert.InRange(unacked, 0, writer.Errors + 1);   // a write that timed out may still have landed
        log.WriteLine($"{writer.Acked.Count} acknowledged writes during the moves, {writer.Errors} client errors");
    }

    /// <summary>A node's view of roles and slots (what the tool changes), without the fields gossip moves on its own.</summary>
    static string Stable(ClusterNodeProcess n) => string.Join("\n", n.CallText("CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(l => { var f = l.Split(' '); return string.Join(' ', new[] { f[0], f[2].Contains("slave") ? "slave" : "master", f[3] }.Concat(f.Skip(8))); }).OrderBy(l => l));

    static long CommandCalls(ClusterNodeProcess n, string name)
    {
        var m = Regex.Match(n.CallText("INFO", "commandstats"), "^cmdstat_" + Regex.Escape(name) + ":calls=(\\d+)", RegexOptions.Multiline);
        return m.Success ? long.Parse(m.Groups[1].Value) : 0;
    }

    [Fact]
    public void ClusterToolDryRunSendsNothing()
    {
        using var cluster = ThreeMasters(redis: true, count: 4);
        var (a, b, c, d) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2], cluster.Nodes[3]);
        for (int i = 0; i < 50; i++) Assert.Equal("+OK\r\n", a.Call("SET", "{06S}" + i, "x"));
        // Broken on purpose: an open slot, uncovered slots; and d emptied so del-node has something to remove.
        Assert.Equal("+OK\r\n", b.Call("CLUSTER", "SETSLOT", "100", "IMPORTING", a.Id));
        Assert.Equal("+OK\r\n", c.Call("CLUSTER", "DELSLOTS", "9000", "9001"));
        var before = cluster.Nodes.Select(Stable).ToList();
        var keysBefore = cluster.Nodes.Select(n => n.Call("DBSIZE")).ToList();
        string[] watched = { "cluster|setslot", "cluster|addslots", "cluster|bumpepoch", "cluster|forget", "cluster|reset", "migrate", "restore-asking", "cluster|replicate", "cluster|meet" };
        var callsBefore = cluster.Nodes.Select(n => watched.Sum(w => CommandCalls(n, w))).ToList();

        var (fc, fo) = Tool("fix", Addr(a), "--cluster-yes", "--dry-run");
        Assert.Contains("[dry-run] " + Addr(b) + ": CLUSTER SETSLOT 100 STABLE", fo);
        Assert.Contains(": CLUSTER SETSLOT 9000 NODE ", fo);

        // reshard refuses a broken cluster (as redis-cli does), dry run or not.
        var (rc, ro) = Tool("reshard", Addr(a), "--cluster-from", a.Id, "--cluster-to", d.Id, "--cluster-slots", "10", "--cluster-yes", "--dry-run");
        Assert.Equal(1, rc);
        Assert.Contains("Please fix your cluster problems", ro);

        var (dc, dout) = Tool("del-node", Addr(a), d.Id, "--dry-run");
        Assert.Equal(1, dc);   // d owns slots: refused before anything is printed to send
        Assert.DoesNotContain("[dry-run]", dout);

        Assert.Equal(before, cluster.Nodes.Select(Stable).ToList());
        Assert.Equal(keysBefore, cluster.Nodes.Select(n => n.Call("DBSIZE")).ToList());
        Assert.Equal(callsBefore, cluster.Nodes.Select(n => watched.Sum(w => CommandCalls(n, w))).ToList());

        // Repaired for real, then reshard / rebalance / del-node dry runs on a healthy cluster.
        var (fc2, fo2) = Tool("fix", Addr(a), "--cluster-yes");
        Assert.True(fc2 == 0, fo2);
        WaitRedisCliCheckPasses(a, "after the real fix");
        before = cluster.Nodes.Select(Stable).ToList();
        callsBefore = cluster.Nodes.Select(n => watched.Sum(w => CommandCalls(n, w))).ToList();

        (rc, ro) = Tool("reshard", Addr(a), "--cluster-from", a.Id, "--cluster-to", d.Id, "--cluster-slots", "3", "--cluster-yes", "--dry-run", "--cluster-pipeline", "20");
        Assert.True(rc == 0, ro);
        Assert.Contains($"[dry-run] {Addr(d)}: CLUSTER SETSLOT 0 IMPORTING {a.Id}", ro);
        Assert.Contains($"[dry-run] {Addr(a)}: CLUSTER SETSLOT 0 MIGRATING {d.Id}", ro);
        Assert.Contains($"[dry-run] {Addr(a)}: MIGRATE 127.0.0.1 {d.Port} \"\" 0 60000 KEYS ", ro);
        Assert.Equal(3, Regex.Matches(ro, "MIGRATE 127").Count);   // 50 keys of slot 0 in batches of 20
        var (bc, bo) = Tool("rebalance", Addr(a), "--cluster-weight", d.Id + "=3", "--dry-run");
        Assert.True(bc == 0, bo);
        Assert.Contains("CLUSTER SETSLOT", bo);
        var (sc, so) = Tool("rebalance", Addr(a), "--cluster-weight", d.Id + "=3", "--cluster-simulate");
        Assert.True(sc == 0, so);
        Assert.DoesNotContain("[dry-run]", so);

        Assert.Equal(before, cluster.Nodes.Select(Stable).ToList());
        Assert.Equal(callsBefore, cluster.Nodes.Select(n => watched.Sum(w => CommandCalls(n, w))).ToList());
    }

    /// <summary>A MEET to an address where nothing listens leaves a handshake node behind; fix forgets it.</summary>
    [Fact]
    public void ClusterToolFixForgetsHandshakeLeftovers()
    {
        using var cluster = ThreeMasters(redis: true, nodeTimeoutMs: 30_000);
        var a = cluster.Nodes[0];
        int nobody = Env.FreePort();
        Assert.Equal("+OK\r\n", a.Call("CLUSTER", "MEET", "127.0.0.1", nobody.ToString()));
        Assert.Contains("handshake", a.CallText("CLUSTER", "NODES"));
        var (cc, co) = Tool("check", Addr(a));
        Assert.Equal(0, cc);   // redis-cli's verdict too: a handshake is not a slot problem
        Assert.Contains("handshake that never completed", co);
        var (fc, fo) = Tool("fix", Addr(a), "--cluster-yes");
        Assert.True(fc == 0, fo);
        Assert.Contains("CLUSTER FORGET", fo.Replace(">>> Forgetting", "CLUSTER FORGET"));
        Assert.DoesNotContain("handshake", a.CallText("CLUSTER", "NODES"));
    }

    [Fact]
    public void ClusterToolCallInfoSetTimeoutAddNodeReshardAndDelNode()
    {
        using var cluster = ThreeMasters(redis: false);
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        var (cc, co) = Tool("call", Addr(a), "CLUSTER", "COUNTKEYSINSLOT", "0");
        Assert.Equal(0, cc);
        Assert.Equal(3, Regex.Matches(co, @"^127\.0\.0\.1:\d+: 0$", RegexOptions.Multiline).Count);
        var (ic, io) = Tool("info", Addr(a));
        Assert.Equal(0, ic);
        Assert.Contains("[OK] 0 keys in 3 masters.", io);
        var (tc, to) = Tool("set-timeout", Addr(a), "3000");
        Assert.Equal(0, tc);
        Assert.Contains(">>> New node timeout set.", to);
        // A few empty slots from a to b (Cinnabar nodes, no keys: the move needs no MIGRATE).
        var (rc, ro) = Tool("reshard", Addr(a), "--cluster-from", a.Id, "--cluster-to", b.Id, "--cluster-slots", "20", "--cluster-yes");
        Assert.True(rc == 0, ro);
        Assert.True(Env.WaitUntil(() => RedisCli("check", Addr(a)).code == 0, Long, 250), RedisCli("check", Addr(a)).output);
        Assert.Contains("(5441 slots)", RedisCli("check", Addr(a)).output);
        // A fourth node joins as a replica (add-node --cluster-slave), then leaves (del-node).
        var d = cluster.Add(false, 2000);
        var (ac, ao) = Tool("add-node", Addr(d), Addr(a), "--cluster-slave", "--cluster-master-id", b.Id);
        Assert.True(ac == 0, ao);
        string idD = d.Id;
        Assert.True(Env.WaitUntil(() => d.ReplicaLinkUp, Long), TestCluster.Describe(cluster.Nodes));
        var (dc, dout) = Tool("del-node", Addr(a), idD);
        Assert.True(dc == 0, dout);
        Assert.True(Env.WaitUntil(() => cluster.Nodes.Take(3).All(n => !n.Nodes().ContainsKey(idD)), Long));
        var (rcc, rco) = RedisCli("check", Addr(a));
        Assert.True(rcc == 0, rco);
    }
}
