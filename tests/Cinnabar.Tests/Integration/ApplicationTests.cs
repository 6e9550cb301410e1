using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>An application written for standalone Redis, through StackExchange.Redis: every type, a transaction, Pub/Sub, Lua.</summary>
public sealed class ApplicationTests : IClassFixture<CinnabarFixture>
{
    readonly ServerProcess server;
    public ApplicationTests(CinnabarFixture f) => server = f.Server;

    ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=5000");

    [Fact]
    public void EveryDataTypeThroughStackExchangeRedis()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete(new RedisKey[] { "app:s", "app:l", "app:h", "app:set", "app:z", "app:x", "app:hll", "app:geo" });

        Assert.True(db.StringSet("app:s", "v"));
        Assert.Equal("v", db.StringGet("app:s"));

        Assert.Equal(3, db.ListRightPush("app:l", new RedisValue[] { "a", "b", "c" }));
        Assert.Equal(new RedisValue[] { "a", "b", "c" }, db.ListRange("app:l"));
        Assert.Equal("a", db.ListLeftPop("app:l"));

        db.HashSet("app:h", new[] { new HashEntry("f1", "1"), new HashEntry("f2", "2") });
        Assert.Equal(5, db.HashIncrement("app:h", "f1", 4));
        Assert.Equal(2, db.HashLength("app:h"));

        Assert.Equal(3, db.SetAdd("app:set", new RedisValue[] { "x", "y", "z" }));
        Assert.True(db.SetContains("app:set", "y"));

        Assert.True(db.SortedSetAdd("app:z", "m1", 1.5));
        Assert.True(db.SortedSetAdd("app:z", "m2", 0.5));
        Assert.Equal(new RedisValue[] { "m2", "m1" }, db.SortedSetRangeByRank("app:z"));
        Assert.Equal(1.5, db.SortedSetScore("app:z", "m1"));

        var id = db.StreamAdd("app:x", "field", "value");
        Assert.False(id.IsNull);
        var entries = db.StreamRange("app:x");
        Assert.Single(entries);
        Assert.Equal("value", entries[0]["field"]);

        Assert.True(db.HyperLogLogAdd("app:hll", new RedisValue[] { "a", "b", "c", "a" }));
        Assert.Equal(3, db.HyperLogLogLength("app:hll"));

        Assert.True(db.GeoAdd("app:geo", 13.361389, 38.115556, "Palermo"));
        Assert.True(db.GeoAdd("app:geo", 15.087269, 37.502669, "Catania"));
        var dist = db.GeoDistance("app:geo", "Palermo", "Catania", GeoUnit.Kilometers);
        Assert.NotNull(dist);
        Assert.InRange(dist.Value, 166.2, 166.3);
    }

    [Fact]
    public void TransactionCommitsOrAbortsOnWatchedChange()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.StringSet("app:tx", 1);
        var tran = db.CreateTransaction();
        tran.AddCondition(Condition.StringEqual("app:tx", 1));
        _ = tran.StringIncrementAsync("app:tx");
        _ = tran.StringSetAsync("app:tx2", "done");
        Assert.True(tran.Execute());
        Assert.Equal(2, (int)db.StringGet("app:tx"));
        Assert.Equal("done", db.StringGet("app:tx2"));

        var failing = db.CreateTransaction();
        failing.AddCondition(Condition.StringEqual("app:tx", 1));
        _ = failing.StringSetAsync("app:tx", 100);
        Assert.False(failing.Execute());
        Assert.Equal(2, (int)db.StringGet("app:tx"));
    }

    [Fact]
    public void PubSubDeliversMessages()
    {
        using var mux = Connect();
        var sub = mux.GetSubscriber();
        var received = new System.Collections.Concurrent.BlockingCollection<string>();
        sub.Subscribe(RedisChannel.Literal("app:news"), (_, msg) => received.Add(msg));
        sub.Subscribe(RedisChannel.Pattern("app:p*"), (ch, msg) => received.Add(ch + "=" + msg));
        Assert.True(Env.WaitUntil(() => sub.Publish(RedisChannel.Literal("app:news"), "hello") >= 1, TimeSpan.FromSeconds(10), 50));
        Assert.True(received.TryTake(out var first, TimeSpan.FromSeconds(10)));
        Assert.Equal("hello", first);
        sub.Publish(RedisChannel.Literal("app:pattern"), "world");
        Assert.True(received.TryTake(out var second, TimeSpan.FromSeconds(10)));
        Assert.Equal("app:pattern=world", second);
    }

    [Fact]
    public void LuaScriptRunsAtomically()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete("app:lua");
        var result = db.ScriptEvaluate("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], 5)",
            new RedisKey[] { "app:lua" }, new RedisValue[] { 10 });
        Assert.Equal(15, (int)result);
        var error = Assert.Throws<RedisServerException>(() => db.ScriptEvaluate("return redis.call('nosuchcommand')"));
        Assert.Contains("Unknown Redis command called from script", error.Message);
    }

    [Fact]
    public void RedisBenchmarkDefaultTestsRunWithoutErrors()
    {
        var (code, stdout, stderr) = Tool.Run("redis-benchmark", new[] { "-p", server.Port.ToString(), "-q", "-n", "100000" }, timeoutMs: 600_000);
        Assert.Equal(0, code);
        Assert.DoesNotContain("ERR", stdout + stderr);
        Assert.DoesNotContain("WRONGTYPE", stdout + stderr);
        foreach (var test in new[] { "PING_INLINE", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LRANGE_100", "LRANGE_600", "MSET" })
            Assert.Contains(test, stdout);
    }
}
