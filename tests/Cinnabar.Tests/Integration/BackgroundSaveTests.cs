using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>
/// BGSAVE without fork: the file holds the dataset of the moment BGSAVE was answered, however the keyspace
/// changes while it is written; save points start it; a failing disk turns writes away with MISCONF until a
/// later save succeeds by itself.
/// </summary>
public sealed class BackgroundSaveTests
{
    static string Info(RespConnection c, string field)
    {
        var m = Regex.Match(c.Call("INFO", "persistence"), field + @":([^\r]*)");
        Assert.True(m.Success, field);
        return m.Groups[1].Value;
    }

    static void Fill(RespConnection c, Random r)
    {
        c.Call("DEBUG", "POPULATE", "30000", "key", "20");
        for (int i = 0; i < 300; i++)
        {
            c.Call("HSET", $"hash{i}", "a", "1", "b", new string('x', r.Next(1, 100)));
            c.Call("RPUSH", $"list{i}", "a", "b", i.ToString());
            c.Call("ZADD", $"zset{i}", "1.5", "a", "2", "b");
            c.Call("SADD", $"set{i}", "1", "2", i.ToString());
            c.Call("XADD", $"stream{i}", "*", "f", "v");
            c.Call("PFADD", $"hll{i}", "a", "b", "c");
            c.Call("SET", $"ttl{i}", "v", "EX", "10000");
        }
        c.Call("SELECT", "3");
        c.Call("DEBUG", "POPULATE", "2000", "db3key", "10");
        c.Call("SELECT", "0");
    }

    static void MutateEverything(RespConnection c, Random r)
    {
        for (int i = 0; i < 3000; i++)
        {
            int k = r.Next(30000), j = r.Next(300);
            switch (r.Next(14))
            {
                case 0: c.Call("SET", $"key:{k}", "changed"); break;
                case 1: c.Call("DEL", $"key:{k}"); break;
                case 2: c.Call("APPEND", $"key:{k}", "tail"); break;
                case 3: c.Call("HSET", $"hash{j}", "c", "new"); break;
                case 4: c.Call("LPOP", $"list{j}"); break;
                case 5: c.Call("ZINCRBY", $"zset{j}", "3", "a"); break;
                case 6: c.Call("SPOP", $"set{j}"); break;
                case 7: c.Call("XADD", $"stream{j}", "*", "g", "w"); break;
                case 8: c.Call("PERSIST", $"ttl{j}"); break;
                case 9: c.Call("RENAME", $"key:{k}", $"renamed{i}"); break;
                case 10: c.Call("SET", $"fresh{i}", "new key"); break;
                case 11: c.Call("MOVE", $"key:{k}", "5"); break;
                case 12: c.Call("EVAL", "redis.call('incr', KEYS[1]) return redis.call('del', KEYS[2])", "2", $"counter{j}", $"key:{k}"); break;
                default: c.Call("EXPIRE", $"key:{k}", "5000"); break;
            }
        }
        c.Call("SWAPDB", "3", "4");
        c.Call("SELECT", "4");
        c.Call("FLUSHDB");
        c.Call("SELECT", "0");
    }

