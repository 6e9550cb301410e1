using System.Diagnostics;
using System.Text;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>
/// Streams through StackExchange.Redis's stream API, a blocking XREAD woken by another client, and a long
/// random workload replayed on redis-server and Cinnabar whose replies and digests must agree.
/// </summary>
public sealed class StreamTests : IClassFixture<CinnabarFixture>
{
    readonly ServerProcess server;
    public StreamTests(CinnabarFixture f) => server = f.Server;

    [Fact]
    public void StackExchangeRedisStreamsAndConsumerGroups()
    {
        using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=5000");
        var db = mux.GetDatabase();
        const string key = "se:stream";
        db.KeyDelete(key);

        var first = db.StreamAdd(key, "sensor", "1");
        Assert.False(first.IsNull);
        var ids = new List<RedisValue> { first };
        for (int i = 2; i <= 20; i++)
            ids.Add(db.StreamAdd(key, new[] { new NameValueEntry("sensor", i), new NameValueEntry("unit", "C") }));
        Assert.Equal(20, db.StreamLength(key));
        Assert.Equal("stream", db.KeyType(key).ToString().ToLowerInvariant());

        var range = db.StreamRange(key, "-", "+", count: 5);
        Assert.Equal(5, range.Length);
        Assert.Equal(first, range[0].Id);
        Assert.Equal("1", range[0]["sensor"]);
        var back = db.StreamRange(key, "-", "+", count: 2, messageOrder: Order.Descending);
        Assert.Equal(ids[^1], back[0].Id);
        Assert.Equal("C", back[0]["unit"]);

        var read = db.StreamRead(key, ids[17]);
        Assert.Equal(2, read.Length);
        Assert.Equal(ids[18], read[0].Id);

        Assert.True(db.StreamCreateConsumerGroup(key, "workers", StreamPosition.Beginning));
        var batch1 = db.StreamReadGroup(key, "workers", "alice", ">", count: 8);
        var batch2 = db.StreamReadGroup(key, "workers", "bob", ">", count: 8);
        Assert.Equal(8, batch1.Length);
        Assert.Equal(8, batch2.Length);
        Assert.Equal(ids[8], batch2[0].Id);

        var pending = db.StreamPending(key, "workers");
        Assert.Equal(16, pending.PendingMessageCount);
        Assert.Equal(ids[0], pending.LowestPendingMessageId);
        Assert.Equal(ids[15], pending.HighestPendingMessageId);
        Assert.Equal(2, pending.Consumers.Length);

        Assert.Equal(3, db.StreamAcknowledge(key, "workers", new[] { ids[0], ids[1], ids[2] }));
        var details = db.StreamPendingMessages(key, "workers", 10, "alice");
        Assert.Equal(5, details.Length);
        Assert.Equal(ids[3], details[0].MessageId);
        Assert.Equal(1, details[0].DeliveryCount);

        var claimed = db.StreamClaim(key, "workers", "carol", 0, new[] { ids[3], ids[4] });
        Assert.Equal(2, claimed.Length);
        var auto = db.StreamAutoClaim(key, "workers", "dave", 0, "0-0", count: 3);
        Assert.Equal(3, auto.ClaimedEntries.Length);
        Assert.Equal(ids[3], auto.ClaimedEntries[0].Id);

        var info = db.StreamInfo(key);
        Assert.Equal(20, info.Length);
        Assert.Equal(1, info.ConsumerGroupCount);
        Assert.Equal(first, info.FirstEntry.Id);
        Assert.Equal(ids[^1], info.LastEntry.Id);
        var groups = db.StreamGroupInfo(key);
        Assert.Single(groups);
        Assert.Equal("workers", groups[0].Name);
        Assert.Equal(13, groups[0].PendingMessageCount);
        Assert.Equal(ids[15], groups[0].LastDeliveredId);
        var consumers = db.StreamConsumerInfo(key, "workers");
        Assert.Equal(new[] { "alice", "bob", "carol", "dave" }, consumers.Select(c => (string)c.Name!).ToArray());

        Assert.Equal(2, db.StreamDelete(key, new[] { ids[19], ids[18] }));
        Assert.Equal(18, db.StreamLength(key));
        Assert.Equal(8, db.StreamTrim(key, 10));
        Assert.Equal(10, db.StreamLength(key));
        Assert.Equal(1, db.StreamDeleteConsumer(key, "workers", "dave") >= 0 ? 1 : 0);
        Assert.True(db.StreamDeleteConsumerGroup(key, "workers"));
        Assert.Empty(db.StreamGroupInfo(key));
    }

