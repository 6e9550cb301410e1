using System.Text;
using Cinnabar.Server.Storage;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>The sorted set family through StackExchange.Redis against a real cinnabar-server.</summary>
public sealed class SortedSetTests : IClassFixture<CinnabarFixture>
{
    readonly ServerProcess server;
    public SortedSetTests(CinnabarFixture f) => server = f.Server;

    ConnectionMultiplexer Connect() =>
        ConnectionMultiplexer.Connect($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=5000,allowAdmin=true");

    [Fact]
    public void AddScoreRankAndRanges()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete("ss:a");
        Assert.Equal(3, db.SortedSetAdd("ss:a", new[] { new SortedSetEntry("x", 1), new SortedSetEntry("y", 2.5), new SortedSetEntry("z", 3) }));
        Assert.False(db.SortedSetAdd("ss:a", "x", 10, SortedSetWhen.NotExists));
        Assert.False(db.SortedSetAdd("ss:a", "x", 0.5, SortedSetWhen.GreaterThan));
        Assert.False(db.SortedSetAdd("ss:a", "x", 0.5, SortedSetWhen.LessThan)); // updated, but not added
        Assert.Equal(0.5, db.SortedSetScore("ss:a", "x"));
        Assert.Equal(3.5, db.SortedSetIncrement("ss:a", "y", 1));
        Assert.Equal(3, db.SortedSetLength("ss:a"));
        Assert.Equal(2, db.SortedSetLength("ss:a", 1, 4, Exclude.None));
        Assert.Equal(1, db.SortedSetLength("ss:a", 3, 3.5, Exclude.Start));
        Assert.Equal(0, db.SortedSetRank("ss:a", "x"));
        Assert.Equal(0, db.SortedSetRank("ss:a", "y", Order.Descending));
        Assert.Null(db.SortedSetRank("ss:a", "nope"));
        var scores = db.SortedSetScores("ss:a", new RedisValue[] { "z", "nope", "x" });
        Assert.Equal(new double?[] { 3, null, 0.5 }, scores);

        var all = db.SortedSetRangeByRankWithScores("ss:a");
        Assert.Equal(new[] { "x", "z", "y" }, all.Select(e => (string)e.Element!));
        Assert.Equal(new[] { 0.5, 3, 3.5 }, all.Select(e => e.Score));
        Assert.Equal(new[] { "y", "z" }, db.SortedSetRangeByRank("ss:a", 0, 1, Order.Descending).Select(v => (string)v!));
        Assert.Equal(new[] { "z" }, db.SortedSetRangeByScore("ss:a", 1, 3.5, Exclude.Stop).Select(v => (string)v!));
        Assert.Equal(new[] { "y" }, db.SortedSetRangeByScore("ss:a", double.NegativeInfinity, double.PositiveInfinity, Exclude.None, Order.Descending, 0, 1).Select(v => (string)v!));
        Assert.Equal(1, db.SortedSetRangeAndStore("ss:a", "ss:dst", 1, 1));
        Assert.Equal(new[] { "z" }, db.SortedSetRangeByRank("ss:dst").Select(v => (string)v!));
        Assert.True(db.SortedSetRemove("ss:a", "z"));
        Assert.Equal(2, db.SortedSetRemove("ss:a", new RedisValue[] { "x", "y", "nope" }));
        Assert.False(db.KeyExists("ss:a"));
    }

