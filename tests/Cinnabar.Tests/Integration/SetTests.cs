using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>The set family through StackExchange.Redis and redis-benchmark against a real cinnabar-server.</summary>
public sealed class SetTests : IClassFixture<CinnabarFixture>
{
    readonly int port;
    public SetTests(CinnabarFixture f) => port = f.Server.Port;

    IDatabase Db(out ConnectionMultiplexer mux)
    {
        mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},abortConnect=false,connectTimeout=5000,allowAdmin=true");
        return mux.GetDatabase();
    }

    static string[] Sorted(RedisValue[] values) => values.Select(v => (string)v!).OrderBy(s => s, StringComparer.Ordinal).ToArray();

    [Fact]
    public void MembersAndAlgebra()
    {
        var db = Db(out var mux);
        using var owner = mux;
        Assert.Equal(3, db.SetAdd("s:a", new RedisValue[] { 3, 1, 2, 1 }));
        Assert.Equal("intset", (string)db.Execute("OBJECT", "ENCODING", "s:a")!);
        // An intset answers in ascending order.
        Assert.Equal(new[] { "1", "2", "3" }, db.SetMembers("s:a").Select(v => (string)v!).ToArray());
        Assert.True(db.SetAdd("s:a", "x"));
        Assert.Equal("hashtable", (string)db.Execute("OBJECT", "ENCODING", "s:a")!);
        Assert.Equal(4, db.SetLength("s:a"));
        Assert.True(db.SetContains("s:a", "x"));
        Assert.Equal(new[] { true, false }, db.SetContains("s:a", new RedisValue[] { 1, 9 }));
        Assert.True(db.SetRemove("s:a", "x"));
        db.SetAdd("s:b", new RedisValue[] { 2, 3, 4 });
        Assert.Equal(new[] { "2", "3" }, Sorted(db.SetCombine(SetOperation.Intersect, "s:a", "s:b")));
        Assert.Equal(new[] { "1", "2", "3", "4" }, Sorted(db.SetCombine(SetOperation.Union, "s:a", "s:b")));
        Assert.Equal(new[] { "1" }, Sorted(db.SetCombine(SetOperation.Difference, "s:a", "s:b")));
        Assert.Equal(2, db.SetCombineAndStore(SetOperation.Intersect, "s:dst", "s:a", "s:b"));
        Assert.Equal(4, db.SetCombineAndStore(SetOperation.Union, "s:dst", "s:a", "s:b"));
        Assert.Equal(1, db.SetCombineAndStore(SetOperation.Difference, "s:dst", "s:a", "s:b"));
        Assert.Equal(0, db.SetCombineAndStore(SetOperation.Intersect, "s:dst", "s:a", "s:missing"));
        Assert.False(db.KeyExists("s:dst"));
        Assert.Equal(2, db.SetIntersectionLength(new RedisKey[] { "s:a", "s:b" }));
        Assert.Equal(1, db.SetIntersectionLength(new RedisKey[] { "s:a", "s:b" }, 1));
        Assert.True(db.SetMove("s:a", "s:c", 1));
        Assert.False(db.SetMove("s:a", "s:c", 1));
        Assert.Equal(new[] { "1" }, Sorted(db.SetMembers("s:c")));
        db.StringSet("s:string", "v");
        var ex = Assert.Throws<RedisServerException>(() => db.SetAdd("s:string", "m"));
        Assert.StartsWith("WRONGTYPE", ex.Message);
    }

    [Fact]
    public void PopAndRandomMembersFollowTheCountRules()
    {
        var db = Db(out var mux);
        using var owner = mux;
        foreach (var (key, prefix) in new[] { ("s:ints", ""), ("s:strs", "m") })
        {
            db.SetAdd(key, Enumerable.Range(0, 1000).Select(i => (RedisValue)(prefix + i)).ToArray());
            Assert.Equal("hashtable", (string)db.Execute("OBJECT", "ENCODING", key)!);
            var distinct = db.SetRandomMembers(key, 700);
            Assert.Equal(700, distinct.Distinct().Count());
            Assert.Equal(1000, db.SetRandomMembers(key, 5000).Length);
            Assert.Equal(3000, db.SetRandomMembers(key, -3000).Length);
            var popped = new HashSet<string>();
            foreach (int n in new[] { 1, 10, 100, 300, 500 })
            {
                var got = db.SetPop(key, n);
                Assert.Equal(n, got.Length);
                foreach (var v in got) Assert.True(popped.Add((string)v!));
            }
            Assert.Equal(89, db.SetLength(key));
            foreach (var v in db.SetPop(key, 1000)) Assert.True(popped.Add((string)v!));
            Assert.Equal(1000, popped.Count);
            Assert.False(db.KeyExists(key));
            Assert.True(db.SetPop(key).IsNull);
        }
    }

    [Fact]
    public void ScanVisitsEveryMemberOnce()
    {
        var db = Db(out var mux);
        using var owner = mux;
        db.SetAdd("s:scan", Enumerable.Range(0, 3000).Select(i => (RedisValue)$"m{i}").ToArray());
        var seen = db.SetScan("s:scan", pageSize: 41).Select(v => (string)v!).ToList();
        Assert.Equal(3000, seen.Count);
        Assert.Equal(3000, seen.Distinct().Count());
        Assert.Equal(1111, db.SetScan("s:scan", "m1*", pageSize: 100).Count());
        db.SetAdd("s:scanints", Enumerable.Range(0, 100).Select(i => (RedisValue)i).ToArray());
        Assert.Equal(Enumerable.Range(0, 100).Select(i => i.ToString()).ToArray(),
            db.SetScan("s:scanints", pageSize: 5).Select(v => (string)v!).ToArray());
    }

    [Fact]
    public void RedisBenchmarkSetTestsRunWithoutErrors()
    {
        var (code, stdout, stderr) = Tool.Run("redis-benchmark",
            new[] { "-p", port.ToString(), "-q", "-n", "50000", "-r", "1000", "-t", "sadd,spop" });
        Assert.Equal(0, code);
        Assert.DoesNotContain("ERR", stdout + stderr);
        Assert.Contains("SADD:", stdout);
        Assert.Contains("SPOP:", stdout);
    }
}
