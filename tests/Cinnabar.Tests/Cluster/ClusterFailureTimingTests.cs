using System.Diagnostics;
using Cinnabar.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// When the cluster state changes, compared with a Redis-only cluster: the same failure script runs at the same
/// time against three clusters of three masters (redis-server only, Cinnabar only, and mixed: a Cinnabar victim
/// judged by one Cinnabar and one redis-server node), and every node must pass through the same states, each at a
/// time inside the window the failure-detection rules allow — the window the redis-server cluster itself lands in.
/// </summary>
public sealed class ClusterFailureTimingTests
{
    const int NodeTimeout = 2000;
    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    readonly ITestOutputHelper output;

    public ClusterFailureTimingTests(ITestOutputHelper output) => this.output = output;

    /// <summary>Milliseconds from each scripted event to the moment every node observed its consequence.</summary>
    sealed record Timeline(string Kind, long PfailSeen, long Fail, long OkWithoutCoverage, bool StillOkWithCoverage, long OkAfterRestart, bool PfailBeforeFail);

    static Timeline RunScript(string kind, bool[] redis)
    {
        using var cluster = new TestCluster();
        foreach (bool r in redis) cluster.Add(r, NodeTimeout);
        cluster.Form(Long);
        var victim = cluster.Nodes[2];
        var live = cluster.Nodes.Take(2).ToList();
        string victimId = victim.Id;

        // kill -9: every live node first suspects the victim (fail?), then agrees it failed and goes down.
        var clock = Stopwatch.StartNew();
        victim.Kill9();
        long pfailSeen = -1;
        bool sawPfail = false;
        Assert.True(Env.WaitUntil(() =>
        {
            bool all = true;
            foreach (var n in live)
            {
                var flags = n.Nodes()[victimId];
                if (flags.Has("fail?") && !sawPfail) { sawPfail = true; pfailSeen = clock.ElapsedMilliseconds; }
                all &= flags.Has("fail") && !n.StateOk;
            }
            return all;
        }, Long, 20), kind + "\n" + TestCluster.Describe(live));
        long fail = clock.ElapsedMilliseconds;
        // A FAIL needs the deciding node's own PFAIL first; the node that reached the quorum logs it.
        bool quorumLogged = Env.WaitUntil(() => live.Any(n => n.Output.Contains($"Marking node {victimId} as failing (quorum reached).")), TimeSpan.FromSeconds(5), 50);

        clock.Restart();
        foreach (var n in live) Assert.Equal("+OK\r\n", n.Call("CONFIG", "SET", "cluster-require-full-coverage", "no"));
        Assert.True(Env.WaitUntil(() => live.All(n => n.StateOk), Long, 20), kind + "\n" + TestCluster.Describe(live));
        long okWithoutCoverage = clock.ElapsedMilliseconds;

        // Requiring full coverage again changes nothing by itself: like redis-server 7.0, the state is only
        // re-evaluated while it is fail or after a cluster event, and the dead master is already FAIL.
        foreach (var n in live) Assert.Equal("+OK\r\n", n.Call("CONFIG", "SET", "cluster-require-full-coverage", "yes"));
        bool stillOk = live.All(n => n.StateOk);

        // Restarted from its directory: same ID, FAIL cleared everywhere, ok everywhere.
        victim.Start();
        clock.Restart();
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.StateOk && !n.Nodes()[victimId].Has("fail")), Long, 20),
            kind + "\n" + TestCluster.Describe(cluster.Nodes));
        long okAfterRestart = clock.ElapsedMilliseconds;
        Assert.Equal(victimId, victim.Id);
        return new Timeline(kind, pfailSeen, fail, okWithoutCoverage, stillOk, okAfterRestart, sawPfail || quorumLogged);
    }

    [Fact]
    public void StateChangesComeWhenARedisOnlyClusterHasThem()
    {
        var variants = new (string kind, bool[] redis)[]
        {
            ("redis-server only", new[] { true, true, true }),
            ("cinnabar only", new[] { false, false, false }),
            ("mixed", new[] { true, false, false }),
        };
        var runs = variants.Select(v => Task.Run(() => RunScript(v.kind, v.redis))).ToArray();
        Assert.True(Task.WaitAll(runs, TimeSpan.FromMinutes(3)), "the failure scripts did not finish");
        var timelines = runs.Select(t => t.Result).ToList();
        foreach (var t in timelines) output.WriteLine(t.ToString());

        foreach (var t in timelines)
        {
            Assert.True(t.PfailBeforeFail, t.Kind + ": FAIL without a PFAIL first");
            // PFAIL comes node-timeout after an unanswered ping, and a live node pings a silent peer at least
            // every node-timeout/2; FAIL follows when the other master's failure report arrives by gossip, which
            // live masters exchange at least every node-timeout/2 too. Nothing may fail early.
            Assert.InRange(t.Fail, NodeTimeout - 300, 2 * NodeTimeout + 2000);
            // Coverage relaxed: the state follows at the next state update (every 100 ms cron while failing).
            Assert.InRange(t.OkWithoutCoverage, 0, 2000);
            Assert.True(t.StillOkWithCoverage, t.Kind);
            // A restarted master waits out the 2 s writable delay; the others clear FAIL at its first PONG, since
            // more than 2 × node-timeout have passed since the FAIL.
            Assert.InRange(t.OkAfterRestart, 0, 2000 + 2 * NodeTimeout);
        }
        // Beside the redis-server cluster of the same run: within one gossip round (node-timeout / 2 each way).
        var reference = timelines[0];
        foreach (var t in timelines.Skip(1))
        {
            Assert.InRange(t.Fail, reference.Fail - NodeTimeout, reference.Fail + NodeTimeout);
            Assert.InRange(t.OkAfterRestart, reference.OkAfterRestart - NodeTimeout, reference.OkAfterRestart + NodeTimeout);
        }
    }

    /// <summary>
    /// SIGSTOP past node-timeout: the others mark the node PFAIL, then FAIL. After SIGCONT the FAIL flag clears as
    /// clearNodeFailureIfNeeded says: at once for a master without slots, and for a master with slots only once
    /// 2 × node-timeout have passed since the FAIL (nobody took its slots over meanwhile).
    /// </summary>
    [Fact]
    public void FrozenNodesAreFailedAndClearedAfterSigcont()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 4; i++) cluster.Add(false, NodeTimeout);
        cluster.Form(Long, cluster.Nodes.Take(3).ToList());
        var withSlots = cluster.Nodes[2];
        var withoutSlots = cluster.Nodes[3];

        foreach (var frozen in new[] { withSlots, withoutSlots })
        {
            string id = frozen.Id;
            var others = cluster.Nodes.Where(n => n != frozen).ToList();
            frozen.Freeze();
            long failAt;
            var clock = Stopwatch.StartNew();
            bool sawPfail = false;
            try
            {
                Assert.True(Env.WaitUntil(() =>
                {
                    var views = others.Select(n => n.Nodes()[id]).ToList();
                    sawPfail |= views.Any(v => v.Has("fail?"));
                    return views.Any(v => v.Has("fail"));
                }, Long, 20), TestCluster.Describe(others));
                failAt = clock.ElapsedMilliseconds;
                Assert.True(sawPfail || others.Any(n => n.Output.Contains($"Marking node {id} as failing (quorum reached).")));
                Assert.True(Env.WaitUntil(() => others.All(n => n.Nodes()[id].Has("fail")), Long, 20), TestCluster.Describe(others));
                Assert.True(failAt >= NodeTimeout - 300, $"FAIL after {failAt} ms of a {NodeTimeout} ms node-timeout");
            }
            finally
            {
                frozen.Thaw();
            }
            long thawedAt = clock.ElapsedMilliseconds;
            Assert.True(Env.WaitUntil(() => others.All(n => !n.Nodes()[id].Has("fail")), Long, 20), TestCluster.Describe(others));
            long clearedAt = clock.ElapsedMilliseconds;
            output.WriteLine($"{(frozen == withSlots ? "with slots" : "without slots")}: FAIL at {failAt} ms, SIGCONT at {thawedAt} ms, cleared at {clearedAt} ms");
            if (frozen == withSlots)
            {
                Assert.True(clearedAt - failAt >= 2 * NodeTimeout - 300, $"FAIL at {failAt} ms cleared at {clearedAt} ms");
                Assert.Contains($"Clear FAIL state for node {id}: is reachable again and nobody is serving its slots after some time.",
                    others[0].WaitForOutput($"Clear FAIL state for node {id}"));
            }
            else
            {
                Assert.True(clearedAt - thawedAt < NodeTimeout, $"SIGCONT at {thawedAt} ms, cleared at {clearedAt} ms");
                Assert.Contains($"Clear FAIL state for node {id}: master without slots is reachable again.",
                    others[0].WaitForOutput($"Clear FAIL state for node {id}"));
            }
            cluster.WaitAllOk(Long);
        }
    }
}