    [Fact]
    public void LexRangesAndRemovals()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete("ss:lex");
        db.SortedSetAdd("ss:lex", "abcdefg".Select(ch => new SortedSetEntry(ch.ToString(), 0)).ToArray());
        Assert.Equal(new[] { "b", "c", "d" }, db.SortedSetRangeByValue("ss:lex", "b", "d").Select(v => (string)v!));
        Assert.Equal(new[] { "c" }, db.SortedSetRangeByValue("ss:lex", "b", "d", Exclude.Both).Select(v => (string)v!));
        Assert.Equal(3, db.SortedSetLengthByValue("ss:lex", "a", "c"));
        Assert.Equal(2, db.SortedSetRemoveRangeByValue("ss:lex", "f", "g"));
        Assert.Equal(2, db.SortedSetRemoveRangeByRank("ss:lex", 0, 1));
        Assert.Equal(3, db.SortedSetRemoveRangeByScore("ss:lex", 0, 0));
        Assert.False(db.KeyExists("ss:lex"));
    }

    [Fact]
    public void SetAlgebraWithWeightsAndAggregates()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete(new RedisKey[] { "ss:u1", "ss:u2", "ss:out" });
        db.SortedSetAdd("ss:u1", new[] { new SortedSetEntry("a", 1), new SortedSetEntry("b", 2) });
        db.SortedSetAdd("ss:u2", new[] { new SortedSetEntry("b", 10), new SortedSetEntry("c", 20) });
        Assert.Equal(3, db.SortedSetCombineAndStore(SetOperation.Union, "ss:out", new RedisKey[] { "ss:u1", "ss:u2" }, new double[] { 2, 1 }));
        Assert.Equal(new[] { 2.0, 14, 20 }, db.SortedSetRangeByRankWithScores("ss:out").Select(e => e.Score));
        Assert.Equal(1, db.SortedSetCombineAndStore(SetOperation.Intersect, "ss:out", new RedisKey[] { "ss:u1", "ss:u2" }, null, Aggregate.Max));
        Assert.Equal(10, db.SortedSetScore("ss:out", "b"));
        Assert.Equal(1, db.SortedSetCombineAndStore(SetOperation.Difference, "ss:out", new RedisKey[] { "ss:u1", "ss:u2" }));
        Assert.Equal(new[] { "a" }, db.SortedSetRangeByRank("ss:out").Select(v => (string)v!));
        var union = db.SortedSetCombineWithScores(SetOperation.Union, new RedisKey[] { "ss:u1", "ss:u2" }, null, Aggregate.Min);
        Assert.Equal(new[] { ("a", 1.0), ("b", 2.0), ("c", 20.0) }, union.Select(e => ((string)e.Element!, e.Score)));
        Assert.Equal(1, db.SortedSetIntersectionLength(new RedisKey[] { "ss:u1", "ss:u2" }));
        Assert.Equal(2L, (long)db.Execute("ZINTERCARD", "1", "ss:u1", "LIMIT", "5"));
    }

    [Fact]
    public void PopsRandomMembersAndScan()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete("ss:big");
        var entries = Enumerable.Range(0, 1000).Select(i => new SortedSetEntry($"m{i:D4}", i % 97)).ToArray();
        Assert.Equal(1000, db.SortedSetAdd("ss:big", entries));
        Assert.Equal("skiplist", (string)db.Execute("OBJECT", "ENCODING", "ss:big")!);

        // ZSCAN with small pages returns every member (the cursor walks the member hash).
        var seen = new HashSet<string>();
        foreach (var e in db.SortedSetScan("ss:big", pageSize: 17)) seen.Add(e.Element!);
        Assert.Equal(1000, seen.Count);

        var rand = db.SortedSetRandomMembers("ss:big", 50);
        Assert.Equal(50, rand.Distinct().Count());
        Assert.Equal(20, db.SortedSetRandomMembers("ss:big", -20).Length);
        Assert.Equal(1000, db.SortedSetRandomMembers("ss:big", 5000).Length);

        var min = db.SortedSetPop("ss:big", 3);
        Assert.Equal(new[] { "m0000", "m0097", "m0194" }, min.Select(e => (string)e.Element!));
        var max = db.SortedSetPop("ss:big", Order.Descending);
        Assert.Equal(96, max!.Value.Score);
        Assert.Equal(996, db.SortedSetLength("ss:big"));
        Assert.Equal(996, db.SortedSetLength("ss:big", double.NegativeInfinity, double.PositiveInfinity));
    }

    [Fact]
    public void BlockingPopIsServedByAnotherClient()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete("ss:block");
        using var waiter = new RespConnection(server.Port);
        waiter.Send(RespConnection.Encode(new[] { "BZPOPMIN", "ss:block", "5" }.Select(Encoding.UTF8.GetBytes).ToArray()));
        Assert.True(Env.WaitUntil(() => ((string)db.Execute("INFO", "clients")!).Contains("blocked_clients:1"), TimeSpan.FromSeconds(5)));
        db.SortedSetAdd("ss:block", new[] { new SortedSetEntry("late", 2), new SortedSetEntry("early", 1) });
        var reply = RespConnection.Latin1(waiter.ReadReply());
        Assert.Equal("*3\r\n$8\r\nss:block\r\n$5\r\nearly\r\n$1\r\n1\r\n", reply);
        Assert.Equal(1, db.SortedSetLength("ss:block"));
        var timeout = db.Execute("BZPOPMIN", "ss:none", "0.05");
        Assert.True(timeout.IsNull);
    }

    [Fact]
    public void GeoCommands()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete(new RedisKey[] { "geo:sicily", "geo:dst" });
        Assert.Equal(2, db.GeoAdd("geo:sicily", new[]
        {
            new GeoEntry(13.361389, 38.115556, "Palermo"),
            new GeoEntry(15.087269, 37.502669, "Catania"),
        }));
        Assert.Equal(3479099956230698, (long)db.SortedSetScore("geo:sicily", "Palermo")!.Value);
        var pos = db.GeoPosition("geo:sicily", "Palermo");
        Assert.NotNull(pos);
        Assert.Equal(13.36138933897018433, pos!.Value.Longitude, 12);
        Assert.Equal(38.11555639549629859, pos.Value.Latitude, 12);
        Assert.Null(db.GeoPosition("geo:sicily", "nope"));
        Assert.Equal(166.2742, db.GeoDistance("geo:sicily", "Palermo", "Catania", GeoUnit.Kilometers));
        Assert.Equal(new[] { "sqc8b49rny0", "sqdtr74hyu0" }, db.GeoHash("geo:sicily", new RedisValue[] { "Palermo", "Catania" }));

        var near = db.GeoRadius("geo:sicily", 15, 37, 200, GeoUnit.Kilometers, order: Order.Ascending, options: GeoRadiusOptions.WithDistance);
        Assert.Equal(new[] { "Catania", "Palermo" }, near.Select(r => r.Member.ToString()));
        Assert.Equal(new double?[] { 56.4413, 190.4424 }, near.Select(r => r.Distance));
        var box = db.GeoSearch("geo:sicily", 15, 37, new GeoSearchBox(400, 400, GeoUnit.Kilometers), count: 1, order: Order.Descending);
        Assert.Equal("Palermo", box.Single().Member.ToString());
        Assert.Equal(2, db.GeoSearchAndStore("geo:sicily", "geo:dst", "Palermo", new GeoSearchCircle(200, GeoUnit.Kilometers), storeDistances: true));
        Assert.Equal(0, db.SortedSetScore("geo:dst", "Palermo"));
        var err = Assert.Throws<RedisServerException>(() => db.Execute("GEOADD", "geo:sicily", "200", "10", "bad"));
        Assert.Equal("ERR invalid longitude,latitude pair 200.000000,10.000000", err.Message);
    }

    [Fact]
    public void TransactionsSeeSortedSets()
    {
        using var mux = Connect();
        var db = mux.GetDatabase();
        db.KeyDelete("ss:tx");
        var tran = db.CreateTransaction();
        tran.AddCondition(Condition.KeyNotExists("ss:tx"));
        var add = tran.SortedSetAddAsync("ss:tx", "a", 1);
        var incr = tran.SortedSetIncrementAsync("ss:tx", "a", 2.5);
        var range = tran.SortedSetRangeByRankWithScoresAsync("ss:tx");
        Assert.True(tran.Execute());
        Assert.True(add.Result);
        Assert.Equal(3.5, incr.Result);
        Assert.Equal(3.5, range.Result.Single().Score);
    }
}

