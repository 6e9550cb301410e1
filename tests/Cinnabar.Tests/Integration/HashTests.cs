using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>The hash family through StackExchange.Redis and redis-benchmark against a real cinnabar-server.</summary>
public sealed class HashTests : IClassFixture<CinnabarFixture>
{
    readonly int port;
    public HashTests(CinnabarFixture f) => port = f.Server.Port;

    IDatabase Db(out ConnectionMultiplexer mux)
    {
        mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},abortConnect=false,connectTimeout=5000,allowAdmin=true");
        return mux.GetDatabase();
    }

    [Fact]
    public void FieldsValuesAndCounters()
    {
        var db = Db(out var mux);
        using var owner = mux;
        Assert.True(db.HashSet("h:basic", "a", "1"));
        db.HashSet("h:basic", new HashEntry[] { new("b", "two"), new("c", "3") });
        Assert.False(db.HashSet("h:basic", "a", "one"));
        Assert.False(db.HashSet("h:basic", "a", "x", When.NotExists));
        Assert.True(db.HashSet("h:basic", "d", "x", When.NotExists));
        Assert.Equal("one", db.HashGet("h:basic", "a"));
        Assert.True(db.HashGet("h:basic", "nosuch").IsNull);
        var many = db.HashGet("h:basic", new RedisValue[] { "a", "nosuch", "c" });
        Assert.Equal(new RedisValue[] { "one", RedisValue.Null, "3" }, many);
        // A listpack hash answers in insertion order.
        Assert.Equal(new[] { "a", "b", "c", "d" }, db.HashKeys("h:basic").Select(k => (string)k!).ToArray());
        Assert.Equal(new[] { "one", "two", "3", "x" }, db.HashValues("h:basic").Select(k => (string)k!).ToArray());
        Assert.Equal(4, db.HashLength("h:basic"));
        Assert.Equal(3, db.HashStringLength("h:basic", "b"));
        Assert.True(db.HashExists("h:basic", "c"));
        Assert.Equal(2, db.HashDelete("h:basic", new RedisValue[] { "c", "d", "zz" }));
        Assert.Equal(new[] { "a=one", "b=two" }, db.HashGetAll("h:basic").Select(e => $"{e.Name}={e.Value}").ToArray());
        Assert.Equal(15, db.HashIncrement("h:basic", "n", 15));
        Assert.Equal(10, db.HashDecrement("h:basic", "n", 5));
        Assert.Equal(11.5, db.HashIncrement("h:basic", "n", 1.5));
        var ex = Assert.Throws<RedisServerException>(() => db.HashIncrement("h:basic", "a", 1));
        Assert.Equal("ERR hash value is not an integer", ex.Message);
        db.StringSet("h:string", "v");
        ex = Assert.Throws<RedisServerException>(() => db.HashGet("h:string", "f"));
        Assert.StartsWith("WRONGTYPE", ex.Message);
        Assert.Equal(3, db.HashDelete("h:basic", new RedisValue[] { "a", "b", "n" }));
        Assert.False(db.KeyExists("h:basic"));
    }

    [Fact]
    public void BigHashesConvertAndScanCompletely()
    {
        var db = Db(out var mux);
        using var owner = mux;
        var entries = Enumerable.Range(0, 2000).Select(i => new HashEntry($"f{i}", $"v{i}")).ToArray();
        db.HashSet("h:big", entries.Take(512).ToArray());
        Assert.Equal("listpack", (string)db.Execute("OBJECT", "ENCODING", "h:big")!);
        db.HashSet("h:big", entries.Skip(512).ToArray());
        Assert.Equal("hashtable", (string)db.Execute("OBJECT", "ENCODING", "h:big")!);
        Assert.Equal(2000, db.HashLength("h:big"));
        // HSCAN with small pages returns every field exactly once.
        var seen = db.HashScan("h:big", pageSize: 37).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.Equal(2000, seen.Count);
        Assert.Equal("v1234", seen["f1234"]);
        var matched = db.HashScan("h:big", "f19*", pageSize: 50).Select(e => (string)e.Name!).OrderBy(x => x).ToArray();
        Assert.Equal(111, matched.Length);
        for (int i = 0; i < 1990; i++) db.HashDelete("h:big", $"f{i}");
        Assert.Equal(10, db.HashScan("h:big", pageSize: 3).Count());
        Assert.Equal("hashtable", (string)db.Execute("OBJECT", "ENCODING", "h:big")!);
        // A long value converts a small hash too.
        db.HashSet("h:long", "f", new string('x', 65));
        Assert.Equal("hashtable", (string)db.Execute("OBJECT", "ENCODING", "h:long")!);
    }

    [Fact]
    public void RandomFieldsFollowTheCountRules()
    {
        var db = Db(out var mux);
        using var owner = mux;
        foreach (var (key, n) in new[] { ("h:rand:small", 50), ("h:rand:big", 1000) })
        {
            db.HashSet(key, Enumerable.Range(0, n).Select(i => new HashEntry($"f{i}", i)).ToArray());
            Assert.StartsWith("f", (string)db.HashRandomField(key)!);
            var distinct = db.HashRandomFields(key, 20).Select(v => (string)v!).ToArray();
            Assert.Equal(20, distinct.Distinct().Count());
            Assert.Equal(n, db.HashRandomFields(key, n * 2).Length);
            var repeats = db.HashRandomFields(key, -3 * n);
            Assert.Equal(3 * n, repeats.Length);
            var pairs = db.HashRandomFieldsWithValues(key, 10);
            Assert.Equal(10, pairs.Length);
            Assert.All(pairs, p => Assert.Equal((string)p.Name!, "f" + (string)p.Value!));
        }
        // Distinct picks from a listpack keep the hash's order.
        var ordered = db.HashRandomFields("h:rand:small", 10).Select(v => int.Parse(((string)v!)[1..])).ToArray();
        Assert.Equal(ordered.OrderBy(x => x).ToArray(), ordered);
        Assert.True(db.HashRandomField("h:rand:missing").IsNull);
    }

    [Fact]
    public void TransactionsSeeHashWrites()
    {
        var db = Db(out var mux);
        using var owner = mux;
        var tx = db.CreateTransaction();
        tx.AddCondition(Condition.HashNotExists("h:tx", "done"));
        var inc = tx.HashIncrementAsync("h:tx", "n", 5);
        var set = tx.HashSetAsync("h:tx", "done", "1");
        Assert.True(tx.Execute());
        Assert.Equal(5, inc.Result);
        Assert.True(set.Result);
        var tx2 = db.CreateTransaction();
        tx2.AddCondition(Condition.HashNotExists("h:tx", "done"));
        _ = tx2.HashIncrementAsync("h:tx", "n", 5);
        Assert.False(tx2.Execute());
        Assert.Equal(5, (long)db.HashGet("h:tx", "n"));
    }

    [Fact]
    public void RedisBenchmarkHsetRunsWithoutErrors()
    {
        var (code, stdout, stderr) = Tool.Run("redis-benchmark",
            new[] { "-p", port.ToString(), "-q", "-n", "50000", "-r", "1000", "-t", "hset" });
        Assert.Equal(0, code);
        Assert.DoesNotContain("ERR", stdout + stderr);
        Assert.Contains("HSET:", stdout);
    }
}
