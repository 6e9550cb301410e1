using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Cinnabar.Server.Cluster;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// Replicas in a cluster: redis-cli --cluster create with replicas, automatic failover under writes (beside a
/// redis-server cluster), both halves of a shard lost and restored, manual failover in its three forms (also across
/// implementations), a frozen master replaced and demoted, and replica migration.
/// </summary>
public sealed class FailoverTests
{
    const int NodeTimeout = 2000;
    static readonly TimeSpan Long = TimeSpan.FromSeconds(40);
    readonly ITestOutputHelper output;

    public FailoverTests(ITestOutputHelper output) => this.output = output;

    /// <summary>A hash tag whose slot the node owns (by asking the node's own view of the map).</summary>
    static string TagOwnedBy(ClusterNodeProcess owner, string prefix)
    {
        string id = owner.Id;
        var slots = owner.Nodes()[id].Slots.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(r => !r.StartsWith('[')).Select(r => r.Split('-')).Select(p => (from: int.Parse(p[0]), to: int.Parse(p[^1]))).ToList();
        for (int i = 0; ; i++)
        {
            int slot = KeySlot.Of(Encoding.ASCII.GetBytes(prefix + i));
            if (slots.Any(r => slot >= r.from && slot <= r.to)) return prefix + i;
        }
    }

    /// <summary>Three masters with one replica each, formed by hand (MEET, ADDSLOTSRANGE, CLUSTER REPLICATE).</summary>
    static (TestCluster cluster, ClusterNodeProcess[] masters, ClusterNodeProcess[] replicas) ThreeShards(bool redis, params string[] args)
    {
        var cluster = new TestCluster();
        try
        {
            for (int i = 0; i < 6; i++) cluster.Add(redis, NodeTimeout, args);
            var masters = cluster.Nodes.Take(3).ToArray();
            var replicas = cluster.Nodes.Skip(3).ToArray();
            cluster.Form(Long, masters);
            cluster.Replicate(Long, replicas.Zip(masters).ToArray());
            cluster.WaitAllOk(Long);
            return (cluster, masters, replicas);
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    static bool IsMasterEverywhere(TestCluster cluster, string id, ClusterNodeProcess except = null) =>
        cluster.Nodes.Where(n => !n.Process.HasExited && n != except).All(n => n.Nodes().TryGetValue(id, out var l) && l.Has("master") && l.Slots.Length > 0);

    static bool IsReplicaOf(TestCluster cluster, string id, string masterId) =>
        cluster.Nodes.Where(n => !n.Process.HasExited).All(n => n.Nodes().TryGetValue(id, out var l) && l.Has("slave") && l.Master == masterId);

    // ------------------------------------------------------------------------------------------------

    [Fact]
    public void RedisCliCreatesThreeMastersWithOneReplicaEach()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 6; i++) cluster.Add(false, NodeTimeout);
        var args = new List<string> { "--cluster", "create" };
        args.AddRange(cluster.Nodes.Select(n => "127.0.0.1:" + n.Port));
        args.AddRange(new[] { "--cluster-replicas", "1", "--cluster-yes" });
        var (code, text) = TestCluster.RedisCli(args.ToArray());
        Assert.True(code == 0, text);
        cluster.WaitAllOk(Long);
        Assert.True(Env.WaitUntil(() => cluster.Nodes.Count(n => n.ReplicaLinkUp) == 3, Long, 100), TestCluster.Describe(cluster.Nodes));

        var view = cluster.Nodes[0].Nodes();
        var masters = view.Where(kv => kv.Value.Has("master")).Select(kv => kv.Key).ToList();
        Assert.Equal(3, masters.Count);
        foreach (var m in masters) Assert.Single(view.Values, l => l.Has("slave") && l.Master == m);

        Assert.True(Env.WaitUntil(() => TestCluster.RedisCli("--cluster", "check", "127.0.0.1:" + cluster.Nodes[0].Port).output.Contains("[OK] All 16384 slots covered."), Long, 200));
        var (checkCode, check) = TestCluster.RedisCli("--cluster", "check", "127.0.0.1:" + cluster.Nodes[0].Port);
        Assert.True(checkCode == 0 && !check.Contains("[ERR]") && !check.Contains("[WARNING]"), check);
        Assert.Contains("[OK] All nodes agree about slots configuration.", check);
        Assert.Contains("1 additional replica(s)", check);

        // A write on a master reaches its replica, where READONLY reads it.
        var master = cluster.Nodes.First(n => n.ReplicationInfo("role") == "master");
        string masterId = master.Id;
        var replica = cluster.Nodes.First(n => n.Nodes()[n.Id].Master == masterId);
        string key = TagOwnedBy(master, "k");
        Assert.Equal("+OK\r\n", master.Call("SET", key, "replicated"));
        using var ro = new RespConnection(replica.Port);
        Assert.StartsWith("-MOVED", ro.Call("GET", key));
        Assert.Equal("+OK\r\n", ro.Call("READONLY"));
        Assert.True(Env.WaitUntil(() => ro.Call("GET", key) == "$10\r\nreplicated\r\n", Long, 20));
        Assert.StartsWith("-MOVED", ro.Call("SET", key, "x"));
        Assert.Equal("*1\r\n", master.Call("CLUSTER", "REPLICAS", masterId)[..4]);
    }