/// <summary>ZSetValue against a plain sorted model, in both encodings, under random operations.</summary>
public sealed class SortedSetModelTests
{
    static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    [Theory]
    [InlineData(128, 1, 300, 20000)]
    [InlineData(0, 2, 300, 20000)]
    [InlineData(40, 3, 300, 20000)]
    [InlineData(0, 4, 20000, 60000)]
    public void RandomOperationsMatchTheModel(int maxListpack, int seed, int universe, int steps)
    {
        var rnd = new Random(seed);
        var z = new ZSetValue();
        var model = new Dictionary<string, double>();
        List<(string m, double s)> Sorted() => model.Select(kv => (kv.Key, kv.Value))
            .OrderBy(e => e.Item2).ThenBy(e => B(e.Item1), Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))).ToList();
        for (int step = 0; step < steps; step++)
        {
            string m = "m" + rnd.Next(universe);
            double s = rnd.Next(4) == 0 ? rnd.Next(10) : Math.Round(rnd.NextDouble() * 100, 2);
            switch (rnd.Next(6))
            {
                case 0:
                case 1:
                case 2:
                    z.Add(B(m), s, ZSetValue.AddIn.None, maxListpack, 64, out _, out _);
                    model[m] = s;
                    break;
                case 3:
                    Assert.Equal(model.Remove(m), z.Remove(B(m)));
                    break;
                case 4:
                {
                    if (universe > 1000 && rnd.Next(20) != 0) goto case 0;
                    var r = new ScoreRange { Min = s, Max = s + 20, MinEx = rnd.Next(2) == 0 };
                    long expected = model.Count(kv => r.GteMin(kv.Value) && r.LteMax(kv.Value));
                    Assert.Equal(expected, z.DeleteRangeByScore(r));
                    foreach (var k in model.Where(kv => r.GteMin(kv.Value) && r.LteMax(kv.Value)).Select(kv => kv.Key).ToList()) model.Remove(k);
                    break;
                }
                default:
                    if (model.Count > 3 && rnd.Next(10) == 0)
                    {
                        int a = rnd.Next(model.Count), b = Math.Min(model.Count - 1, a + rnd.Next(universe > 1000 ? 500 : 5));
                        var sorted = Sorted();
                        Assert.Equal(b - a + 1, z.DeleteRangeByRank(a, b));
                        for (int i = a; i <= b; i++) model.Remove(sorted[i].m);
                    }
                    break;
            }
            if (step % (universe > 1000 ? 4999 : 97) == 0 || step > steps - 100) Check(z, Sorted(), model);
        }
        if (maxListpack == 0) Assert.Equal("skiplist", z.EncodingName);
    }

    static void Check(ZSetValue z, List<(string m, double s)> sorted, Dictionary<string, double> model)
    {
        Assert.Equal(sorted.Count, z.Count);
        int i = 0;
        for (var p = z.First(); z.Valid(p); z.Next(ref p), i++)
        {
            Assert.Equal(sorted[i].m, Encoding.ASCII.GetString(z.MemberAt(p)));
            Assert.Equal(sorted[i].s, z.ScoreAt(p));
            Assert.Equal(i, z.RankOf(p));
        }
        Assert.Equal(sorted.Count, i);
        i = sorted.Count - 1;
        for (var p = z.Last(); z.Valid(p); z.Prev(ref p), i--) Assert.Equal(sorted[i].m, Encoding.ASCII.GetString(z.MemberAt(p)));
        for (int k = 0; k < sorted.Count; k += 7)
        {
            Assert.Equal(k, z.Rank(B(sorted[k].m)));
            Assert.Equal(sorted[k].m, Encoding.ASCII.GetString(z.MemberAt(z.AtRank(k))));
            Assert.True(z.TryGetScore(B(sorted[k].m), out double sc));
            Assert.Equal(model[sorted[k].m], sc);
        }
        var r = new ScoreRange { Min = 30, Max = 60, MaxEx = true };
        int first = sorted.FindIndex(e => r.GteMin(e.s) && r.LteMax(e.s));
        var fp = z.FirstInRange(r);
        if (first < 0) Assert.False(z.Valid(fp));
        else Assert.Equal(first, z.RankOf(fp));
        int last = sorted.FindLastIndex(e => r.GteMin(e.s) && r.LteMax(e.s));
        var lp = z.LastInRange(r);
        if (last < 0) Assert.False(z.Valid(lp));
        else Assert.Equal(last, z.RankOf(lp));
        var copy = (ZSetValue)z.Clone();
        var d1 = new byte[20];
        var d2 = new byte[20];
        z.Digest(d1);
        copy.Digest(d2);
        Assert.Equal(d1, d2);
    }
}
