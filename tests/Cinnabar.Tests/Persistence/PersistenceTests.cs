using System.Text;
using Cinnabar.Tests.Infrastructure;
using Cinnabar.Tests.Integration;
using Xunit;

namespace Cinnabar.Tests.Persistence;

/// <summary>
/// RDB files across real processes: redis-server 7.0 writes, Cinnabar loads (and the reverse, loaded by
/// redis-server with sanitize-dump-payload yes), compared key by key; DEBUG RELOAD; restarts after SHUTDOWN.
/// </summary>
public sealed class PersistenceTests
{
    static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    static string Call(RespConnection c, params string[] args) => c.Call(args);

    static byte[] Raw(RespConnection c, params string[] args) => c.CallRaw(args.Select(B).ToArray());

    /// <summary>Every type and encoding, small and large, with TTLs and stream groups, in three databases.</summary>
    static void Fill(RespConnection c)
    {
        var rnd = new Random(7);
        foreach (var db in new[] { "0", "3", "9" })
        {
            Call(c, "SELECT", db);
            Call(c, "SET", "s:small", "bar");
            Call(c, "SET", "s:int", "12345");
            Call(c, "SET", "s:big", new string('x', 100000));
            Call(c, "SET", "s:comp", string.Concat(Enumerable.Repeat("abc", 100)));
            Call(c, "SET", "s:ttl", "v", "PX", "100000000");
            Call(c, "APPEND", "s:raw", "appended");
            Call(c, "RPUSH", "l:small", "a", "b", "1", "2", "-300", "70000");
            Call(c, new[] { "RPUSH", "l:big" }.Concat(Enumerable.Range(0, 5000).Select(i => new string('q', i % 13) + i)).ToArray());
            Call(c, new[] { "LPUSH", "l:bigl" }.Concat(Enumerable.Range(0, 5000).Select(i => "e" + i)).ToArray());
            Call(c, "LINSERT", "l:big", "BEFORE", "qqqq2500", "inserted");
            Call(c, "SADD", "set:int", "1", "2", "3", "-70000");
            Call(c, "SADD", "set:str", "a", "b", "c");
            Call(c, new[] { "SADD", "set:bigint" }.Concat(Enumerable.Range(0, 1000).Select(i => i.ToString())).ToArray());
            Call(c, "ZADD", "z:lp", "1", "a", "2.5", "b", "inf", "c", "-1e300", "d");
            Call(c, new[] { "ZADD", "z:sk" }.Concat(Enumerable.Range(0, 500).SelectMany(i => new[] { (rnd.NextDouble() * 100).ToString("R"), "m" + i })).ToArray());
            Call(c, "HSET", "h:lp", "f1", "v1", "f2", "22", "f3", new string('y', 60));
            Call(c, "EXPIRE", "h:lp", "100000");
            Call(c, new[] { "HSET", "h:ht" }.Concat(Enumerable.Range(0, 1000).SelectMany(i => new[] { "f" + i, "v" + i })).ToArray());
            Call(c, "PFADD", "hll:s", "a", "b", "c");
            Call(c, new[] { "PFADD", "hll:d" }.Concat(Enumerable.Range(0, 3000).Select(i => "e" + i)).ToArray());
            for (int i = 0; i < 250; i++) Call(c, "XADD", "st", $"{1000 + i / 2}-{i % 2}", "a", i.ToString(), "b", new string('v', i % 5));
            Call(c, "XADD", "st", "2000-0", "other", "fields");
            Call(c, "XDEL", "st", "1010-1");
            Call(c, "XGROUP", "CREATE", "st", "g1", "0");
            Call(c, "XGROUP", "CREATE", "st", "g2", "$");
            Call(c, "XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "st", ">");
            Call(c, "XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "st", ">");
            Call(c, "XACK", "st", "g1", "1000-1");
            Call(c, "XGROUP", "CREATECONSUMER", "st", "g2", "carol");
            Call(c, "XADD", "st:empty", "5-5", "f", "v");
            Call(c, "XDEL", "st:empty", "5-5");
            Call(c, "SET", "gone", "x", "PX", "1");
        }
        // let the short TTLs pass, and expire those keys (a file may still carry them: loaders skip them)
        foreach (var db in new[] { "0", "3", "9" })
        {
            Call(c, "SELECT", db);
            Assert.True(Env.WaitUntil(() => Call(c, "EXISTS", "gone") == ":0\r\n", TimeSpan.FromSeconds(5)));
        }
        Call(c, "SELECT", "0");
    }

    static readonly HashSet<string> HashOrdered = new() { "set:str", "set:bigint", "h:ht" };

    /// <summary>Compares every key of a and b: DUMP where Redis's output is deterministic, digests otherwise, TTLs, encodings.</summary>
    static void AssertSameKeyspace(RespConnection a, RespConnection b)
    {
        foreach (var db in new[] { "0", "3", "9" })
        {
            Call(a, "SELECT", db);
            Call(b, "SELECT", db);
            Assert.Equal(Call(a, "DBSIZE"), Call(b, "DBSIZE"));
            var keys = Call(a, "KEYS", "*").Split("\r\n").Where(l => l.Length > 0 && l[0] != '*' && l[0] != '$').OrderBy(k => k).ToList();
            Assert.NotEmpty(keys);
            Assert.DoesNotContain("gone", keys);
            foreach (var k in keys)
            {
                Assert.Equal(Call(a, "DEBUG", "DIGEST-VALUE", k), Call(b, "DEBUG", "DIGEST-VALUE", k));
                Assert.Equal(Call(a, "OBJECT", "ENCODING", k), Call(b, "OBJECT", "ENCODING", k));
                long ta = long.Parse(Call(a, "PTTL", k)[1..^2]), tb = long.Parse(Call(b, "PTTL", k)[1..^2]);
                Assert.True(Math.Abs(ta - tb) < 10_000, $"{k}: ttl {ta} vs {tb}");
                bool timestamps = k == "st";    // consumer seen-times and delivery times are clock readings
                if (!HashOrdered.Contains(k) && !timestamps)
                    Assert.True(Raw(a, "DUMP", k).AsSpan().SequenceEqual(Raw(b, "DUMP", k)), $"DUMP of {k} in db {db} differs");
            }
            Assert.Equal(Call(a, "XINFO", "STREAM", "st", "FULL"), Call(b, "XINFO", "STREAM", "st", "FULL"));
        }
        Call(a, "SELECT", "0");
        Call(b, "SELECT", "0");
        Assert.Equal(Call(a, "DEBUG", "DIGEST"), Call(b, "DEBUG", "DIGEST"));
    }

    [Fact]
    public void RedisFileLoadsIntoCinnabarAndCinnabarFileLoadsIntoRedis()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-rdb-").FullName;
        try
        {
            using (var redis = new ServerProcess(Env.RedisServer, "--dir", dir, "--enable-debug-command", "yes"))
            using (var rc = redis.Connect())
            {
                Fill(rc);
                Assert.Equal("+OK\r\n", Call(rc, "SAVE"));
            }
            // The same file into both servers: redis-server's own reload is the reference for encodings.
            using var reference = new ServerProcess(Env.RedisServer, "--dir", dir, "--enable-debug-command", "yes");
            using var cinnabar = new ServerProcess(Env.CinnabarServer, "--dir", dir, "--enable-debug-command", "yes");
            using var a = reference.Connect();
            using var b = cinnabar.Connect();
            string log = cinnabar.WaitForOutput("DB loaded from disk");
            Assert.Contains("Loading RDB produced by version 7.0.15", log);
            Assert.Contains("RDB memory usage when created", log);
            Assert.Matches(@"Done loading RDB, keys loaded: \d+, keys expired: \d+\.", log);
            AssertSameKeyspace(a, b);

            // Reverse: Cinnabar writes, redis-server loads it with deep sanitization.
            string dir2 = Directory.CreateTempSubdirectory("cinnabar-rdb-").FullName;
            try
            {
                File.Delete(Path.Combine(dir, "dump.rdb"));
                Assert.Equal("+OK\r\n", Call(b, "SAVE"));
                Assert.Empty(Directory.GetFiles(dir, "temp-*.rdb"));
                File.Copy(Path.Combine(dir, "dump.rdb"), Path.Combine(dir2, "dump.rdb"));
                using var back = new ServerProcess(Env.RedisServer, "--dir", dir2, "--enable-debug-command", "yes", "--sanitize-dump-payload", "yes");
                using var c = back.Connect();
                AssertSameKeyspace(b, c);
            }
            finally { Directory.Delete(dir2, true); }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void DebugReloadKeepsDataAndRestartAfterShutdownKeepsData()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-rdb-").FullName;
        try
        {
            string digest;
            using (var s = new ServerProcess(Env.CinnabarServer, "--dir", dir, "--enable-debug-command", "yes", "--save", "3600 1"))
            using (var c = s.Connect())
            {
                Fill(c);
                Assert.Equal("$5\r\nmylib\r\n", Call(c, "FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)"));
                digest = Call(c, "DEBUG", "DIGEST");
                Assert.Equal("+OK\r\n", Call(c, "DEBUG", "RELOAD"));
                Assert.Equal(digest, Call(c, "DEBUG", "DIGEST"));
                Assert.Equal(":1\r\n", Call(c, "FCALL", "f1", "0"));
                Assert.Contains("DB reloaded by DEBUG RELOAD", s.WaitForOutput("DB reloaded by DEBUG RELOAD"));
                Assert.Equal("-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n", Call(c, "DEBUG", "RELOAD", "BOGUS"));
                long lastsave = long.Parse(Call(c, "LASTSAVE")[1..^2]);
                Assert.True(Math.Abs(lastsave - DateTimeOffset.UtcNow.ToUnixTimeSeconds()) < 60);
                c.Send(RespConnection.Encode(new[] { B("SHUTDOWN") }));
                Assert.True(s.Process.WaitForExit(20_000));
                Assert.Contains("Saving the final RDB snapshot before exiting.", s.WaitForOutput("Saving the final RDB snapshot"));
            }
            using (var s = new ServerProcess(Env.CinnabarServer, "--dir", dir, "--enable-debug-command", "yes"))
            using (var c = s.Connect())
            {
                Assert.Equal(digest, Call(c, "DEBUG", "DIGEST"));
                Assert.Equal(":1\r\n", Call(c, "FCALL", "f1", "0"));
                // SHUTDOWN NOSAVE leaves the file as it was
                Call(c, "SET", "after", "1");
                c.Send(RespConnection.Encode(new[] { B("SHUTDOWN"), B("NOSAVE") }));
                Assert.True(s.Process.WaitForExit(20_000));
            }
            using (var s = new ServerProcess(Env.CinnabarServer, "--dir", dir, "--enable-debug-command", "yes"))
            using (var c = s.Connect())
            {
                Assert.Equal(digest, Call(c, "DEBUG", "DIGEST"));
                Assert.Equal(":0\r\n", Call(c, "EXISTS", "after"));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CorruptFileStopsStartupWithRedisMessages()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-rdb-").FullName;
        try
        {
            using (var s = new ServerProcess(Env.CinnabarServer, "--dir", dir))
            using (var c = s.Connect())
            {
                Call(c, "SET", "k", "v");
                Assert.Equal("+OK\r\n", Call(c, "SAVE"));
            }
            var bytes = File.ReadAllBytes(Path.Combine(dir, "dump.rdb"));
            bytes[^3] ^= 0xFF;   // inside the checksum
            File.WriteAllBytes(Path.Combine(dir, "dump.rdb"), bytes);
            var (code, stdout, _) = Tool.Run(Env.CinnabarServer, new[] { "--port", Env.FreePort().ToString(), "--bind", "127.0.0.1", "--dir", dir, "--save", "" });
            Assert.Equal(1, code);
            Assert.Contains("Wrong RDB checksum expected", stdout);
            // rdbchecksum no: a zero checksum is accepted
            using (var s = new ServerProcess(Env.CinnabarServer, "--dir", dir, "--rdbchecksum", "no"))
            using (var c = s.Connect())
            {
                Call(c, "SET", "k2", "v2");
                Assert.Equal("+OK\r\n", Call(c, "SAVE"));
            }
            Assert.Equal(new byte[8], File.ReadAllBytes(Path.Combine(dir, "dump.rdb"))[^8..]);
            using (var s = new ServerProcess(Env.CinnabarServer, "--dir", dir))
            using (var c = s.Connect())
                Assert.Equal("$2\r\nv2\r\n", Call(c, "GET", "k2"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
