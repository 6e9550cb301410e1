using System.Text;
using Cinnabar.Server.Cluster;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// Sharded Pub/Sub and PUBLISH in a cluster, differentially: the same script runs against a redis-server cluster
/// and a Cinnabar cluster of three masters with the same slot split, and every reply (and every message a
/// subscriber receives) must be the same once the ports are replaced by placeholders — routing by the channel's
/// slot (MOVED, CROSSSLOT), delivery, PUBLISH over the bus, and what a failed cluster still allows.
/// </summary>
public sealed class ClusterPubSubTests
{
    readonly Xunit.Abstractions.ITestOutputHelper output;

    public ClusterPubSubTests(Xunit.Abstractions.ITestOutputHelper output) => this.output = output;

    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    /// <summary>A channel name whose slot the node of that index owns under TestCluster.Form's even split.</summary>
    static string ChannelOwnedBy(int nodeIndex, string prefix)
    {
        const int per = 16384 / 3;
        for (int i = 0; ; i++)
        {
            string name = prefix + i;
            int slot = KeySlot.Of(Encoding.ASCII.GetBytes(name));
            if (slot >= nodeIndex * per && (nodeIndex == 2 || slot < (nodeIndex + 1) * per)) return name;
        }
    }

    static List<string> RunScript(bool redis)
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 3; i++) cluster.Add(redis, 2000);
        cluster.Form(Long);
        var (n0, n1, n2) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        string ch0 = ChannelOwnedBy(0, "news"), ch1 = ChannelOwnedBy(1, "news"), ch2 = ChannelOwnedBy(2, "news");
        var log = new List<string>();
        string Norm(string s)
        {
            for (int i = 0; i < 3; i++) s = s.Replace(cluster.Nodes[i].Port.ToString(), "<PORT" + i + ">");
            return s;
        }
        void Step(string what, string reply) => log.Add(what + " -> " + Norm(reply));

        using var sub0 = new RespConnection(n0.Port, TimeSpan.FromSeconds(15));
        using var sub2 = new RespConnection(n2.Port, TimeSpan.FromSeconds(15));
        using var pub0 = new RespConnection(n0.Port, TimeSpan.FromSeconds(15));
        using var pub1 = new RespConnection(n1.Port, TimeSpan.FromSeconds(15));

        Step("SSUBSCRIBE ch1 on n0", sub0.Call("SSUBSCRIBE", ch1));
        Step("SSUBSCRIBE ch0 ch1 on n0", sub0.Call("SSUBSCRIBE", ch0, ch1));
        Step("SSUBSCRIBE ch0 {ch0}x on n0", sub0.Call("SSUBSCRIBE", ch0, "{" + ch0 + "}x"));
        Step("(second confirmation)", RespConnection.Latin1(sub0.ReadReply()));
        Step("SPUBLISH ch0 on n0", pub0.Call("SPUBLISH", ch0, "hello"));
        Step("message on n0", RespConnection.Latin1(sub0.ReadReply()));
        Step("SPUBLISH ch0 on n1", pub1.Call("SPUBLISH", ch0, "hello"));
        Step("SPUBLISH {ch0}x on n0", pub0.Call("SPUBLISH", "{" + ch0 + "}x", "second"));
        Step("message on n0", RespConnection.Latin1(sub0.ReadReply()));
        // A dict's order in Redis (seeded hash): compared as a set.
        Step("PUBSUB SHARDCHANNELS on n0", string.Join(",", pub0.Call("PUBSUB", "SHARDCHANNELS").Split("\r\n").Order(StringComparer.Ordinal)));
        Step("PUBSUB SHARDNUMSUB on n0", pub0.Call("PUBSUB", "SHARDNUMSUB", ch0, ch1));
        Step("PUBSUB SHARDNUMSUB on n1", pub1.Call("PUBSUB", "SHARDNUMSUB", ch0));
        Step("SPUBLISH two args too many", pub0.Call("SPUBLISH", ch0, "a", "b"));

        // PUBLISH goes to every node over the bus (on each node's outbound links: wait until all are up, as a
        // loaded machine may still be connecting some); its count is the local receivers only.
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Nodes().Values.All(l => l.Link == "connected")), Long, 50), TestCluster.Describe(cluster.Nodes));
        Step("SUBSCRIBE plain on n2", sub2.Call("SUBSCRIBE", "plain"));
        Step("PUBLISH plain on n0", pub0.Call("PUBLISH", "plain", "everywhere"));
        Step("message on n2", RespConnection.Latin1(sub2.ReadReply()));
        Step("SUBSCRIBE while shard-subscribed on n0", sub0.Call("SUBSCRIBE", "plain"));
        Step("PUBLISH plain on n1", pub1.Call("PUBLISH", "plain", "both"));
        Step("message on n2", RespConnection.Latin1(sub2.ReadReply()));
        Step("message on n0", RespConnection.Latin1(sub0.ReadReply()));

        // The owner of ch2 dies: the cluster goes down; shard Pub/Sub on live slots is still allowed by default.
        string n2Id = n2.Id;
        n2.Kill9();
        Assert.True(Env.WaitUntil(() => !n0.StateOk && !n1.StateOk && n0.Nodes()[n2Id].Has("fail"), Long, 50), TestCluster.Describe(new[] { n0, n1 }));
        Step("down: SPUBLISH ch0 on n0", pub0.Call("SPUBLISH", ch0, "still"));
        Step("down: message on n0", RespConnection.Latin1(sub0.ReadReply()));
        Step("down: SPUBLISH ch2 on n0", pub0.Call("SPUBLISH", ch2, "x"));
        Step("down: SSUBSCRIBE ch1 on n1", pub1.Call("SSUBSCRIBE", ch1));
        Step("down: PUBLISH on n0", pub0.Call("PUBLISH", "plain", "x"));
        Step("down: message on n0", RespConnection.Latin1(sub0.ReadReply()));
        Step("CONFIG SET allow-pubsubshard-when-down no", pub0.Call("CONFIG", "SET", "cluster-allow-pubsubshard-when-down", "no"));
        Step("down, not allowed: SPUBLISH ch0 on n0", pub0.Call("SPUBLISH", ch0, "x"));
        Step("down, not allowed: SUNSUBSCRIBE on n0", sub0.Call("SUNSUBSCRIBE", ch0));
        Step("down, not allowed: SSUBSCRIBE ch0 on n0", sub0.Call("SSUBSCRIBE", ch0));
        Step("down, not allowed: PUBLISH on n0", pub0.Call("PUBLISH", "plain", "y"));
        Step("down, not allowed: message on n0", RespConnection.Latin1(sub0.ReadReply()));
        return log;
    }

    [Fact]
    public void ShardedPubSubRoutesAndDeliversAsRedisDoes()
    {
        var runs = new[] { true, false }.Select(redis => Task.Run(() => RunScript(redis))).ToArray();
        Assert.True(Task.WaitAll(runs, TimeSpan.FromMinutes(2)));
        var (expected, actual) = (runs[0].Result, runs[1].Result);
        foreach (var line in expected) output.WriteLine(line.Replace("\r\n", " "));
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i] == actual[i], $"step {i}\nredis-server: {expected[i]}\ncinnabar:     {actual[i]}");
    }
}