    [Fact]
    public void BgsaveWritesThePointInTimeDatasetThatRedisAndCinnabarLoad()
    {
        var r = new Random(7);
        string digest, dir;
        using (var s = new ServerProcess(Env.CinnabarServer, "--enable-debug-command", "yes"))
        {
            using var c = s.Connect();
            Fill(c, r);
            // Meter the snapshot out (about 3 s for the dataset) so that every write below overlaps it.
            Assert.Equal("+OK\r\n", c.Call("CONFIG", "SET", "rdb-key-save-delay", "80"));
            Assert.Equal("+Background saving started\r\n", c.Call("BGSAVE"));
            digest = c.Call("DEBUG", "DIGEST");
            Assert.Equal("-ERR Background save already in progress\r\n", c.Call("BGSAVE"));
            Assert.Equal("-ERR Background save already in progress\r\n", c.Call("SAVE"));
            MutateEverything(c, r);
            Assert.Equal("1", Info(c, "rdb_bgsave_in_progress"));
            Assert.True(long.Parse(Info(c, "current_save_keys_processed")) < long.Parse(Info(c, "current_save_keys_total")));
            Assert.NotEqual(digest, c.Call("DEBUG", "DIGEST"));
            Assert.True(Env.WaitUntil(() => Info(c, "rdb_bgsave_in_progress") == "0", TimeSpan.FromSeconds(60)));
            Assert.Equal("ok", Info(c, "rdb_last_bgsave_status"));
            Assert.Equal("1", Info(c, "rdb_saves"));
            Assert.Contains("Background saving terminated with success", s.WaitForOutput("Background saving terminated with success"));
            dir = Path.Combine(Path.GetTempPath(), "cinnabar-bgsave-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            File.Copy(Path.Combine(s.Dir, "dump.rdb"), Path.Combine(dir, "dump.rdb"));
        }
        try
        {
            foreach (var binary in new[] { Env.RedisServer, Env.CinnabarServer })
            {
                using var loaded = new ServerProcess(binary, "--dir", dir, "--enable-debug-command", "yes");
                using var c = loaded.Connect();
                Assert.Equal(digest, c.Call("DEBUG", "DIGEST"));
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>
    /// Every command family, fuzzed against keys the snapshot has not reached yet: whatever a command does to a
    /// key, the file must still hold the key as it was (a command that changed a value without the lookup
    /// that copies it first would show here as a digest difference).
    /// </summary>
    [Fact]
    public void FuzzedCommandsDuringBgsaveLeaveTheFileAtItsStartingPoint()
    {
        var r = new Random(99);
        string digest, dir = Path.Combine(Path.GetTempPath(), "cinnabar-bgsave-fuzz-" + Guid.NewGuid().ToString("N"));
        using (var s = new ServerProcess(Env.CinnabarServer, "--enable-debug-command", "yes"))
        {
            using var c = s.Connect();
            var commands = Differential.CommandFuzzTests.ImplementedCommands(c);
            // Filler first, so the walk reaches the fuzzed keys last; then give those keys values of every type.
            c.Call("DEBUG", "POPULATE", "3000", "filler");
            for (int i = 0; i < 4000; i++)
            {
                var args = new List<byte[]> { System.Text.Encoding.ASCII.GetBytes(commands[r.Next(commands.Count)]) };
                for (int a = r.Next(0, 7); a > 0; a--) args.Add(Differential.CommandFuzzTests.RandomArg(r));
                c.CallRaw(args);
            }
            Assert.Equal("+OK\r\n", c.Call("CONFIG", "SET", "rdb-key-save-delay", "1000"));
            Assert.Equal("+Background saving started\r\n", c.Call("BGSAVE"));
            digest = c.Call("DEBUG", "DIGEST");
            for (int i = 0; i < 6000; i++)
            {
                var args = new List<byte[]> { System.Text.Encoding.ASCII.GetBytes(commands[r.Next(commands.Count)]) };
                for (int a = r.Next(0, 7); a > 0; a--) args.Add(Differential.CommandFuzzTests.RandomArg(r));
                c.CallRaw(args);
            }
            Assert.Equal("1", Info(c, "rdb_bgsave_in_progress"));
            Assert.Equal("+OK\r\n", c.Call("CONFIG", "SET", "rdb-key-save-delay", "0"));
            Assert.True(Env.WaitUntil(() => Info(c, "rdb_bgsave_in_progress") == "0", TimeSpan.FromSeconds(60)));
            Assert.Equal("ok", Info(c, "rdb_last_bgsave_status"));
            Directory.CreateDirectory(dir);
            File.Copy(Path.Combine(s.Dir, "dump.rdb"), Path.Combine(dir, "dump.rdb"));
        }
        try
        {
            using var loaded = new ServerProcess(Env.CinnabarServer, "--dir", dir, "--enable-debug-command", "yes");
            using var c = loaded.Connect();
            Assert.Equal(digest, c.Call("DEBUG", "DIGEST"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void SavePointStartsABackgroundSave()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--save", "1 2");
        using var c = s.Connect();
        c.Call("SET", "a", "1");
        Assert.Equal(":2\r\n", c.Call("INCR", "a"));   // two changes
        Assert.True(Env.WaitUntil(() => Info(c, "rdb_saves") == "1", TimeSpan.FromSeconds(10)), s.Output);
        Assert.Contains("2 changes in 1 seconds. Saving...", s.WaitForOutput("2 changes in 1 seconds. Saving..."));
        Assert.Equal("0", Info(c, "rdb_changes_since_last_save"));
        Assert.True(File.Exists(Path.Combine(s.Dir, "dump.rdb")));
    }

    /// <summary>A disk that fills up: BGSAVE fails, writes and PING get MISCONF, and once space is freed the
    /// next save point retry succeeds and writes are accepted again, with nothing acknowledged lost.</summary>
    [Fact]
    public void FullDiskRefusesWritesUntilASaveSucceedsAgain()
    {
        using var disk = new SmallDisk();
        disk.Fill();
        using var s = new ServerProcess(Env.CinnabarServer, "--dir", disk.Path, "--save", "1 1");
        using var c = s.Connect();
        for (int i = 0; i < 200; i++) Assert.Equal("+OK\r\n", c.Call("SET", $"k{i}", new string('v', 1000)));
        Assert.True(Env.WaitUntil(() => Info(c, "rdb_last_bgsave_status") == "err", TimeSpan.FromSeconds(10)), s.Output);
        Assert.Contains("No space left on device", s.WaitForOutput("Background saving error"));
        Assert.StartsWith("-MISCONF Redis is configured to save RDB snapshots", c.Call("SET", "refused", "1"));
        Assert.StartsWith("-MISCONF", c.Call("PING"));
        Assert.Equal("$1000\r\n" + new string('v', 1000) + "\r\n", c.Call("GET", "k7"));   // reads still served

        disk.Free();
        // The save point holds, so a retry comes CONFIG_BGSAVE_RETRY_DELAY (5 s) after the failed try.
        Assert.True(Env.WaitUntil(() => Info(c, "rdb_last_bgsave_status") == "ok", TimeSpan.FromSeconds(20)), s.Output);
        Assert.Equal("+OK\r\n", c.Call("SET", "accepted", "1"));
        Assert.Equal("+PONG\r\n", c.Call("PING"));
        Assert.Equal(":201\r\n", c.Call("DBSIZE"));
    }
}
