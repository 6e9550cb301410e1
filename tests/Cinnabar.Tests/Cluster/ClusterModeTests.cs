using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// A fresh cluster-enabled node (no slots yet) against redis-server 7.0 in the same state: the routing errors,
/// the commands cluster mode forbids, the slot questions and the per-connection flags, byte for byte.
/// </summary>
public sealed class ClusterModeTests
{
    static readonly string[][] Commands =
    {
        new[] { "GET", "foo" },
        new[] { "MGET", "a", "b" },
        new[] { "SET", "{a}x", "1" },
        new[] { "SELECT", "1" },
        new[] { "SELECT", "0" },
        new[] { "ASKING" },
        new[] { "READONLY" },
        new[] { "READWRITE" },
        new[] { "CLUSTER", "KEYSLOT", "foo" },
        new[] { "CLUSTER", "KEYSLOT", "{user1000}.following" },
        new[] { "CLUSTER", "KEYSLOT" },
        new[] { "CLUSTER", "COUNTKEYSINSLOT", "5" },
        new[] { "CLUSTER", "COUNTKEYSINSLOT", "x" },
        new[] { "CLUSTER", "COUNTKEYSINSLOT", "16384" },
        new[] { "CLUSTER", "GETKEYSINSLOT", "5", "x" },
        new[] { "CLUSTER", "GETKEYSINSLOT", "99999", "1" },
        new[] { "CLUSTER", "GETKEYSINSLOT", "5", "-1" },
        new[] { "CLUSTER", "GETKEYSINSLOT", "5", "10" },
        new[] { "MOVE", "a", "1" },
        new[] { "SWAPDB", "0", "1" },
        new[] { "COPY", "a", "b", "DB", "1" },
        new[] { "PING" },
        new[] { "EVAL", "return 1", "1", "foo" },
        new[] { "EVAL", "return 1", "0" },
        new[] { "MULTI" },
        new[] { "GET", "foo" },
        new[] { "PING" },
        new[] { "EXEC" },
        new[] { "MULTI" },
        new[] { "PING" },
        new[] { "EXEC" },
        new[] { "XREAD", "STREAMS", "s1", "s2", "0", "0" },
        new[] { "SUBSCRIBE", "ch" },
    };

    static List<string> Replies(string binary)
    {
        using var s = new ServerProcess(binary, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-test.conf");
        using var c = s.Connect();
        return Commands.Select(cmd => c.Call(cmd)).ToList();
    }

    [Fact]
    public void FreshClusterNodeAnswersLikeRedis()
    {
        var expected = Replies(Env.RedisServer);
        var actual = Replies(Env.CinnabarServer);
        for (int i = 0; i < Commands.Length; i++)
            Assert.True(expected[i] == actual[i], $"{string.Join(' ', Commands[i])}\n  redis:    {expected[i]}\n  cinnabar: {actual[i]}");
    }
}