    [Fact]
    public void BlockedXReadIsWokenByXAddFromAnotherClient()
    {
        using var reader = server.Connect();
        using var writer = server.Connect();
        writer.Call("DEL", "blk:s");
        writer.Call("XADD", "blk:s", "1-1", "a", "1");
        reader.Send(RespConnection.Encode(new[] { "XREAD", "BLOCK", "5000", "STREAMS", "blk:s", "$" }.Select(Encoding.ASCII.GetBytes).ToArray()));
        Assert.True(Env.WaitUntil(() => writer.Call("INFO", "clients").Contains("blocked_clients:1"), TimeSpan.FromSeconds(5)));
        var sw = Stopwatch.StartNew();
        writer.Call("XADD", "blk:s", "2-1", "b", "2");
        var reply = RespConnection.Latin1(reader.ReadReply());
        Assert.True(sw.ElapsedMilliseconds < 2000, $"woken after {sw.ElapsedMilliseconds} ms");
        Assert.Equal("*1\r\n*2\r\n$5\r\nblk:s\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n", reply);

        // A short BLOCK times out with a null array.
        sw.Restart();
        Assert.Equal("*-1\r\n", reader.Call("XREAD", "BLOCK", "100", "STREAMS", "blk:s", "$"));
        Assert.InRange(sw.ElapsedMilliseconds, 90, 3000);
    }

    [Fact]
    public void RandomWorkloadMatchesRedisRepliesAndDigests()
    {
        using var redis = new ServerProcess(Env.RedisServer, "--enable-debug-command", "yes");
        using var cinnabar = new ServerProcess(Env.CinnabarServer, "--enable-debug-command", "yes");
        using var r = redis.Connect();
        using var c = cinnabar.Connect();
        var rnd = new Random(2626);
        ulong ms = 1;
        string Back(int n) => (ms > (ulong)n ? ms - (ulong)n : 0).ToString();
        var fields = new[] { "f", "field", "123", "-7", "x" };
        var values = new[] { "1", "v", "127", "128", "-4096", "4294967296", new string('y', 80), "", "12345678901234567890123" };
        var problems = new StringBuilder();
        foreach (var conn in new[] { r, c }) conn.Call("CONFIG", "SET", "stream-node-max-entries", "13");
        for (int i = 0; i < 6000; i++)
        {
            string key = "w:" + rnd.Next(3);
            string[] cmd;
            int op = rnd.Next(100);
            if (op < 70)
            {
                ms += (ulong)rnd.Next(0, 3);
                var args = new List<string> { "XADD", key };
                if (rnd.Next(10) == 0) args.AddRange(new[] { "MAXLEN", rnd.Next(2) == 0 ? "~" : "=", rnd.Next(5, 60).ToString() });
                args.Add($"{ms}-{rnd.Next(0, 4)}");
                int pairs = rnd.Next(1, 4);
                for (int p = 0; p < pairs; p++)
                {
                    args.Add(fields[rnd.Next(fields.Length)]);
                    args.Add(values[rnd.Next(values.Length)]);
                }
                cmd = args.ToArray();
            }
            else if (op < 80) cmd = new[] { "XDEL", key, $"{Back(rnd.Next(0, 40))}-{rnd.Next(0, 4)}" };
            else if (op < 85) cmd = new[] { "XTRIM", key, "MINID", rnd.Next(2) == 0 ? "~" : "=", Back(rnd.Next(0, 80)) };
            else if (op < 90) cmd = new[] { "XRANGE", key, Back(rnd.Next(0, 50)), "+", "COUNT", rnd.Next(1, 20).ToString() };
            else if (op < 94) cmd = new[] { "XREVRANGE", key, "+", "(" + Back(rnd.Next(0, 50)), "COUNT", rnd.Next(1, 20).ToString() };
            else cmd = new[] { "XINFO", "STREAM", key };
            string expected = r.Call(cmd), actual = c.Call(cmd);
            if (expected != actual && problems.Length < 4000)
                problems.Append($"{string.Join(' ', cmd)}\n  redis:    {expected}\n  cinnabar: {actual}\n");
        }
        string digest = r.Call("DEBUG", "DIGEST");
        Assert.StartsWith("+", digest);
        Assert.Equal(digest, c.Call("DEBUG", "DIGEST"));
        foreach (var conn in new[] { r, c }) conn.Call("CONFIG", "SET", "stream-node-max-entries", "100");
        Assert.True(problems.Length == 0, problems.ToString());
    }