    /// <summary>What one kill -9 of a master under StackExchange.Redis writes looked like.</summary>
    sealed record FailoverRun(string Kind, double PromotedSeconds, double WritesAcceptedSeconds, int AckedBeforeKill, int Lost);

    static FailoverRun KillMasterUnderWrites(bool redis)
    {
        var (cluster, masters, replicas) = ThreeShards(redis);
        using var _ = cluster;
        var victim = masters[0];
        string victimId = victim.Id, heirId = replicas[0].Id;
        string tag = TagOwnedBy(victim, "w");

        var config = new ConfigurationOptions { AbortOnConnectFail = false, ConnectTimeout = 2000, SyncTimeout = 1000, ConnectRetry = 1 };
        foreach (var n in cluster.Nodes) config.EndPoints.Add("127.0.0.1", n.Port);
        using var mux = ConnectionMultiplexer.Connect(config);
        var db = mux.GetDatabase();

        var acked = new ConcurrentDictionary<string, string>();
        long killedAtTicks = 0, acceptedAfterKillTicks = 0;
        var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                string key = "{" + tag + "}:" + i, value = "v" + i;
                try
                {
                    db.StringSet(key, value);
                    long killed = Interlocked.Read(ref killedAtTicks);
                    if (killed != 0 && Interlocked.Read(ref acceptedAfterKillTicks) == 0)
                        Interlocked.Exchange(ref acceptedAfterKillTicks, Stopwatch.GetTimestamp());
                    var server = mux.GetServer(db.IdentifyEndpoint(key)!);
                    if ((long)server.Execute("WAIT", 1, 500) >= 1 && killed == 0) acked[key] = value;
                }
                catch (Exception e) when (e is RedisException or TimeoutException) { }
            }
        });
        Assert.True(Env.WaitUntil(() => acked.Count >= 200, Long, 20), "no acknowledged writes before the kill");

        var ackedBeforeKill = new Dictionary<string, string>(acked);
        long killTicks = Stopwatch.GetTimestamp();
        victim.Kill9();
        Interlocked.Exchange(ref killedAtTicks, killTicks);
        var live = cluster.Nodes.Where(n => n != victim).ToList();
        Assert.True(Env.WaitUntil(() => live.All(n => n.Nodes()[heirId].Has("master") && n.StateOk), Long, 20), TestCluster.Describe(live));
        double promoted = Stopwatch.GetElapsedTime(killTicks).TotalSeconds;
        Assert.True(Env.WaitUntil(() => Interlocked.Read(ref acceptedAfterKillTicks) != 0, Long, 20), "writes were not accepted again");
        double accepted = (Interlocked.Read(ref acceptedAfterKillTicks) - killTicks) / (double)Stopwatch.Frequency;
        stop.Cancel();
        Assert.True(writer.Wait(Long));

        var heir = replicas[0];
        int lost = 0;
        foreach (var (key, value) in ackedBeforeKill)
            if (heir.Call("GET", key) != $"${value.Length}\r\n{value}\r\n") lost++;
        return new FailoverRun(redis ? "redis-server" : "cinnabar", promoted, accepted, ackedBeforeKill.Count, lost);
    }

    [Fact]
    public void KilledMasterIsReplacedWithoutLosingAcknowledgedWrites()
    {
        var runs = new[] { true, false }.Select(KillMasterUnderWrites).ToList();
        foreach (var r in runs) output.WriteLine(r.ToString());
        var (redis, cinnabar) = (runs[0], runs[1]);
        Assert.Equal(0, cinnabar.Lost);
        Assert.Equal(0, redis.Lost);
        // The election waits for FAIL (node-timeout plus gossip) and a 0.5-1 s delay; as redis-server does.
        Assert.InRange(cinnabar.PromotedSeconds, NodeTimeout / 1000.0 - 0.3, redis.PromotedSeconds + NodeTimeout / 1000.0);
    }

    [Fact]
    public void LosingMasterAndReplicaTakesTheClusterDownUntilBothReturn()
    {
        var (cluster, masters, replicas) = ThreeShards(false, "--appendonly", "yes");
        using var _ = cluster;
        var keys = new Dictionary<string, ClusterNodeProcess>();
        for (int m = 0; m < 3; m++)
            for (int i = 0; i < 50; i++)
            {
                string key = "{" + TagOwnedBy(masters[m], "s") + "}:" + i;
                Assert.Equal("+OK\r\n", masters[m].Call("SET", key, key));
                keys[key] = masters[m];
            }
        foreach (var m in masters) Assert.Equal(":1\r\n", m.Call("WAIT", "1", "5000"));

        masters[1].Kill9();
        replicas[1].Kill9();
        var live = cluster.Nodes.Where(n => n != masters[1] && n != replicas[1]).ToList();
        Assert.True(Env.WaitUntil(() => live.All(n => !n.StateOk), Long, 50), TestCluster.Describe(live));
        foreach (var n in live) Assert.Equal("-CLUSTERDOWN The cluster is down\r\n", n.Call("GET", keys.Keys.First()));

        masters[1].Start();
        replicas[1].Start();
        cluster.WaitAllOk(Long);
        Assert.True(Env.WaitUntil(() => replicas[1].ReplicaLinkUp, Long, 50));
        foreach (var (key, owner) in keys) Assert.Equal($"${key.Length}\r\n{key}\r\n", owner.Call("GET", key));
    }

    /// <summary>SET then WAIT 1 in a loop on one connection, following MOVED; remembers what the replica acknowledged.</summary>
    sealed class AckedWriter : IDisposable
    {
        public readonly ConcurrentDictionary<string, string> Acked = new();
        readonly CancellationTokenSource stop = new();
        readonly Task task;
        public volatile string Failure;

        public AckedWriter(int port, string tag)
        {
            task = Task.Run(() =>
            {
                int i = 0;
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var c = new RespConnection(port, TimeSpan.FromSeconds(20));
                        while (!stop.IsCancellationRequested)
                        {
                            string key = "{" + tag + "}:" + i, value = "v" + i;
                            i++;
                            string r = c.Call("SET", key, value);
                            if (r.StartsWith("-MOVED"))
                            {
                                port = int.Parse(r.TrimEnd().Split(':')[^1]);
                                break;
                            }
                            if (r != "+OK\r\n") continue;
                            if (c.Call("WAIT", "1", "1000") == ":1\r\n") Acked[key] = value;
                        }
                    }
                    catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { Failure = e.Message; }
                }
            });
        }

        public void Dispose()
        {
            stop.Cancel();
            task.Wait(TimeSpan.FromSeconds(30));
        }
    }

    static void AssertAllPresent(ClusterNodeProcess node, IDictionary<string, string> acked)
    {
        using var c = new RespConnection(node.Port);
        c.Call("READONLY");
        foreach (var (key, value) in acked) Assert.Equal($"${value.Length}\r\n{value}\r\n", c.Call("GET", key));
    }

    [Fact]
    public void ManualFailoverInAllThreeFormsKeepsAcknowledgedWrites()
    {
        var (cluster, masters, replicas) = ThreeShards(false);
        using var _ = cluster;
        var (master, replica) = (masters[0], replicas[0]);
        string tag = TagOwnedBy(master, "m");
        foreach (var form in new[] { null, "FORCE", "TAKEOVER" })
        {
            string masterId = master.Id, replicaId = replica.Id;
            IDictionary<string, string> acked;
            using (var writer = new AckedWriter(master.Port, tag))
            {
                Assert.True(Env.WaitUntil(() => writer.Acked.Count >= 100, Long, 20), "no acknowledged writes " + writer.Failure);
                var args = form == null ? new[] { "CLUSTER", "FAILOVER" } : new[] { "CLUSTER", "FAILOVER", form };
                Assert.Equal("+OK\r\n", replica.Call(args));
                Assert.True(Env.WaitUntil(() => IsMasterEverywhere(cluster, replicaId) && IsReplicaOf(cluster, masterId, replicaId), Long, 50),
                    (form ?? "default") + "\n" + TestCluster.Describe(cluster.Nodes));
                int before = writer.Acked.Count;
                Assert.True(Env.WaitUntil(() => writer.Acked.Count > before + 20, Long, 20), "writes did not resume on the new master " + writer.Failure);
                acked = new Dictionary<string, string>(writer.Acked);
            }
            AssertAllPresent(replica, acked);
            Assert.True(Env.WaitUntil(() => master.ReplicaLinkUp, Long, 50));
            Assert.True(Env.WaitUntil(() => master.CallText("DEBUG", "DIGEST") == replica.CallText("DEBUG", "DIGEST"), Long, 50));
            cluster.WaitAllOk(Long);
            (master, replica) = (replica, master);
        }
    }

    /// <summary>A Cinnabar replica of a redis-server master and a redis-server replica of a Cinnabar master each take over.</summary>
    [Fact]
    public void ManualFailoverAcrossImplementations()
    {
        using var cluster = new TestCluster();
        var cMaster = cluster.Add(false, NodeTimeout);
        var rMaster = cluster.Add(true, NodeTimeout);
        var cMaster2 = cluster.Add(false, NodeTimeout);
        var rReplica = cluster.Add(true, NodeTimeout);
        var cReplica = cluster.Add(false, NodeTimeout);
        cluster.Form(Long, new[] { cMaster, rMaster, cMaster2 });
        cluster.Replicate(Long, (rReplica, cMaster), (cReplica, rMaster));
        cluster.WaitAllOk(Long);

        foreach (var (master, replica) in new[] { (rMaster, cReplica), (cMaster, rReplica) })
        {
            string tag = TagOwnedBy(master, "x");
            string masterId = master.Id, replicaId = replica.Id;
            IDictionary<string, string> acked;
            using (var writer = new AckedWriter(master.Port, tag))
            {
                Assert.True(Env.WaitUntil(() => writer.Acked.Count >= 100, Long, 20), $"{master.Name}: no acknowledged writes {writer.Failure}");
                Assert.Equal("+OK\r\n", replica.Call("CLUSTER", "FAILOVER"));
                Assert.True(Env.WaitUntil(() => IsMasterEverywhere(cluster, replicaId) && IsReplicaOf(cluster, masterId, replicaId), Long, 50),
                    TestCluster.Describe(cluster.Nodes));
                acked = new Dictionary<string, string>(writer.Acked);
            }
            AssertAllPresent(replica, acked);
            Assert.True(Env.WaitUntil(() => master.ReplicaLinkUp, Long, 50), TestCluster.Describe(new[] { master }));
            Assert.True(Env.WaitUntil(() => master.CallText("DEBUG", "DIGEST") == replica.CallText("DEBUG", "DIGEST"), Long, 50));
        }
        cluster.WaitAllOk(Long);
    }

    /// <summary>
    /// SIGSTOP of a master past node-timeout: its replica takes over. A write that reached the frozen master's socket
    /// is stale; after SIGCONT the old master learns it lost its slots, becomes a replica of its successor, and its
    /// data is replaced by the successor's.
    /// </summary>
    [Fact]
    public void FrozenMasterIsReplacedAndRejoinsAsReplica()
    {
        var (cluster, masters, replicas) = ThreeShards(false);
        using var _ = cluster;
        var (master, replica) = (masters[2], replicas[2]);
        string masterId = master.Id, replicaId = replica.Id;
        string tag = TagOwnedBy(master, "f");
        Assert.Equal("+OK\r\n", master.Call("SET", "{" + tag + "}:kept", "before"));
        Assert.Equal(":1\r\n", master.Call("WAIT", "1", "5000"));

        using var stale = new RespConnection(master.Port, TimeSpan.FromSeconds(30));
        master.Freeze();
        try
        {
            stale.Send(RespConnection.Encode(new[] { "SET", "{" + tag + "}:stale", "lost" }.Select(Encoding.ASCII.GetBytes).ToArray()));
            Assert.True(Env.WaitUntil(() => IsMasterEverywhere(cluster, replicaId, except: master), Long, 50), TestCluster.Describe(cluster.Nodes.Where(n => n != master)));
            Assert.Equal("+OK\r\n", replica.Call("SET", "{" + tag + "}:after", "new"));
        }
        finally
        {
            master.Thaw();
        }
        stale.ReadReply();   // +OK from the stale master, or MOVED if it learned first: either way not kept
        Assert.True(Env.WaitUntil(() => IsReplicaOf(cluster, masterId, replicaId) && master.ReplicaLinkUp, Long, 50), TestCluster.Describe(cluster.Nodes));
        Assert.True(Env.WaitUntil(() => master.CallText("DEBUG", "DIGEST") == replica.CallText("DEBUG", "DIGEST"), Long, 50));
        Assert.Equal("$-1\r\n", replica.Call("GET", "{" + tag + "}:stale"));
        Assert.Equal("$6\r\nbefore\r\n", replica.Call("GET", "{" + tag + "}:kept"));
        Assert.Equal("$3\r\nnew\r\n", replica.Call("GET", "{" + tag + "}:after"));
        cluster.WaitAllOk(Long);
    }

    /// <summary>With cluster-migration-barrier 1, a master left without replicas gets a spare one from a master with two.</summary>
    [Fact]
    public void SpareReplicaMigratesToAnOrphanedMaster()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 7; i++) cluster.Add(false, NodeTimeout, "--cluster-migration-barrier", "1");
        var masters = cluster.Nodes.Take(3).ToArray();
        var (a1, a2, b1, c1) = (cluster.Nodes[3], cluster.Nodes[4], cluster.Nodes[5], cluster.Nodes[6]);
        cluster.Form(Long, masters);
        cluster.Replicate(Long, (a1, masters[0]), (a2, masters[0]), (b1, masters[1]), (c1, masters[2]));
        cluster.WaitAllOk(Long);
        string a1Id = a1.Id, a2Id = a2.Id, orphanId = masters[1].Id;
        string expected = string.CompareOrdinal(a1Id, a2Id) < 0 ? a1Id : a2Id;
        var mover = expected == a1Id ? a1 : a2;

        b1.Kill9();
        var live = cluster.Nodes.Where(n => n != b1).ToList();
        Assert.True(Env.WaitUntil(() => live.All(n => n.Nodes().TryGetValue(expected, out var l) && l.Master == orphanId), Long, 100),
            TestCluster.Describe(live));
        Assert.Contains($"Migrating to orphaned master {orphanId}", mover.WaitForOutput("Migrating to orphaned master"));
        Assert.True(Env.WaitUntil(() => mover.ReplicaLinkUp, Long, 50));
        // The other spare stays with its master.
        string other = expected == a1Id ? a2Id : a1Id;
        Assert.Equal(masters[0].Id, live[0].Nodes()[other].Master);
    }

    /// <summary>
    /// cluster-replica-no-failover yes: the replica shows nofailover everywhere and does not start an election when
    /// its master fails, but CLUSTER FAILOVER FORCE still promotes it.
    /// </summary>
    [Fact]
    public void NoFailoverReplicaWaitsForAnOperator()
    {
        var (cluster, masters, replicas) = ThreeShards(false);
        using var _ = cluster;
        var (master, replica) = (masters[1], replicas[1]);
        string replicaId = replica.Id, masterId = master.Id;
        Assert.Equal("+OK\r\n", replica.Call("CONFIG", "SET", "cluster-replica-no-failover", "yes"));
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Nodes()[replicaId].Has("nofailover")), Long, 50), TestCluster.Describe(cluster.Nodes));

        master.Kill9();
        var live = cluster.Nodes.Where(n => n != master).ToList();
        Assert.True(Env.WaitUntil(() => live.All(n => n.Nodes()[masterId].Has("fail") && !n.StateOk), Long, 50), TestCluster.Describe(live));
        // An election would have been won within the election delay (at most 1.5 s at rank 0) after the FAIL.
        Assert.False(Env.WaitUntil(() => replica.Nodes()[replicaId].Has("master"), TimeSpan.FromSeconds(3), 100), "a nofailover replica started an election");
        Assert.DoesNotContain("Starting a failover election", replica.Output);

        Assert.Equal("+OK\r\n", replica.Call("CLUSTER", "FAILOVER", "FORCE"));
        Assert.True(Env.WaitUntil(() => IsMasterEverywhere(cluster, replicaId) && live.All(n => n.StateOk), Long, 50), TestCluster.Describe(live));
    }
}
