using System.Text;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>The list family through StackExchange.Redis and raw connections (blocking pops) against a real cinnabar-server.</summary>
public sealed class ListTests : IClassFixture<CinnabarFixture>
{
    readonly ServerProcess server;
    public ListTests(CinnabarFixture f) => server = f.Server;

    ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=5000,allowAdmin=true");

    [Fact]
    public void StackExchangeRedisListCommands()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete(new RedisKey[] { "se:l", "se:l2", "se:s" });
        Assert.Equal(3, db.ListRightPush("se:l", new RedisValue[] { "a", "b", "c" }));
        Assert.Equal(5, db.ListLeftPush("se:l", new RedisValue[] { "y", "z" }));
        Assert.Equal(new[] { "z", "y", "a", "b", "c" }, db.ListRange("se:l").Select(v => (string)v!).ToArray());
        Assert.Equal(5, db.ListLength("se:l"));
        Assert.Equal("a", db.ListGetByIndex("se:l", 2));
        Assert.Equal("c", db.ListGetByIndex("se:l", -1));
        Assert.True(db.ListGetByIndex("se:l", 99).IsNull);
        db.ListSetByIndex("se:l", 0, "Z");
        Assert.Equal(6, db.ListInsertAfter("se:l", "a", "a2"));
        Assert.Equal(7, db.ListInsertBefore("se:l", "a", "a0"));
        Assert.Equal(-1, db.ListInsertBefore("se:l", "missing", "q"));
        Assert.Equal(new[] { "Z", "y", "a0", "a", "a2", "b", "c" }, db.ListRange("se:l").Select(v => (string)v!).ToArray());
        Assert.Equal(3, db.ListPosition("se:l", "a"));
        Assert.Equal(1, db.ListRemove("se:l", "a0"));
        db.ListTrim("se:l", 1, -2);
        Assert.Equal(new[] { "y", "a", "a2", "b" }, db.ListRange("se:l").Select(v => (string)v!).ToArray());
        Assert.Equal("y", db.ListLeftPop("se:l"));
        Assert.Equal(new[] { "b", "a2" }, db.ListRightPop("se:l", 2).Select(v => (string)v!).ToArray());
        Assert.Equal("a", db.ListMove("se:l", "se:l2", ListSide.Left, ListSide.Right));
        Assert.False(db.KeyExists("se:l"));
        Assert.Equal("a", db.ListRightPopLeftPush("se:l2", "se:l2"));
        Assert.Equal(0, db.ListLeftPush("se:none", "x", When.Exists));
        Assert.Equal("list", db.KeyType("se:l2").ToString().ToLowerInvariant());
        Assert.Equal("quicklist", (string)db.Execute("OBJECT", "ENCODING", "se:l2")!);
        db.ListRightPush("se:l2", new RedisValue[] { "b", "c", "d" });
        var popped = db.ListLeftPop(new RedisKey[] { "se:none", "se:l2" }, 3);
        Assert.Equal("se:l2", (string)popped.Key!);
        Assert.Equal(new[] { "a", "b", "c" }, popped.Values.Select(v => (string)v!).ToArray());
        db.StringSet("se:s", "str");
        var e = Assert.Throws<RedisServerException>(() => db.ListLeftPush("se:s", "x"));
        Assert.StartsWith("WRONGTYPE", e.Message);
        db.KeyDelete(new RedisKey[] { "se:l", "se:l2", "se:s" });
    }

    [Fact]
    public void LargeListsMatchAModel()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete("big:l");
        var model = new List<string>();
        var r = new Random(7);
        for (int round = 0; round < 20; round++)
        {
            var batch = Enumerable.Range(0, 1000).Select(i => r.Next(4) == 0 ? new string('v', r.Next(1, 3000)) + i : $"{round}-{i}").ToArray();
            if (round % 2 == 0) { db.ListRightPush("big:l", batch.Select(x => (RedisValue)x).ToArray()); model.AddRange(batch); }
            else { db.ListLeftPush("big:l", batch.Select(x => (RedisValue)x).ToArray()); model.InsertRange(0, batch.Reverse()); }
            int idx = r.Next(model.Count);
            db.ListInsertBefore("big:l", model[idx], "ins" + round);
            model.Insert(model.IndexOf(model[idx]), "ins" + round);
            db.ListSetByIndex("big:l", 500, "set" + round);
            model[500] = "set" + round;
            var pops = db.ListLeftPop("big:l", 100);
            Assert.Equal(model.Take(100).ToArray(), pops.Select(v => (string)v!).ToArray());
            model.RemoveRange(0, 100);
        }
        Assert.Equal(model.Count, db.ListLength("big:l"));
        Assert.Equal(model.ToArray(), db.ListRange("big:l").Select(v => (string)v!).ToArray());
        Assert.Equal(model.Skip(5000).Take(321).ToArray(), db.ListRange("big:l", 5000, 5320).Select(v => (string)v!).ToArray());
        db.KeyDelete("big:l");
    }

    [Fact]
    public void BlockingPopsAreServedInOrderAndTimeOut()
    {
        using var pusher = new RespConnection(server.Port);
        using var c1 = new RespConnection(server.Port);
        using var c2 = new RespConnection(server.Port);
        using var c3 = new RespConnection(server.Port);
        pusher.Call("DEL", "bq", "bq2");
        c1.Send(RespConnection.Encode(Args("BLPOP", "bq", "0")));
        WaitBlocked(pusher, 1);
        c2.Send(RespConnection.Encode(Args("BRPOP", "bq", "0")));
        WaitBlocked(pusher, 2);
        c3.Send(RespConnection.Encode(Args("BLMOVE", "bq", "bq2", "LEFT", "RIGHT", "0")));
        WaitBlocked(pusher, 3);
        Assert.Equal(":3\r\n", pusher.Call("RPUSH", "bq", "a", "b", "c"));
        Assert.Equal("*2\r\n$2\r\nbq\r\n$1\r\na\r\n", RespConnection.Latin1(c1.ReadReply()));
        Assert.Equal("*2\r\n$2\r\nbq\r\n$1\r\nc\r\n", RespConnection.Latin1(c2.ReadReply()));
        Assert.Equal("$1\r\nb\r\n", RespConnection.Latin1(c3.ReadReply()));
        Assert.Equal(":0\r\n", pusher.Call("EXISTS", "bq"));
        Assert.Equal("*1\r\n$1\r\nb\r\n", pusher.Call("LRANGE", "bq2", "0", "-1"));

        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("*-1\r\n", c1.Call("BLPOP", "bq", "0.1"));
        Assert.InRange(sw.ElapsedMilliseconds, 90, 3000);
        Assert.Equal("*-1\r\n", c1.Call("BLMOVE", "bq", "x", "LEFT", "LEFT", "0.05"));
        c1.Call("MULTI");
        c1.Call("BLPOP", "bq", "0");
        c1.Call("BLMOVE", "bq", "x", "LEFT", "LEFT", "0");
        Assert.Equal("*2\r\n*-1\r\n$-1\r\n", c1.Call("EXEC"));
        pusher.Call("DEL", "bq2");

        // CLIENT UNBLOCK: TIMEOUT answers as a timeout would, ERROR with UNBLOCKED.
        string id = c2.Call("CLIENT", "ID").TrimStart(':').TrimEnd();
        c2.Send(RespConnection.Encode(Args("BRPOP", "bq", "0")));
        WaitBlocked(pusher, 1);
        Assert.Equal(":1\r\n", pusher.Call("CLIENT", "UNBLOCK", id, "TIMEOUT"));
        Assert.Equal("*-1\r\n", RespConnection.Latin1(c2.ReadReply()));
        c2.Send(RespConnection.Encode(Args("BLMPOP", "0", "1", "bq", "LEFT")));
        WaitBlocked(pusher, 1);
        Assert.Equal(":1\r\n", pusher.Call("CLIENT", "UNBLOCK", id, "ERROR"));
        Assert.Equal("-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n", RespConnection.Latin1(c2.ReadReply()));
        Assert.Equal(":0\r\n", pusher.Call("CLIENT", "UNBLOCK", id));
    }

    [Fact]
    public void KeyspaceEventsForListCommands()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        var server0 = mux.GetServer($"127.0.0.1:{server.Port}");
        server0.ConfigSet("notify-keyspace-events", "KA");
        try
        {
            var got = new List<string>();
            var sub = mux.GetSubscriber();
            sub.Subscribe(RedisChannel.Pattern("__keyspace@0__:ev:*"), (ch, msg) => { lock (got) got.Add($"{ch}|{msg}"); });
            db.ListRightPush("ev:l", "a");
            db.ListLeftPop("ev:l");
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (DateTime.UtcNow < deadline) { lock (got) if (got.Count >= 3) break; Thread.Sleep(10); }
            lock (got) Assert.Equal(new[] { "__keyspace@0__:ev:l|rpush", "__keyspace@0__:ev:l|lpop", "__keyspace@0__:ev:l|del" }, got.ToArray());
        }
        finally
        {
            server0.ConfigSet("notify-keyspace-events", "");
        }
    }

    static byte[][] Args(params string[] a) => a.Select(Encoding.UTF8.GetBytes).ToArray();

    static void WaitBlocked(RespConnection c, int n)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            if (c.Call("INFO", "clients").Contains($"blocked_clients:{n}\r\n")) return;
            Thread.Sleep(5);
        }
        throw new TimeoutException($"blocked_clients never reached {n}");
    }
}
