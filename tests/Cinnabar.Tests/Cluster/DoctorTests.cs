using System.Text.Json;
using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Cinnabar.Tests.Integration;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// cinnabar doctor and cinnabar watch against real clusters (Cinnabar and redis-server 7.0), broken each way: a master
/// killed with and without a replica, a master and its replica killed, a master stopped (SIGSTOP), a slot left open,
/// slots deleted, a busy script, settings that differ. Each time the doctor must exit with the right code and name the
/// right cause, nodes and slots, and its printed commands, run as printed, must bring cluster_state:ok back.
/// </summary>
public sealed class DoctorTests
{
    const int NodeTimeout = 2000;
    static readonly TimeSpan Long = TimeSpan.FromSeconds(40);
    readonly ITestOutputHelper output;

    public DoctorTests(ITestOutputHelper output) => this.output = output;

    // Scripts may run 500 ms before BUSY, below cluster-node-timeout, so a healthy test cluster has nothing to report.
    static readonly string[] NodeArgs = { "--busy-reply-threshold", "500" };

    static TestCluster Masters(bool redis, int count = 3, int nodeTimeout = NodeTimeout, params string[] extra)
    {
        var cluster = new TestCluster();
        try
        {
            for (int i = 0; i < count; i++) cluster.Add(redis, nodeTimeout, NodeArgs.Concat(extra).ToArray());
            cluster.Form(Long);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    (int code, string stdout) Cinnabar(params string[] args)
    {
        var (code, stdout, stderr) = Tool.Run(Env.CinnabarCli, args, timeoutMs: 60_000);
        output.WriteLine($"$ cinnabar {string.Join(' ', args)}  → exit {code}\n{stdout}{stderr}");
        return (code, stdout);
    }

    static string Addr(ClusterNodeProcess n) => "127.0.0.1:" + n.Port;

    /// <summary>One finding of the text output: its header line, and its remedies (description → the commands under it).</summary>
    sealed class Block
    {
        public string Severity, Cause, Summary, Text;
        public readonly List<(string description, List<string> commands)> Remedies = new();
    }

    static List<Block> Findings(string text)
    {
        var blocks = new List<Block>();
        Block current = null;
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            var m = Regex.Match(line, @"^\[\d+\] (DOWN|DEGRADED|WARNING) ([a-z-]+): (.*)$");
            if (m.Success)
            {
                current = new Block { Severity = m.Groups[1].Value.ToLowerInvariant(), Cause = m.Groups[2].Value, Summary = m.Groups[3].Value, Text = line + "\n" };
                blocks.Add(current);
                continue;
            }
            if (current == null) continue;
            if (line.StartsWith("status:")) { current = null; continue; }
            current.Text += line + "\n";
            if (line.StartsWith("        $ ")) current.Remedies[^1].commands.Add(line[10..]);
            else if (line.StartsWith("        #")) current.Remedies[^1].commands.Add(line.Trim());
            else if (line.StartsWith("      ") && !line.StartsWith("       ") && current.Text.Contains("    remedy:\n"))
                current.Remedies.Add((line.Trim().TrimEnd(':'), new List<string>()));
        }
        return blocks;
    }

    static Block Find(string text, string cause)
    {
        var b = Findings(text).FirstOrDefault(f => f.Cause == cause);
        Assert.True(b != null, $"no finding {cause} in:\n{text}");
        return b;
    }

    /// <summary>Runs the commands of the remedy whose description contains the text, exactly as printed.</summary>
    void RunRemedy(Block finding, string descriptionContains)
    {
        var remedy = finding.Remedies.FirstOrDefault(r => r.description.Contains(descriptionContains));
        Assert.True(remedy.commands != null && remedy.commands.Count > 0, $"no remedy '{descriptionContains}' in:\n{finding.Text}");
        foreach (var command in remedy.commands.Where(c => !c.StartsWith('#')))
        {
            var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var (code, stdout, stderr) = Tool.Run(parts[0], parts[1..], timeoutMs: 30_000);
            output.WriteLine($"$ {command}  → {code} {stdout.Trim()} {stderr.Trim()}");
            Assert.True(code == 0 && !stdout.StartsWith("ERR") && !stdout.StartsWith("(error)"), $"{command}: {stdout}{stderr}");
        }
    }

    static void AssertOk(TestCluster cluster, IEnumerable<ClusterNodeProcess> nodes) =>
        Assert.True(Env.WaitUntil(() => nodes.All(n => n.StateOk), Long, 100), "cluster_state:ok not back:\n" + TestCluster.Describe(nodes));

    static string SlotsOf(ClusterNodeProcess n) => n.Nodes()[n.Id].Slots;

    // ------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorHealthyClusterAndWatchOnce(bool redis)
    {
        using var cluster = Masters(redis);
        var seed = Addr(cluster.Nodes[0]);
        var (code, text) = Cinnabar("doctor", seed);
        Assert.True(code == 0, text);
        Assert.Contains("No problem found.", text);
        Assert.Contains("status: HEALTHY (exit 0)", text);

        var (jcode, json) = Cinnabar("doctor", seed, "--json");
        Assert.Equal(0, jcode);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("healthy", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal(3, doc.RootElement.GetProperty("nodes").GetArrayLength());
        Assert.Equal(0, doc.RootElement.GetProperty("findings").GetArrayLength());

        var (wcode, watch) = Cinnabar("watch", seed, "--once");
        Assert.Equal(0, wcode);
        Assert.DoesNotContain("\x1b[", watch);
        foreach (var n in cluster.Nodes) Assert.Contains(Addr(n) + "=ok", watch);
        Assert.Contains("# ok (16384)", watch);
        var rows = watch.Split('\n').Where(l => Regex.IsMatch(l, @"^\s*\d+ [#~?X.]{128}$")).ToList();
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.DoesNotContain("X", r));
        Assert.Equal(3, Regex.Matches(watch, @"^127\.0\.0\.1:\d+\s+\w{8} master ", RegexOptions.Multiline).Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorKilledMasterWithoutReplica(bool redis)
    {
        using var cluster = Masters(redis);
        var victim = cluster.Nodes[2];
        string slots = SlotsOf(victim);
        var rest = cluster.Nodes.Take(2).ToList();
        victim.Kill9();
        Assert.True(Env.WaitUntil(() => rest.All(n => n.Info("cluster_state") == "fail"), Long, 100), TestCluster.Describe(rest));

        var (code, text) = Cinnabar("doctor", Addr(rest[0]));
        Assert.Equal(2, code);
        var f = Find(text, "master-failed-no-replica");
        Assert.Equal("down", f.Severity);
        Assert.Contains("master " + Addr(victim), f.Summary);
        Assert.Contains("slots: " + slots, f.Text);
        Assert.Contains(Addr(victim) + " connection: connection refused", f.Text);
        Assert.Contains("master,fail", f.Text);          // the CLUSTER NODES line read, as evidence

        var (jcode, json) = Cinnabar("doctor", Addr(rest[0]), "--json");
        Assert.Equal(2, jcode);
        using (var doc = JsonDocument.Parse(json))
        {
            var finding = doc.RootElement.GetProperty("findings").EnumerateArray().First(x => x.GetProperty("cause").GetString() == "master-failed-no-replica");
            Assert.Equal("down", finding.GetProperty("severity").GetString());
            Assert.Contains(Addr(victim), finding.GetProperty("nodes").EnumerateArray().Select(x => x.GetString()));
            Assert.Equal(slots, finding.GetProperty("slots")[0].GetString());
            Assert.True(finding.GetProperty("evidence").GetArrayLength() >= 3);
            Assert.Contains(finding.GetProperty("remedies").EnumerateArray(), r => r.GetProperty("commands").EnumerateArray().Any(c => c.GetString().Contains("cluster-require-full-coverage no")));
        }

        var (wcode, watch) = Cinnabar("watch", Addr(rest[0]), "--once");
        Assert.Equal(0, wcode);
        Assert.Contains(Addr(victim) + "=unreachable", watch);
        Assert.Contains(Addr(rest[0]) + "=fail", watch);
        Assert.Contains("X owner fail (" + (int.Parse(slots.Split('-')[1]) - int.Parse(slots.Split('-')[0]) + 1) + ")", watch);
        Assert.Contains("unreachable: ", watch);

        // Serve the rest: the printed CONFIG SET on every node brings cluster_state:ok back.
        RunRemedy(f, "stop requiring full coverage");
        AssertOk(cluster, rest);
        // And restarting the node brings its slots back: the doctor is content again once it is back.
        foreach (var n in rest) Assert.Equal("+OK\r\n", n.Call("CONFIG", "SET", "cluster-require-full-coverage", "yes"));
        victim.Start();
        cluster.WaitAllOk(Long);
        Assert.True(Env.WaitUntil(() => Cinnabar("doctor", Addr(rest[0])).code == 0, Long, 500));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorKilledMasterWithReplicaIsDegradedUntilFailover(bool redis)
    {
        // A long node timeout keeps the cluster waiting for the automatic failover while the doctor looks.
        using var cluster = Masters(redis, nodeTimeout: 15000);
        var replica = cluster.Add(redis, 15000, NodeArgs);
        Assert.Equal("+OK\r\n", cluster.Nodes[0].Call("CLUSTER", "MEET", "127.0.0.1", replica.Port.ToString()));
        var master = cluster.Nodes[0];
        cluster.Replicate(Long, (replica, master));
        cluster.WaitAllOk(Long);
        string slots = SlotsOf(master);
        master.Kill9();
        var rest = cluster.Nodes.Where(n => n != master).ToList();

        var (code, text) = Cinnabar("doctor", Addr(cluster.Nodes[1]));
        Assert.Equal(1, code);
        var f = Find(text, "master-failed-replica-available");
        Assert.Equal("degraded", f.Severity);
        Assert.Contains("master " + Addr(master), f.Summary);
        Assert.Contains("replica " + Addr(replica), f.Summary);
        Assert.Contains("slots: " + slots, f.Text);
        Assert.Contains(Addr(replica) + " INFO: master_link_status:down", f.Text);

        RunRemedy(f, "promote the replica now");
        Assert.True(Env.WaitUntil(() => rest.All(n => n.Nodes()[replica.Id].Has("master") && n.Nodes()[replica.Id].Slots == slots), Long, 100),
            TestCluster.Describe(rest));
        AssertOk(cluster, rest);
        // The old master is still down, without slots now: degraded, named as a node to restart.
        var (after, afterText) = Cinnabar("doctor", Addr(cluster.Nodes[1]));
        Assert.Equal(1, after);
        Assert.Contains(Addr(master), Find(afterText, "node-down").Summary);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorMasterAndItsReplicaDown(bool redis)
    {
        using var cluster = Masters(redis);
        var replica = cluster.Add(redis, NodeTimeout, NodeArgs);
        Assert.Equal("+OK\r\n", cluster.Nodes[0].Call("CLUSTER", "MEET", "127.0.0.1", replica.Port.ToString()));
        var master = cluster.Nodes[1];
        cluster.Replicate(Long, (replica, master));
        cluster.WaitAllOk(Long);
        string slots = SlotsOf(master);
        master.Kill9();
        replica.Kill9();
        var rest = new[] { cluster.Nodes[0], cluster.Nodes[2] };
        Assert.True(Env.WaitUntil(() => rest.All(n => n.Info("cluster_state") == "fail"), Long, 100), TestCluster.Describe(rest));

        var (code, text) = Cinnabar("doctor", Addr(rest[0]));
        Assert.Equal(2, code);
        var f = Find(text, "master-and-replicas-down");
        Assert.Contains("master " + Addr(master), f.Summary);
        Assert.Contains(Addr(replica), f.Summary);
        Assert.Contains("slots: " + slots, f.Text);
        Assert.Contains("nodes: " + Addr(master), f.Text);
        RunRemedy(f, "stop requiring full coverage");
        AssertOk(cluster, rest);
    }

    [Fact]
    public void DoctorStoppedMasterNamesTheProcessToResume()
    {
        using var cluster = Masters(false);
        var victim = cluster.Nodes[1];
        var rest = new[] { cluster.Nodes[0], cluster.Nodes[2] };
        victim.Freeze();
        try
        {
            Assert.True(Env.WaitUntil(() => rest.All(n => n.Info("cluster_state") == "fail"), Long, 100), TestCluster.Describe(rest));
            var (code, text) = Cinnabar("doctor", Addr(rest[0]));
            Assert.Equal(2, code);
            var f = Find(text, "master-failed-no-replica");
            Assert.Contains("does not answer", f.Summary);
            Assert.Contains($"$ kill -CONT {victim.Process.Id}", f.Text);
            RunRemedy(f, "bring the node back");
            AssertOk(cluster, cluster.Nodes);
        }
        finally { victim.Thaw(); }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorOpenSlotAndFixYes(bool redis)
    {
        using var cluster = Masters(redis);
        var (source, target) = (cluster.Nodes[0], cluster.Nodes[1]);
        void Open()
        {
            Assert.Equal("+OK\r\n", target.Call("CLUSTER", "SETSLOT", "42", "IMPORTING", source.Id));
            Assert.Equal("+OK\r\n", source.Call("CLUSTER", "SETSLOT", "42", "MIGRATING", target.Id));
        }
        Open();
        var (code, text) = Cinnabar("doctor", Addr(cluster.Nodes[2]));
        Assert.Equal(1, code);
        var f = Find(text, "open-slot");
        Assert.Contains($"migrating on {Addr(source)}, importing on {Addr(target)}", f.Summary);
        Assert.Contains("slots: 42", f.Text);
        Assert.Contains("[42->-" + target.Id + "]", f.Text);
        Assert.Contains("[42-<-" + source.Id + "]", f.Text);
        RunRemedy(f, "cancel the move");
        Assert.True(Env.WaitUntil(() => Cinnabar("doctor", Addr(cluster.Nodes[2])).code == 0, Long, 500));

        Open();
        var (fixCode, fixText) = Cinnabar("doctor", Addr(cluster.Nodes[2]), "--fix", "--yes");
        Assert.Equal(0, fixCode);
        Assert.Contains("CLUSTER SETSLOT 42 STABLE", fixText);
        Assert.DoesNotContain("[42-", source.CallText("CLUSTER", "NODES") + target.CallText("CLUSTER", "NODES"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorDeletedSlotsAndFixYes(bool redis)
    {
        using var cluster = Masters(redis);
        var owner = cluster.Nodes[0];
        // One node drops its own claim: the others still give it the slots, so the remedy is to claim them again.
        Assert.Equal("+OK\r\n", owner.Call("CLUSTER", "DELSLOTSRANGE", "100", "199"));
        Assert.True(Env.WaitUntil(() => owner.Info("cluster_state") == "fail", Long, 100));
        var (code, text) = Cinnabar("doctor", Addr(cluster.Nodes[1]));
        Assert.Equal(2, code);
        var f = Find(text, "owner-dropped-slots");
        Assert.Contains("slots: 100-199", f.Text);
        Assert.Contains("master " + Addr(owner), f.Summary);
        RunRemedy(f, "claim them again");
        AssertOk(cluster, cluster.Nodes);

        // Every node forgets them: unassigned everywhere; --fix --yes assigns them to the master with the fewest slots.
        foreach (var n in cluster.Nodes) Assert.Equal("+OK\r\n", n.Call("CLUSTER", "DELSLOTSRANGE", "100", "199"));
        Assert.True(Env.WaitUntil(() => cluster.Nodes.All(n => n.Info("cluster_state") == "fail"), Long, 100));
        (code, text) = Cinnabar("doctor", Addr(cluster.Nodes[1]));
        Assert.Equal(2, code);
        f = Find(text, "slots-unassigned");
        Assert.Contains("slots: 100-199", f.Text);
        Assert.Contains("cluster_slots_assigned:16284", f.Text);
        Assert.Contains($"{Addr(owner)} CLUSTER INFO: cluster_state:fail", f.Text);
        Assert.Contains($"-p {owner.Port} CLUSTER ADDSLOTSRANGE 100 199", f.Text);   // owner has 5361 slots now: the fewest
        var (fixCode, fixText) = Cinnabar("doctor", Addr(cluster.Nodes[1]), "--fix", "--yes");
        Assert.True(fixCode == 0, fixText);
        AssertOk(cluster, cluster.Nodes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorBusyScript(bool redis)
    {
        using var cluster = Masters(redis, extra: new[] { "--busy-reply-threshold", "100" });
        var busy = cluster.Nodes[1];
        using var scriptClient = new RespConnection(busy.Port, TimeSpan.FromSeconds(30));
        scriptClient.Send(RespConnection.Encode(new[] { "EVAL", "local i = 0 while true do i = i + 1 end", "0" }.Select(a => System.Text.Encoding.ASCII.GetBytes(a)).ToArray()));
        Assert.True(Env.WaitUntil(() => busy.Call("PING").StartsWith("-BUSY"), Long, 50));

        var (code, text) = Cinnabar("doctor", Addr(cluster.Nodes[0]));
        Assert.True(code >= 1, text);
        var f = Find(text, "node-busy-script");
        Assert.Contains(Addr(busy) + " is busy running a script", f.Summary);
        Assert.Contains(Addr(busy) + " connection: BUSY Redis is busy running a script", f.Text);
        RunRemedy(f, "stop the script");
        Assert.StartsWith("-ERR Script killed", scriptClient.Call("PING"));   // the EVAL's reply comes first
        Assert.True(Env.WaitUntil(() => busy.Call("PING") == "+PONG\r\n", Long, 50));
        AssertOk(cluster, cluster.Nodes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DoctorSettingsThatDiffer(bool redis)
    {
        using var cluster = Masters(redis);
        var odd = cluster.Nodes[2];
        Assert.Equal("+OK\r\n", odd.Call("CONFIG", "SET", "cluster-node-timeout", "3000"));
        Assert.Equal("+OK\r\n", odd.Call("CONFIG", "SET", "cluster-require-full-coverage", "no"));
        var (code, text) = Cinnabar("doctor", Addr(cluster.Nodes[0]));
        Assert.Equal(1, code);
        var blocks = Findings(text).Where(b => b.Cause == "settings-differ").ToList();
        Assert.Equal(2, blocks.Count);
        var timeout = blocks.Single(b => b.Summary.StartsWith("cluster-node-timeout"));
        Assert.Contains("nodes: " + Addr(odd) + "\n", timeout.Text);
        Assert.Contains(Addr(odd) + " CONFIG GET: cluster-node-timeout 3000", timeout.Text);
        foreach (var b in blocks) RunRemedy(b, "everywhere");
        Assert.True(Env.WaitUntil(() => Cinnabar("doctor", Addr(cluster.Nodes[0])).code == 0, Long, 500));
    }
}
