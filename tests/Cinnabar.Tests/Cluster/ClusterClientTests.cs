using System.Diagnostics;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Cluster;

/// <summary>Real cluster clients against six Cinnabar masters: StackExchange.Redis and redis-cli -c.</summary>
public sealed class ClusterClientTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StackExchangeRedisDoesAHundredThousandOperationsAcrossSlots()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 6; i++) cluster.Add(redis: false, nodeTimeoutMs: 5000);
        cluster.Form(Long);
        var config = new ConfigurationOptions { AbortOnConnectFail = true, ConnectTimeout = 10000, SyncTimeout = 10000 };
        foreach (var n in cluster.Nodes) config.EndPoints.Add("127.0.0.1", n.Port);
        using var mux = await ConnectionMultiplexer.ConnectAsync(config);
        Assert.Equal(6, mux.GetEndPoints().Length);
        var db = mux.GetDatabase();

        const int keys = 2000, rounds = 25;   // 2 x 2000 x 25 = 100,000 operations
        for (int round = 0; round < rounds; round++)
        {
            var batch = new List<Task>(keys * 2);
            for (int k = 0; k < keys; k++)
            {
                batch.Add(db.StringIncrementAsync($"counter:{k}"));
                batch.Add(db.HashSetAsync($"{{user{k % 97}}}:profile", $"field{k}", round));
            }
            await Task.WhenAll(batch);
        }
        for (int k = 0; k < keys; k += 37) Assert.Equal(rounds, (long)await db.StringGetAsync($"counter:{k}"));
        Assert.Equal(rounds - 1, (long)await db.HashGetAsync("{user5}:profile", "field5"));

        // Keys spread over every master, and each node holds only keys of its own slots.
        long total = 0;
        foreach (var n in cluster.Nodes)
        {
            long size = long.Parse(n.CallText("DBSIZE").Trim(':', '\r', '\n'));
            Assert.True(size > 0, $"node {n.Port} holds no key");
            total += size;
        }
        Assert.Equal(keys + 97, total);

        // A multi-key command across slots is refused; with a hash tag it runs.
        var cross = await Assert.ThrowsAsync<RedisServerException>(() => db.ExecuteAsync("MGET", "counter:1", "counter:2"));
        Assert.StartsWith("CROSSSLOT", cross.Message);
        Assert.Equal(2, ((RedisResult[])(await db.ExecuteAsync("MGET", "{user5}:profile:a", "{user5}:profile:b"))!).Length);
    }

    [Fact]
    public void RedisCliFollowsRedirectsToEverySlot()
    {
        using var cluster = new TestCluster();
        for (int i = 0; i < 3; i++) cluster.Add(redis: false, nodeTimeoutMs: 5000);
        cluster.Form(Long);
        // One key per slot range of 64 slots: SET through one node, GET through another.
        var keys = Enumerable.Range(0, 20000).Select(i => "k" + i)
            .GroupBy(k => Cinnabar.Server.Cluster.KeySlot.Of(System.Text.Encoding.ASCII.GetBytes(k)) / 64)
            .Select(g => g.First()).ToList();
        Assert.Equal(256, keys.Count);
        string sets = string.Join("\n", keys.Select(k => $"SET {k} v{k}")) + "\n";
        string gets = string.Join("\n", keys.Select(k => $"GET {k}")) + "\n";
        var (setReplies, setRedirects) = RedisCli(cluster.Nodes[0].Port, sets);
        Assert.Equal(string.Concat(keys.Select(_ => "OK\n")), setReplies);
        var (getReplies, getRedirects) = RedisCli(cluster.Nodes[2].Port, gets);
        Assert.Equal(string.Concat(keys.Select(k => $"v{k}\n")), getReplies);
        Assert.True(setRedirects > 0 && getRedirects > 0, "redis-cli was never redirected");
    }

    /// <summary>The replies, and how many "-> Redirected to slot" lines redis-cli printed between them.</summary>
    static (string replies, int redirects) RedisCli(int port, string input)
    {
        var psi = new ProcessStartInfo("redis-cli", $"-c -p {port}")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "redis-cli did not finish");
        var lines = output.Result.Split('\n');
        int redirects = lines.Count(l => l.StartsWith("-> Redirected to slot ["));
        return (string.Concat(lines.Where(l => l.Length > 0 && !l.StartsWith("-> Redirected")).Select(l => l + "\n")), redirects);
    }
}
