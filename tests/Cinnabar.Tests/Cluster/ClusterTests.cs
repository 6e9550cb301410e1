using System.Diagnostics;
using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// Real clusters of real processes: redis-cli --cluster create over Cinnabar nodes, a mixed cluster of
/// redis-server 7.0 and Cinnabar nodes through failures, and restarts from nodes.conf.
/// </summary>
public sealed class ClusterTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    [Fact]
    public void RedisCliCreatesSixMasterClusterAndCheckPasses()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 6; i++) cluster.Add(redis: false, nodeTimeoutMs: 2000);
        var args = new List<string> { "--cluster", "create" };
        args.AddRange(cluster.Nodes.Select(n => "127.0.0.1:" + n.Port));
        args.AddRange(new[] { "--cluster-replicas", "0", "--cluster-yes" });
        var (code, output) = TestCluster.RedisCli(args.ToArray());
        Assert.True(code == 0, output);
        Assert.Contains("[OK] All 16384 slots covered.", output);
        cluster.WaitAllOk(Long);

        var (checkCode, check) = TestCluster.RedisCli("--cluster", "check", "127.0.0.1:" + cluster.Nodes[3].Port);
        Assert.True(checkCode == 0, check);
        Assert.Contains("[OK] All nodes agree about slots configuration.", check);

        // Every node holds the same map: six masters, each with the slots it advertises itself.
        var reference = cluster.Nodes[0].Nodes().ToDictionary(kv => kv.Key, kv => kv.Value.Slots);
        Assert.Equal(6, reference.Count);
        foreach (var n in cluster.Nodes)
            Assert.Equal(reference, n.Nodes().ToDictionary(kv => kv.Key, kv => kv.Value.Slots));
        foreach (var n in cluster.Nodes) Assert.Contains("cluster_enabled:1", n.CallText("INFO", "cluster"));

        // PUBLISH reaches subscribers on every node over the bus.
        using var sub = new RespConnection(cluster.Nodes[5].Port);
        sub.Call("SUBSCRIBE", "news");
        Assert.Equal(":0\r\n", cluster.Nodes[0].Call("PUBLISH", "news", "hello"));
        Assert.Equal("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n", RespConnection.Latin1(sub.ReadReply()));
    }

    /// <summary>
    /// Three Cinnabar and two redis-server nodes form one cluster; they agree on slot ownership, each kind detects
    /// the other's failure (kill -9 of a Redis node, SIGSTOP of a Cinnabar node) and the state goes fail and back.
    /// </summary>
    [Fact]
    public void MixedClusterWithRedisServerAgreesAndDetectsFailures()
    {
        const int nt = 2000;
        using var cluster = new TestCluster();
        var c1 = cluster.Add(false, nt);
        var r1 = cluster.Add(true, nt);
        var c2 = cluster.Add(false, nt);
        var r2 = cluster.Add(true, nt);
        var c3 = cluster.Add(false, nt, "--cluster-announce-hostname", "cinnabar3.local");
        cluster.Form(Long);

        // One slot map, seen the same by all five (CLUSTER NODES and CLUSTER SLOTS).
        var ids = cluster.Nodes.ToDictionary(n => n, n => n.Id);
        string slotsReply = Normalize(c1.Call("CLUSTER", "SLOTS"));
        foreach (var n in cluster.Nodes)
        {
            var view = n.Nodes();
            Assert.Equal(5, view.Count);
            foreach (var owner in cluster.Nodes)
            {
                Assert.Equal(cluster.Nodes[0].Nodes()[ids[owner]].Slots, view[ids[owner]].Slots);
                Assert.Equal("connected", view[ids[owner]].Link);
            }
            Assert.Equal(slotsReply, Normalize(n.Call("CLUSTER", "SLOTS")));
        }
        // The hostname extension reached the Redis nodes.
        Assert.Equal("127.0.0.1:" + c3.Port + "@" + (c3.Port + 10000) + ",cinnabar3.local", r1.Nodes()[ids[c3]].Addr);

        // PUBLISH crosses the bus both ways between the two implementations.
        using (var onRedis = new RespConnection(r1.Port))
        using (var onCinnabar = new RespConnection(c3.Port))
        {
            onRedis.Call("SUBSCRIBE", "mixed");
            onCinnabar.Call("SUBSCRIBE", "mixed");
            Assert.Equal(":0\r\n", c1.Call("PUBLISH", "mixed", "from-cinnabar"));
            Assert.Equal("*3\r\n$7\r\nmessage\r\n$5\r\nmixed\r\n$13\r\nfrom-cinnabar\r\n", RespConnection.Latin1(onRedis.ReadReply()));
            Assert.Equal("*3\r\n$7\r\nmessage\r\n$5\r\nmixed\r\n$13\r\nfrom-cinnabar\r\n", RespConnection.Latin1(onCinnabar.ReadReply()));
            Assert.Equal(":0\r\n", r2.Call("PUBLISH", "mixed", "from-redis"));
            Assert.Equal("*3\r\n$7\r\nmessage\r\n$5\r\nmixed\r\n$10\r\nfrom-redis\r\n", RespConnection.Latin1(onRedis.ReadReply()));
            Assert.Equal("*3\r\n$7\r\nmessage\r\n$5\r\nmixed\r\n$10\r\nfrom-redis\r\n", RespConnection.Latin1(onCinnabar.ReadReply()));
        }

        // kill -9 of a Redis master: every live node flags it fail and the cluster goes down.
        r2.Kill9();
        var live = cluster.Nodes.Where(n => n != r2).ToList();
        Assert.True(Env.WaitUntil(() => live.All(n => n.Nodes()[ids[r2]].Has("fail") && !n.StateOk), Long, 50), TestCluster.Describe(live));
        // PFAIL came first: the node that reached the quorum says so, with failure reports gathered from masters.
        Assert.True(Env.WaitUntil(() => live.Any(n => n.Output.Contains($"Marking node {ids[r2]} as failing (quorum reached).")), Long, 50));

        // Restarted from its directory, it rejoins with the same ID; FAIL clears and the state is ok again.
        r2.Start();
        Assert.Equal(ids[r2], r2.Id);
        cluster.WaitAllOk(Long);
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => !n.Nodes()[ids[r2]].Has("fail")), Long, 50));

        // SIGSTOP of a Cinnabar master: the Redis nodes (and the other Cinnabar nodes) flag it fail.
        c2.Freeze();
        live = cluster.Nodes.Where(n => n != c2).ToList();
        Assert.True(Env.WaitUntil(() => live.All(n => n.Nodes()[ids[c2]].Has("fail") && !n.StateOk), Long, 50), TestCluster.Describe(live));
        c2.Thaw();
        cluster.WaitAllOk(Long);
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => !n.Nodes()[ids[c2]].Has("fail")), Long, 50));
    }

    /// <summary>
    /// A redis-server replica of a redis-server master, in a cluster whose other masters are Cinnabar nodes: the
    /// Cinnabar nodes track it as a replica (flags, master, SHARDS), vote for it when its master is killed, and see
    /// the old master come back as its replica.
    /// </summary>
    [Fact]
    public void RedisReplicaIsElectedWithCinnabarVotes()
    {
        const int nt = 2000;
        using var cluster = new TestCluster();
        var c1 = cluster.Add(false, nt);
        var c2 = cluster.Add(false, nt);
        var c3 = cluster.Add(false, nt);
        var master = cluster.Add(true, nt);
        var replica = cluster.Add(true, nt);
        cluster.Form(Long, new[] { c1, c2, c3, master });
        string masterId = master.Id, replicaId = replica.Id;
        Assert.Equal("+OK\r\n", replica.Call("CLUSTER", "REPLICATE", masterId));
        var cinnabars = new[] { c1, c2, c3 };
        Assert.True(Env.WaitUntil(() => cinnabars.All(n => n.Nodes()[replicaId].Has("slave") && n.Nodes()[replicaId].Master == masterId), Long, 50));
        Assert.Contains("+replica\r\n", c1.Call("CLUSTER", "SHARDS").Replace("$7\r\n", "+"));
        Assert.True(Env.WaitUntil(() => c2.CallText("CLUSTER", "REPLICAS", masterId).Contains(replicaId), Long, 50));
        // A replica that never synced has no data to fail over with: wait for its link (Redis's data-age rule).
        Assert.True(Env.WaitUntil(() => replica.CallText("INFO", "replication").Contains("master_link_status:up"), Long, 50));
        // Once the replica reports an offset, CLUSTER SLOTS on a Cinnabar node lists it after its master.
        Assert.True(Env.WaitUntil(() => c3.Call("CLUSTER", "SLOTS").Contains(replicaId), Long, 50));

        master.Kill9();
        var live = cluster.Nodes.Where(n => n != master).ToList();
        Assert.True(Env.WaitUntil(() => live.All(n => n.StateOk && n.Nodes()[replicaId].Has("master") && n.Nodes()[replicaId].Slots.Length > 0), Long, 50),
            TestCluster.Describe(live));
        Assert.True(Env.WaitUntil(() => cinnabars.Count(n => n.Output.Contains($"Failover auth granted to {replicaId} for epoch")) >= 2, Long, 50));

        master.Start();
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Nodes()[masterId].Has("slave") && n.Nodes()[masterId].Master == replicaId), Long, 50),
            TestCluster.Describe(cluster.Nodes));
    }

    /// <summary>
    /// nodes.conf is the same file for both servers: a Cinnabar node's directory restarted as redis-server, and a
    /// Redis node's as Cinnabar, keep their IDs, slots and epochs and the cluster stays ok.
    /// </summary>
    [Fact]
    public void NodesConfIsInterchangeableWithRedisServer()
    {
        using var cluster = new TestCluster();
        var c1 = cluster.Add(false, 2000);
        var c2 = cluster.Add(false, 2000);
        var r1 = cluster.Add(true, 2000);
        cluster.Form(Long);
        foreach (var node in new[] { c1, r1 })
        {
            string id = node.Id;
            string slots = node.Nodes()[id].Slots;
            long epoch = node.Nodes()[id].Epoch;
            node.Process.Kill();
            node.Process.WaitForExit(10_000);
            node.IsRedis = !node.IsRedis;
            node.Start();
            Assert.Equal(id, node.Id);
            Assert.Equal(slots, node.Nodes()[id].Slots);
            Assert.Equal(epoch, node.Nodes()[id].Epoch);
            cluster.WaitAllOk(Long);
            Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Nodes()[id].Link == "connected"), Long, 50));
        }
    }

    /// <summary>
    /// A node that claims a slot with an older configEpoch than its owner's gets an UPDATE and gives the slot back;
    /// both directions: a Cinnabar node corrected by a redis-server owner, and a redis-server node by a Cinnabar one.
    /// </summary>
    [Fact]
    public void StaleSlotClaimsAreCorrectedByUpdateMessages()
    {
        using var cluster = new TestCluster();
        var c1 = cluster.Add(false, 2000);
        var r1 = cluster.Add(true, 2000);
        var c2 = cluster.Add(false, 2000);
        var r2 = cluster.Add(true, 2000);
        cluster.Form(Long);
        foreach (var (owner, claimer) in new[] { (r1, c1), (c2, r2) })
        {
            string ownerId = owner.Id, claimerId = claimer.Id;
            // The owner moves to the greatest epoch; everyone learns it.
            owner.Call("CLUSTER", "BUMPEPOCH");
            long epoch = owner.Nodes()[ownerId].Epoch;
            Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Nodes()[ownerId].Epoch == epoch), Long, 50));
            int slot = int.Parse(owner.Nodes()[ownerId].Slots.Split('-')[0]);
            long updatesBefore = long.Parse(claimer.Info("cluster_stats_messages_update_received") ?? "0");

            Assert.Equal("+OK\r\n", claimer.Call("CLUSTER", "SETSLOT", slot.ToString(), "NODE", claimerId));
            Assert.True(Env.WaitUntil(() => claimer.Nodes()[ownerId].Slots.StartsWith(slot + "-"), Long, 50), TestCluster.Describe(new[] { claimer }));
            Assert.True(long.Parse(claimer.Info("cluster_stats_messages_update_received") ?? "0") > updatesBefore);
            foreach (var n in cluster.Nodes) Assert.StartsWith(slot + "-", n.Nodes()[ownerId].Slots);
            cluster.WaitAllOk(Long);
        }
    }

    /// <summary>CLUSTER FORGET on every node removes a node for good (the 60 s blacklist keeps gossip from re-adding it).</summary>
    [Fact]
    public void ForgetRemovesANodeEverywhere()
    {
        using var cluster = new TestCluster();
        var a = cluster.Add(false, 1500);
        var b = cluster.Add(true, 1500);
        var c = cluster.Add(false, 1500);
        var gone = cluster.Add(false, 1500);
        cluster.Form(Long, new[] { a, b, c });
        string goneId = gone.Id;
        var rest = new[] { a, b, c };
        foreach (var n in rest) Assert.Equal("+OK\r\n", n.Call("CLUSTER", "FORGET", goneId));
        Assert.StartsWith("-ERR Unknown node", a.Call("CLUSTER", "FORGET", goneId));
        Assert.Equal("-ERR I tried hard but I can't forget myself...\r\n", a.Call("CLUSTER", "FORGET", a.Id));
        // The forgotten node still pings them; a few node timeouts later nobody has re-learned it.
        Assert.False(Env.WaitUntil(() => rest.Any(n => n.Nodes().ContainsKey(goneId)), TimeSpan.FromSeconds(4), 100));
        Assert.True(rest.All(n => n.StateOk && n.Nodes().Count == 3));
    }

    /// <summary>
    /// The minority rule: a master that can reach fewer than a majority of the slot-owning masters goes to
    /// cluster_state:fail even though nobody could mark them FAIL (no quorum for failure reports), and comes back
    /// once they answer again (after the rejoin delay).
    /// </summary>
    [Fact]
    public void MinorityPartitionGoesDownAndRejoins()
    {
        using var cluster = new TestCluster();
        var a = cluster.Add(false, 1000);
        var b = cluster.Add(false, 1000);
        var c = cluster.Add(true, 1000);
        cluster.Form(Long);
        string bId = b.Id, cId = c.Id;
        b.Freeze();
        c.Freeze();
        try
        {
            Assert.True(Env.WaitUntil(() => !a.StateOk, Long, 50), TestCluster.Describe(new[] { a }));
            var view = a.Nodes();
            Assert.True(view[bId].Has("fail?") && !view[bId].Has("fail"), TestCluster.Describe(new[] { a }));
            Assert.True(view[cId].Has("fail?") && !view[cId].Has("fail"));
            Assert.Equal((16384 - 16384 / 3).ToString(), a.Info("cluster_slots_pfail"));
            Assert.Equal("0", a.Info("cluster_slots_fail"));
        }
        finally
        {
            b.Thaw();
            c.Thaw();
        }
        cluster.WaitAllOk(Long);
        Assert.Contains("Cluster state changed: fail", a.WaitForOutput("Cluster state changed: fail"));
    }

    /// <summary>
    /// verifyClusterConfigWithData: a node starting with keys in slots nobody owns takes those slots; keys outside
    /// db 0 refuse the start.
    /// </summary>
    [Fact]
    public void StartingWithDataTakesUnassignedSlotsAndRefusesOtherDbs()
    {
        string rdbDb0, rdbDb1;
        using (var standalone = new ServerProcess(Env.CinnabarServer))
        {
            standalone.Connect().Call("SET", "foo", "bar");
            standalone.Connect().Call("SET", "{user1000}.x", "1");
            standalone.Connect().Call("SAVE");
            rdbDb0 = File.ReadAllText(Path.Combine(standalone.Dir, "dump.rdb"), System.Text.Encoding.Latin1);
            using var c = standalone.Connect();
            c.Call("SELECT", "1");
            c.Call("SET", "other", "db");
            c.Call("SAVE");
            rdbDb1 = File.ReadAllText(Path.Combine(standalone.Dir, "dump.rdb"), System.Text.Encoding.Latin1);
        }
        using var node = new ClusterNodeProcess(false, 2000);
        node.Process.Kill();
        node.Process.WaitForExit(10_000);
        File.WriteAllText(Path.Combine(node.Dir, "dump.rdb"), rdbDb0, System.Text.Encoding.Latin1);
        node.Start();
        string log = node.WaitForOutput("Taking responsibility for it.");
        Assert.Contains("I have keys for unassigned slot 3443. Taking responsibility for it.", log);
        Assert.Contains("I have keys for unassigned slot 12182. Taking responsibility for it.", log);
        Assert.Equal("3443 12182", node.Nodes()[node.Id].Slots);

        node.Process.Kill();
        node.Process.WaitForExit(10_000);
        File.WriteAllText(Path.Combine(node.Dir, "dump.rdb"), rdbDb1, System.Text.Encoding.Latin1);
        var ex = Assert.Throws<InvalidOperationException>(() => node.Start());
        Assert.Contains("You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.", ex.Message);
    }

    /// <summary>
    /// A Cinnabar cluster and a redis-server cluster built the same way (redis-cli --cluster create, three masters)
    /// answer CLUSTER INFO, NODES, SLOTS and SHARDS the same, field for field, once IDs, ports, times and the
    /// message counters are set aside.
    /// </summary>
    [Fact]
    public void ClusterRepliesMatchARedisClusterBuiltTheSameWay()
    {
        var views = new List<List<string>>();
        foreach (bool redis in new[] { true, false })
        {
            using var cluster = new TestCluster();
            for (int i = 0; i < 3; i++) cluster.Add(redis, 2000, "--cluster-announce-hostname", "host" + i);
            var args = new List<string> { "--cluster", "create" };
            args.AddRange(cluster.Nodes.Select(n => "127.0.0.1:" + n.Port));
            args.AddRange(new[] { "--cluster-replicas", "0", "--cluster-yes" });
            var (code, output) = TestCluster.RedisCli(args.ToArray());
            Assert.True(code == 0, output);
            cluster.WaitAllOk(Long);
            Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Nodes().Values.All(l => l.Addr.Contains(",host"))), Long, 50));
            var names = new List<(string from, string to)>();
            for (int i = 0; i < 3; i++)
            {
                var n = cluster.Nodes[i];
                names.Add((n.Id, "<ID" + i + ">"));
                names.Add(((n.Port + 10000).ToString(), "<BUS" + i + ">"));
                names.Add((n.Port.ToString(), "<PORT" + i + ">"));
            }
            string Norm(string text)
            {
                foreach (var (from, to) in names) text = text.Replace(from, to);
                return text;
            }
            var view = new List<string>();
            foreach (var n in cluster.Nodes)
            {
                view.Add(string.Join("\n", n.CallText("CLUSTER", "INFO").Split("\r\n").Where(l => !l.StartsWith("cluster_stats_messages"))));
                view.Add(string.Join("\n", Norm(n.CallText("CLUSTER", "NODES")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(l => { var f = l.Split(' '); f[4] = f[5] = "<T>"; return string.Join(' ', f); }).Order(StringComparer.Ordinal)));
                view.Add(Norm(n.Call("CLUSTER", "SLOTS")));
                view.Add(string.Join("\n", TopLevelElements(n.Call("CLUSTER", "SHARDS")).Select(Norm).Order(StringComparer.Ordinal)));
                n.Call("CONFIG", "SET", "cluster-preferred-endpoint-type", "hostname");
                view.Add(Norm(n.Call("CLUSTER", "SLOTS")));
                view.Add(string.Join("\n", TopLevelElements(n.Call("CLUSTER", "SHARDS")).Select(Norm).Order(StringComparer.Ordinal)));
            }
            views.Add(view);
        }
        for (int i = 0; i < views[0].Count; i++) Assert.Equal(views[0][i], views[1][i]);
    }

    /// <summary>The elements of a RESP array reply, each as its raw text.</summary>
    static List<string> TopLevelElements(string reply)
    {
        int pos = reply.IndexOf("\r\n", StringComparison.Ordinal) + 2;
        int count = int.Parse(reply[1..(pos - 2)]);
        var result = new List<string>();
        for (int i = 0; i < count; i++)
        {
            int start = pos;
            pos = SkipElement(reply, pos);
            result.Add(reply[start..pos]);
        }
        return result;
    }

    static int SkipElement(string r, int pos)
    {
        int eol = r.IndexOf("\r\n", pos, StringComparison.Ordinal);
        char type = r[pos];
        string head = r[(pos + 1)..eol];
        pos = eol + 2;
        switch (type)
        {
            case '$': case '=': return int.Parse(head) < 0 ? pos : pos + int.Parse(head) + 2;
            case '*': case '~': case '>':
                for (int i = 0; i < int.Parse(head); i++) pos = SkipElement(r, pos);
                return pos;
            case '%':
                for (int i = 0; i < 2 * int.Parse(head); i++) pos = SkipElement(r, pos);
                return pos;
            default: return pos;
        }
    }

    /// <summary>
    /// The bus port spoken to by hand: a PING from an unknown node gets a PONG on the same link; a message whose
    /// length does not match its type is dropped and the link kept; a bad signature closes the link; the node lives on.
    /// </summary>
    [Fact]
    public void BusDropsBadMessagesAndAnswersPings()
    {
        using var node = new ClusterNodeProcess(false, 2000);
        string id = node.Id;
        using var sock = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        sock.ReceiveTimeout = 5000;
        sock.Connect("127.0.0.1", node.Port + 10000);
        var ping = new Cinnabar.Server.Cluster.BusMessage
        {
            Type = (ushort)Cinnabar.Server.Cluster.BusType.Ping, Sender = "0123456789abcdef0123456789abcdef01234567",
            Port = 1, CPort = 2, Flags = Cinnabar.Server.Cluster.NodeFlags.Master | Cinnabar.Server.Cluster.NodeFlags.Myself,
        };
        Cinnabar.Server.Cluster.BusMessage ReadMessage()
        {
            var head = new byte[8];
            for (int got = 0; got < 8;) got += sock.Receive(head, got, 8 - got, System.Net.Sockets.SocketFlags.None);
            int len = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(4));
            var m = new byte[len];
            head.CopyTo(m, 0);
            for (int got = 8; got < len;) got += sock.Receive(m, got, len - got, System.Net.Sockets.SocketFlags.None);
            Assert.Equal(len, Cinnabar.Server.Cluster.BusMessage.ExpectedLength(m));
            return Cinnabar.Server.Cluster.BusMessage.Decode(m);
        }
        sock.Send(ping.Encode());
        var pong = ReadMessage();
        Assert.Equal(Cinnabar.Server.Cluster.BusType.Pong, pong.MsgType);
        Assert.Equal(id, pong.Sender);
        Assert.Equal(node.Port, pong.Port);
        Assert.Equal(node.Port + 10000, pong.CPort);

        // A FAIL one byte short of its type's length: dropped (logged), the link stays and still answers.
        var fail = new Cinnabar.Server.Cluster.BusMessage { Type = (ushort)Cinnabar.Server.Cluster.BusType.Fail, Sender = ping.Sender, FailNodeName = id }.Encode();
        var shortFail = fail.AsSpan(0, fail.Length - 1).ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(shortFail.AsSpan(4), (uint)shortFail.Length);
        sock.Send(shortFail);
        sock.Send(ping.Encode());
        Assert.Equal(Cinnabar.Server.Cluster.BusType.Pong, ReadMessage().MsgType);
        Assert.Contains("Received invalid fail packet of length 2295 but expected length 2296", node.WaitForOutput("Received invalid fail packet"));

        // Not the bus protocol at all: the link is closed.
        sock.Send(System.Text.Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n\r\n"));
        // Closed with unread bytes in its buffer, the socket resets instead of a clean EOF.
        try { Assert.Equal(0, sock.Receive(new byte[16])); }
        catch (System.Net.Sockets.SocketException e) { Assert.Equal(System.Net.Sockets.SocketError.ConnectionReset, e.SocketErrorCode); }
        Assert.Equal("+PONG\r\n", node.Call("PING"));
        Assert.Equal("1", node.Info("cluster_known_nodes"));
    }

    /// <summary>CLUSTER SLOTS without the per-connection parts (none: IDs, IPs and ports are the same for every observer).</summary>
    static string Normalize(string slots) => slots;

    [Fact]
    public void RestartFromNodesConfKeepsIdEpochsAndSlots()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 3; i++) cluster.Add(false, 1500);
        cluster.Form(Long);
        var node = cluster.Nodes[1];
        string id = node.Id;
        var before = node.Nodes()[id];
        string epoch = node.Info("cluster_current_epoch");
        string conf = ClusterNodeProcess.ReadLockedFile(Path.Combine(node.Dir, "nodes.conf"));
        Assert.Matches($"^{id} 127.0.0.1:{node.Port}@{node.Port + 10000} myself,master - ", conf.Split('\n').First(l => l.StartsWith(id)));
        Assert.EndsWith($"vars currentEpoch {epoch} lastVoteEpoch 0\n", conf);

        node.Kill9();
        node.Start();
        Assert.Equal(id, node.Id);
        Assert.Equal(epoch, node.Info("cluster_current_epoch"));
        var after = node.Nodes()[id];
        Assert.Equal(before.Slots, after.Slots);
        Assert.Equal(before.Epoch, after.Epoch);
        Assert.Contains($"Node configuration loaded, I'm {id}", node.WaitForOutput("Node configuration loaded"));
        cluster.WaitAllOk(Long);
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Nodes()[id].Link == "connected" && !n.Nodes()[id].Has("fail")), Long, 50));
    }

    /// <summary>The bus runs on its own thread: a node whose main thread is stuck (DEBUG SLEEP) stays alive to its peers.</summary>
    [Fact]
    public void BusAnswersWhileTheKeyspaceIsBusy()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 3; i++) cluster.Add(false, 1000, "--enable-debug-command", "yes");
        cluster.Form(Long);
        var busy = cluster.Nodes[0];
        string id = busy.Id;
        var sleeper = Task.Run(() => busy.Call("DEBUG", "SLEEP", "3"));
        var watch = Stopwatch.StartNew();
        bool flagged = false;
        while (!sleeper.IsCompleted && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            foreach (var n in cluster.Nodes.Skip(1))
            {
                var f = n.Nodes()[id].Flags;
                if (f.Contains("fail?") || f.Contains("fail")) flagged = true;
            }
            Thread.Sleep(100);
        }
        Assert.Equal("+OK\r\n", sleeper.Result);
        Assert.True(watch.Elapsed > TimeSpan.FromSeconds(2.5));
        Assert.False(flagged, "a node busy for 3x node-timeout was flagged by its peers");
    }

    [Fact]
    public void LockedOrCorruptConfigRefusesToStart()
    {
        using var node = new ClusterNodeProcess(false, 2000);
        // A second node on the same nodes.conf: Redis's message, exit code 1.
        int other = Env.FreePort();
        var psi = new ProcessStartInfo(Env.CinnabarServer) { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = node.Dir };
        foreach (var a in new[] { "--port", other.ToString(), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--save", "" }) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            string log = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(20_000));
            Assert.Equal(1, p.ExitCode);
            Assert.Contains("Sorry, the cluster configuration file nodes.conf is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.", log);
        }
        // A corrupt file in another directory.
        string dir = Directory.CreateTempSubdirectory("cluster-corrupt-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "nodes.conf"), "this is not a nodes file\n");
            psi.WorkingDirectory = dir;
            using var p = Process.Start(psi)!;
            string log = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(20_000));
            Assert.Equal(1, p.ExitCode);
            Assert.Contains("Unrecoverable error: corrupted cluster config file.", log);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// The same CLUSTER and CONFIG commands to a fresh redis-server cluster node and a fresh Cinnabar one: the same
    /// replies, byte for byte, once node IDs and ports are replaced by placeholders.
    /// </summary>
    [Fact]
    public void ClusterCommandRepliesMatchRedisServer()
    {
        using var redis = new ClusterNodeProcess(true, 2000);
        using var cinnabar = new ClusterNodeProcess(false, 2000);
        string[][] script =
        {
            new[] { "CLUSTER", "MEET", "127.0.0.1", "1", "2", "3" },
            new[] { "CLUSTER", "MEET", "foo", "123" },
            new[] { "CLUSTER", "MEET", "127.0.0.1", "abc" },
            new[] { "CLUSTER", "MEET", "127.0.0.1", "0" },
            new[] { "CLUSTER", "MEET", "127.0.0.1", "70000" },
            new[] { "CLUSTER", "MEET", "127.0.0.1", "100", "abc" },
            new[] { "CLUSTER", "MEET", "127.0.0.1", "100", "70000" },
            new[] { "CLUSTER", "FORGET", "abc" },
            new[] { "CLUSTER", "FORGET", "$ME" },
            new[] { "CLUSTER", "COUNT-FAILURE-REPORTS", "abc" },
            new[] { "CLUSTER", "COUNT-FAILURE-REPORTS", "$ME" },
            new[] { "CLUSTER", "SET-CONFIG-EPOCH", "-1" },
            new[] { "CLUSTER", "SET-CONFIG-EPOCH", "abc" },
            new[] { "CLUSTER", "SETSLOT", "1", "NODE", "abc" },
            new[] { "CLUSTER", "SETSLOT", "1", "MIGRATING", "abc" },
            new[] { "CLUSTER", "SETSLOT", "1", "IMPORTING", "abc" },
            new[] { "CLUSTER", "SETSLOT", "1", "FOO" },
            new[] { "CLUSTER", "SETSLOT", "99999", "STABLE" },
            new[] { "CLUSTER", "SETSLOT", "1" },
            new[] { "CLUSTER", "ADDSLOTS", "1", "1" },
            new[] { "CLUSTER", "ADDSLOTS", "20000" },
            new[] { "CLUSTER", "ADDSLOTS", "abc" },
            new[] { "CLUSTER", "ADDSLOTSRANGE", "5", "1" },
            new[] { "CLUSTER", "ADDSLOTSRANGE", "1", "2", "3" },
            new[] { "CLUSTER", "DELSLOTS", "1" },
            new[] { "CLUSTER", "DELSLOTSRANGE", "1", "3" },
            new[] { "CLUSTER", "RESET", "FOO" },
            new[] { "CLUSTER", "REPLICATE", "abc" },
            new[] { "CLUSTER", "REPLICATE", "$ME" },
            new[] { "CLUSTER", "REPLICAS", "abc" },
            new[] { "CLUSTER", "SLAVES", "$ME" },
            new[] { "CLUSTER", "FAILOVER" },
            new[] { "CLUSTER", "FAILOVER", "FOO" },
            new[] { "CLUSTER", "FAILOVER", "FORCE" },
            new[] { "CLUSTER", "FOO" },
            new[] { "CLUSTER", "HELP" },
            new[] { "CLUSTER", "MYID" },
            new[] { "CLUSTER", "LINKS" },
            new[] { "CLUSTER", "SLOTS" },
            new[] { "CLUSTER", "SHARDS" },
            new[] { "CLUSTER", "NODES" },
            new[] { "CLUSTER", "ADDSLOTS", "1", "2", "3" },
            new[] { "CLUSTER", "ADDSLOTSRANGE", "10", "20", "30", "40" },
            new[] { "CLUSTER", "ADDSLOTS", "2" },
            new[] { "CLUSTER", "SETSLOT", "1", "IMPORTING", "$ME" },
            new[] { "CLUSTER", "SETSLOT", "5", "MIGRATING", "$ME" },
            new[] { "CLUSTER", "SETSLOT", "5", "IMPORTING", "$ME" },
            new[] { "CLUSTER", "SETSLOT", "1", "MIGRATING", "$ME" },
            new[] { "CLUSTER", "NODES" },
            new[] { "CLUSTER", "SLOTS" },
            new[] { "CLUSTER", "SHARDS" },
            new[] { "CLUSTER", "SETSLOT", "1", "STABLE" },
            new[] { "CLUSTER", "SETSLOT", "5", "STABLE" },
            new[] { "CLUSTER", "DELSLOTSRANGE", "10", "15" },
            new[] { "CLUSTER", "DELSLOTS", "3" },
            new[] { "CLUSTER", "NODES" },
            new[] { "CLUSTER", "BUMPEPOCH" },
            new[] { "CLUSTER", "BUMPEPOCH" },
            new[] { "CLUSTER", "SET-CONFIG-EPOCH", "5" },
            new[] { "CLUSTER", "INFO" },
            new[] { "CLUSTER", "FLUSHSLOTS" },
            new[] { "CLUSTER", "RESET", "SOFT" },
            new[] { "CLUSTER", "INFO" },
            new[] { "CLUSTER", "SAVECONFIG" },
            new[] { "CONFIG", "SET", "cluster-announce-hostname", "a_b" },
            new[] { "CONFIG", "SET", "cluster-announce-hostname", new string('a', 300) },
            new[] { "CONFIG", "SET", "cluster-port", "5" },
            new[] { "CONFIG", "SET", "cluster-enabled", "no" },
            new[] { "CONFIG", "SET", "cluster-config-file", "x.conf" },
            new[] { "CONFIG", "SET", "cluster-node-timeout", "-1" },
            new[] { "CONFIG", "SET", "cluster-preferred-endpoint-type", "foo" },
            new[] { "CONFIG", "SET", "cluster-require-full-coverage", "no", "cluster-allow-reads-when-down", "yes", "cluster-announce-hostname", "node-1.example" },
            new[] { "CONFIG", "GET", "cluster-require-full-coverage" },
            new[] { "CONFIG", "GET", "cluster-announce-hostname" },
            new[] { "CONFIG", "GET", "cluster-slave-no-failover" },
            new[] { "CLUSTER", "ADDSLOTS", "100", "102" },
            new[] { "CLUSTER", "SHARDS" },
            new[] { "CONFIG", "SET", "cluster-preferred-endpoint-type", "hostname" },
            new[] { "CLUSTER", "SLOTS" },
            new[] { "CONFIG", "SET", "cluster-preferred-endpoint-type", "unknown-endpoint" },
            new[] { "CLUSTER", "SLOTS" },
            new[] { "CLUSTER", "SHARDS" },
            new[] { "CONFIG", "SET", "cluster-preferred-endpoint-type", "ip" },
            new[] { "CLUSTER", "SLOTS" },
            new[] { "CLUSTER", "NODES" },
            new[] { "CLUSTER", "RESET", "HARD" },
            new[] { "CLUSTER", "INFO" },
            new[] { "INFO", "cluster" },
        };
        // Past the first two seconds, when clusterUpdateState starts computing cluster_size (0 without slots).
        Assert.True(Env.WaitUntil(() => redis.Info("cluster_size") == "0" && cinnabar.Info("cluster_size") == "0", TimeSpan.FromSeconds(10), 50));
        foreach (var cmd in script)
        {
            string expected = Placeholders(redis, Run(redis, cmd));
            string actual = Placeholders(cinnabar, Run(cinnabar, cmd));
            Assert.True(expected == actual, $"{string.Join(' ', cmd)}\nredis-server: {expected}\ncinnabar:     {actual}");
        }

        // CONFIG GET cluster-*: the same directives and values (order is a dict's, so compared as sets).
        Assert.Equal(ConfigPairs(redis), ConfigPairs(cinnabar));
    }

    static string Run(ClusterNodeProcess n, string[] cmd)
    {
        string me = n.Id;
        return n.Call(cmd.Select(a => a == "$ME" ? me : a).ToArray());
    }

    static string Placeholders(ClusterNodeProcess n, string reply)
    {
        reply = reply.Replace(n.Id, "<ID>");
        reply = Regex.Replace(reply, "[0-9a-f]{40}", "<NEWID>");
        reply = reply.Replace(n.Port.ToString(), "<PORT>").Replace((n.Port + 10000).ToString(), "<BUSPORT>");
        // Lengths of bulk strings that carry ports change with the port's digits: fine, ports have five digits in both.
        return reply;
    }

    static SortedSet<string> ConfigPairs(ClusterNodeProcess n)
    {
        var lines = n.Call("CONFIG", "GET", "cluster-*").Split("\r\n");
        var values = new List<string>();
        for (int i = 0; i < lines.Length; i++)
            if (lines[i].StartsWith('$')) values.Add(lines[++i]);
        var set = new SortedSet<string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < values.Count; i += 2) set.Add(values[i] + "=" + values[i + 1]);
        return set;
    }
}