    [Fact]
    public void RandomConsumerGroupWorkloadMatchesRedis()
    {
        using var redis = new ServerProcess(Env.RedisServer, "--enable-debug-command", "yes");
        using var cinnabar = new ServerProcess(Env.CinnabarServer, "--enable-debug-command", "yes");
        using var r = redis.Connect();
        using var c = cinnabar.Connect();
        var rnd = new Random(7026);
        string[] keys = { "g:1", "g:2" }, groups = { "ga", "gb", "" }, consumers = { "c1", "c2", "c3" };
        ulong ms = 1;
        string Pick(string[] a) => a[rnd.Next(a.Length)];
        string Id()
        {
            int roll = rnd.Next(10);
            if (roll == 0) return Pick(new[] { "-", "+", "0", "$", ">", "(1", "x" });
            ulong m = ms > 30 ? ms - (ulong)rnd.Next(0, 30) : (ulong)rnd.Next(0, (int)ms + 1);
            return roll < 3 ? m.ToString() : $"{m}-{rnd.Next(0, 4)}";
        }
        var problems = new StringBuilder();
        for (int i = 0; i < 5000; i++)
        {
            string k = Pick(keys);
            var cmd = new List<string>();
            int op = rnd.Next(100);
            if (op < 30)
            {
                ms += (ulong)rnd.Next(0, 3);
                cmd.AddRange(new[] { "XADD", k, $"{ms}-{Pick(new[] { "*", "0", "1", "2" })}", Pick(new[] { "f", "g" }), Pick(new[] { "v", "1", "" }) });
            }
            else if (op < 35) cmd.AddRange(new[] { "XDEL", k, Id(), Id() });
            else if (op < 38) cmd.AddRange(new[] { "XTRIM", k, Pick(new[] { "MAXLEN", "MINID" }), Pick(new[] { "~", "=" }), rnd.Next(0, 30).ToString() });
            else if (op < 43) cmd.AddRange(new[] { "XGROUP", "CREATE", k, Pick(groups), Pick(new[] { "$", "0", Id() }), "MKSTREAM" });
            else if (op < 45) cmd.AddRange(new[] { "XGROUP", "SETID", k, Pick(groups), Pick(new[] { "$", "0", Id() }) });
            else if (op < 46) cmd.AddRange(new[] { "XGROUP", "DESTROY", k, Pick(groups) });
            else if (op < 48) cmd.AddRange(new[] { "XGROUP", Pick(new[] { "CREATECONSUMER", "DELCONSUMER" }), k, Pick(groups), Pick(consumers) });
            else if (op < 62)
            {
                cmd.AddRange(new[] { "XREADGROUP", "GROUP", Pick(groups), Pick(consumers), "COUNT", rnd.Next(0, 5).ToString() });
                if (rnd.Next(5) == 0) cmd.Add("NOACK");
                cmd.AddRange(new[] { "STREAMS", k, Pick(new[] { ">", ">", "0", Id() }) });
            }
            else if (op < 70) cmd.AddRange(new[] { "XACK", k, Pick(groups), Id(), Id() });
            else if (op < 75) cmd.AddRange(new[] { "XPENDING", k, Pick(groups) });
            else if (op < 82) cmd.AddRange(new[] { "XCLAIM", k, Pick(groups), Pick(consumers), "0", Id(), Id(), "JUSTID", Pick(new[] { "FORCE", "RETRYCOUNT", "LASTID" }), Id() });
            else if (op < 88) cmd.AddRange(new[] { "XAUTOCLAIM", k, Pick(groups), Pick(consumers), "0", Id(), "COUNT", rnd.Next(0, 4).ToString() });
            else if (op < 94) cmd.AddRange(new[] { "XINFO", "GROUPS", k });
            else if (op < 97) cmd.AddRange(new[] { "XINFO", "STREAM", k });
            else cmd.AddRange(new[] { "XSETID", k, Id() });
            var args = cmd.ToArray();
            string expected = r.Call(args), actual = c.Call(args);
            if (expected != actual && problems.Length < 4000)
                problems.Append($"{string.Join(' ', args)}\n  redis:    {expected}\n  cinnabar: {actual}\n");
        }
        string digest = r.Call("DEBUG", "DIGEST");
        Assert.StartsWith("+", digest);
        Assert.Equal(digest, c.Call("DEBUG", "DIGEST"));
        Assert.True(problems.Length == 0, problems.ToString());
    }
}
