using Cinnabar.Server.Cluster;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// A master with slots and no replica dies: the cluster goes down everywhere, coverage rules decide what is
/// still served, and the node comes back from its directory with its ID and its data.
/// </summary>
public sealed class ClusterDownTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    /// <summary>A key whose slot the node owns (the slots are split evenly by TestCluster.Form).</summary>
    static string KeyOwnedBy(int nodeIndex, int masters, string prefix)
    {
        int per = 16384 / masters;
        for (int i = 0; ; i++)
        {
            string key = prefix + i;
            int slot = KeySlot.Of(System.Text.Encoding.ASCII.GetBytes(key));
            if (slot >= nodeIndex * per && (nodeIndex == masters - 1 || slot < (nodeIndex + 1) * per)) return key;
        }
    }

    [Fact]
    public void DeadMasterTakesTheClusterDownUntilCoverageIsRelaxedOrItReturns()
    {
        const int timeout = 2000;
        using var cluster = new TestCluster();
        for (int i = 0; i < 3; i++) cluster.Add(redis: false, nodeTimeoutMs: timeout, "--appendonly", "yes");
        cluster.Form(Long);
        var (a, b, dead) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        string keyA = KeyOwnedBy(0, 3, "a"), keyDead = KeyOwnedBy(2, 3, "d");
        Assert.Equal("+OK\r\n", a.Call("SET", keyA, "alive"));
        Assert.Equal("+OK\r\n", dead.Call("SET", keyDead, "kept"));
        string deadId = dead.Id;
        int deadSlot = KeySlot.Of(System.Text.Encoding.ASCII.GetBytes(keyDead));

        var killedAt = DateTime.UtcNow;
        dead.Kill9();
        Assert.True(Env.WaitUntil(() => !a.StateOk && !b.StateOk, Long, 50), TestCluster.Describe(new[] { a, b }));
        var downAfter = DateTime.UtcNow - killedAt;
        Assert.True(downAfter < TimeSpan.FromMilliseconds(timeout * 4), $"cluster_state:fail after {downAfter}");
        foreach (var n in new[] { a, b })
        {
            Assert.Equal("-CLUSTERDOWN The cluster is down\r\n", n.Call("GET", keyA));     // owner or not
            Assert.Equal("-CLUSTERDOWN The cluster is down\r\n", n.Call("GET", keyDead));
            Assert.Equal("+PONG\r\n", n.Call("PING"));
        }

        // Without full coverage the live slots are served again; the dead master's slots still point at it.
        foreach (var n in new[] { a, b }) Assert.Equal("+OK\r\n", n.Call("CONFIG", "SET", "cluster-require-full-coverage", "no"));
        // The state is re-evaluated at the next cluster event (observed on 7.0.15): wait for it.
        Assert.True(Env.WaitUntil(() => a.StateOk && b.StateOk, Long, 50), TestCluster.Describe(new[] { a, b }));
        Assert.Equal("$5\r\nalive\r\n", a.Call("GET", keyA));
        Assert.Equal($"-MOVED {deadSlot} 127.0.0.1:{dead.Port}\r\n", a.Call("GET", keyDead));
        // A slot nobody owns: not served.
        int freed = KeySlot.Of(System.Text.Encoding.ASCII.GetBytes(keyA));
        foreach (var n in new[] { a, b }) Assert.Equal("+OK\r\n", n.Call("CLUSTER", "DELSLOTS", freed.ToString()));
        Assert.Equal("-CLUSTERDOWN Hash slot not served\r\n", b.Call("GET", keyA));
        Assert.Equal("+OK\r\n", a.Call("CLUSTER", "ADDSLOTS", freed.ToString()));
        foreach (var n in new[] { a, b }) Assert.Equal("+OK\r\n", n.Call("CONFIG", "SET", "cluster-require-full-coverage", "yes"));

        // The dead node restarts from its directory: same ID, its data, and the cluster is whole again.
        dead.Start();
        Assert.True(Env.WaitUntil(() => a.StateOk && b.StateOk && dead.StateOk, Long, 100), TestCluster.Describe(cluster.Nodes));
        Assert.Equal(deadId, dead.Id);
        Assert.Equal("$4\r\nkept\r\n", dead.Call("GET", keyDead));
        Assert.Equal("$5\r\nalive\r\n", a.Call("GET", keyA));
    }
}
