using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Persistence;

/// <summary>
/// A server process started in a directory of the test's choosing, so it can be killed with SIGKILL and started
/// again on the same files (ServerProcess owns a fresh directory per process).
/// </summary>
sealed class DirServer : IDisposable
{
    public readonly string Binary, Dir;
    public readonly int Port;
    public Process Process;
    readonly StringBuilder log = new();

    public DirServer(string binary, string dir, params string[] extra)
    {
        Binary = binary;
        Dir = dir;
        Port = Env.FreePort();
        Start(extra);
    }

    public void Start(params string[] extra)
    {
        var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Dir };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--dir", Dir, "--enable-debug-command", "yes" })
            psi.ArgumentList.Add(a);
        foreach (var a in extra) psi.ArgumentList.Add(a);
        Process = Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (log) log.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (log) log.AppendLine(e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    /// <summary>Waits until the server answers PING or exits; true when it is up.</summary>
    public bool WaitUp(int timeoutMs = 20_000)
    {
        Env.WaitUntil(() => Process.HasExited || Ping(), TimeSpan.FromMilliseconds(timeoutMs));
        return !Process.HasExited && Ping();
    }

    bool Ping()
    {
        try
        {
            using var c = new RespConnection(Port, TimeSpan.FromSeconds(1));
            return c.Call("PING") == "+PONG\r\n";
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException) { return false; }
    }

    public string Log { get { lock (log) return log.ToString(); } }

    /// <summary>The log arrives asynchronously: waits (bounded) until it contains the text, then returns it.</summary>
    public string WaitLog(string text, int timeoutMs = 10_000)
    {
        Env.WaitUntil(() => Log.Contains(text), TimeSpan.FromMilliseconds(timeoutMs));
        return Log;
    }

    public RespConnection Connect() => new(Port);

    public void Kill9()
    {
        if (Process.HasExited) return;
        Process.Kill();     // SIGKILL
        Process.WaitForExit(10_000);
    }

    public int WaitExit(int timeoutMs = 20_000)
    {
        if (!Process.WaitForExit(timeoutMs)) Kill9();
        Process.WaitForExit();
        return Process.ExitCode;
    }

    public void Dispose()
    {
        try { Kill9(); } catch (InvalidOperationException) { }
        Process.Dispose();
    }
}

/// <summary>
/// The append-only file against the real thing: INCR files byte for byte equal to redis-server 7.0.15's for the
/// same commands, each server loading the other's AOF directory, kill -9 under appendfsync always/everysec, and
/// truncated tails.
/// </summary>
public sealed class AofTests
{
    readonly ITestOutputHelper output;
    public AofTests(ITestOutputHelper output) => this.output = output;

    static string NewDir() => Directory.CreateTempSubdirectory("cinnabar-aof-").FullName;

    static string ScriptPath => Path.Combine(Env.RepoRoot, "tests/Cinnabar.Tests/Persistence/aof-script.txt");

    static readonly string[] AofArgs = { "--appendonly", "yes", "--aof-use-rdb-preamble", "no" };

    // ------------------------------------------------------------------ differential INCR files

    [Fact]
    public void IncrFileIsByteIdenticalToRedis()
    {
        string redisDir = NewDir(), cinDir = NewDir();
        try
        {
            var redis = Task.Run(() => RunScript(Env.RedisServer, redisDir));
            var cin = Task.Run(() => RunScript(Env.CinnabarServer, cinDir));
            byte[] r = Mask(redis.Result), c = Mask(cin.Result);
            if (!r.AsSpan().SequenceEqual(c))
            {
                var rl = Commands(r);
                var cl = Commands(c);
                int i = 0;
                while (i < Math.Min(rl.Count, cl.Count) && rl[i] == cl[i]) i++;
                var context = new StringBuilder();
                for (int k = Math.Max(0, i - 3); k < Math.Min(i + 5, Math.Max(rl.Count, cl.Count)); k++)
                    context.AppendLine($"{k}: redis [{(k < rl.Count ? rl[k] : "-")}]  cinnabar [{(k < cl.Count ? cl[k] : "-")}]");
                Assert.Fail($"INCR files differ at command {i} of {rl.Count}/{cl.Count}:\n{context}");
            }
            Assert.True(Commands(r).Count > 200);
        }
        finally
        {
            TryDelete(redisDir);
            TryDelete(cinDir);
        }
    }

    /// <summary>Absolute unix-millisecond times (13 digits) differ by the clock; everything else must not.</summary>
    static byte[] Mask(byte[] aof) => Encoding.Latin1.GetBytes(Regex.Replace(Encoding.Latin1.GetString(aof), @"1[6-9]\d{11}", "TTTTTTTTTTTTT"));

    static List<string> Commands(byte[] aof)
    {
        var list = new List<string>();
        int i = 0;
        while (i < aof.Length)
        {
            int nl = Array.IndexOf(aof, (byte)'\n', i);
            int argc = int.Parse(Encoding.ASCII.GetString(aof, i + 1, nl - i - 2));
            i = nl + 1;
            var parts = new List<string>();
            for (int a = 0; a < argc; a++)
            {
                nl = Array.IndexOf(aof, (byte)'\n', i);
                int len = int.Parse(Encoding.ASCII.GetString(aof, i + 1, nl - i - 2));
                i = nl + 1;
                parts.Add(Encoding.Latin1.GetString(aof, i, len));
                i += len + 2;
            }
            list.Add(string.Join(" ", parts));
        }
        return list;
    }

    /// <summary>Runs aof-script.txt against a fresh server and returns its INCR file.</summary>
    static byte[] RunScript(string binary, string dir)
    {
        using var server = new DirServer(binary, dir, AofArgs);
        Assert.True(server.WaitUp(), server.Log);
        using var c = server.Connect();
        using var bg = server.Connect();
        foreach (var raw in File.ReadAllLines(ScriptPath))
        {
            if (raw.Length == 0 || raw.StartsWith('#')) continue;
            if (raw.StartsWith("@bg ")) { bg.Send(RespConnection.Encode(Tokens(raw[4..]))); continue; }
            if (raw == "@bgread") { bg.ReadReply(); continue; }
            if (raw.StartsWith("@blocked "))
            {
                string want = "blocked_clients:" + raw[9..] + "\r";
                Assert.True(Env.WaitUntil(() => c.Call("INFO", "clients").Contains(want), TimeSpan.FromSeconds(10)), raw);
                continue;
            }
            if (raw.StartsWith("@dbsize "))
            {
                string want = ":" + raw[8..] + "\r\n";
                Assert.True(Env.WaitUntil(() => c.Call("DBSIZE") == want, TimeSpan.FromSeconds(10)), raw);
                continue;
            }
            c.CallRaw(Tokens(raw));
        }
        // Both servers write the buffer before replying, so the file is complete once the last reply is in.
        var incr = Directory.GetFiles(Path.Combine(dir, "appendonlydir"), "*.incr.aof").Single();
        return File.ReadAllBytes(incr);
    }

    /// <summary>Splits a script line like redis-cli: spaces separate, "..." quotes with \n \" \\ escapes.</summary>
    static List<byte[]> Tokens(string line)
    {
        var result = new List<byte[]>();
        int i = 0;
        while (i < line.Length)
        {
            if (line[i] == ' ') { i++; continue; }
            var sb = new StringBuilder();
            if (line[i] == '"')
            {
                i++;
                while (line[i] != '"')
                {
                    if (line[i] == '\\') { i++; sb.Append(line[i] switch { 'n' => '\n', _ => line[i] }); }
                    else sb.Append(line[i]);
                    i++;
                }
                i++;
            }
            else
            {
                while (i < line.Length && line[i] != ' ') sb.Append(line[i++]);
            }
            result.Add(Encoding.Latin1.GetBytes(sb.ToString()));
        }
        return result;
    }

    // ------------------------------------------------------------------ loading each other's AOF directory

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void EachServerLoadsTheOthersAofDirectory(bool cinnabarWrites, bool rdbPreamble)
    {
        var aofArgs = new[] { "--appendonly", "yes", "--aof-use-rdb-preamble", rdbPreamble ? "yes" : "no" };
        string writer = cinnabarWrites ? Env.CinnabarServer : Env.RedisServer;
        string reader = cinnabarWrites ? Env.RedisServer : Env.CinnabarServer;
        string dir = NewDir(), dir2 = NewDir();
        try
        {
            Dictionary<string, string> before;
            using (var w = new DirServer(writer, dir, aofArgs.Append("--appendfsync").Append("always").ToArray()))
            {
                Assert.True(w.WaitUp(), w.Log);
                using var c = w.Connect();
                Fill(c, 0);
                // A rewrite in the middle: the BASE holds the first half, a new INCR the rest.
                Assert.StartsWith("+Background append only file rewriting", c.Call("BGREWRITEAOF"));
                Assert.True(Env.WaitUntil(() => c.Call("INFO", "persistence").Contains("aof_rewrite_in_progress:0\r"), TimeSpan.FromSeconds(20)));
                Fill(c, 1);
                before = Snapshot(c);
                w.Kill9();
            }
            CopyDir(Path.Combine(dir, "appendonlydir"), Path.Combine(dir2, "appendonlydir"));
            Assert.Single(Directory.GetFiles(Path.Combine(dir, "appendonlydir"), rdbPreamble ? "*.base.rdb" : "*.base.aof"));
            // The writer reloading its own files and the other server loading a copy must agree on everything.
            Dictionary<string, string> own, other;
            using (var w = new DirServer(writer, dir, aofArgs))
            {
                Assert.True(w.WaitUp(), w.Log);
                using var c = w.Connect();
                own = Snapshot(c);
            }
            using (var r = new DirServer(reader, dir2, aofArgs))
            {
                Assert.True(r.WaitUp(), r.Log);
                using var c = r.Connect();
                other = Snapshot(c);
            }
            Assert.Equal(own.Count, other.Count);
            foreach (var (k, v) in own) Assert.Equal(v, other.GetValueOrDefault(k));
            // And with what the writer held before the crash (streams aside: Redis 7.0's XCLAIM propagation does
            // not carry a group's entries-read, so no reload reproduces it).
            Assert.Equal(before.Keys.Order(), own.Keys.Order());
            foreach (var (k, v) in before)
                if (!v.StartsWith("stream|")) Assert.Equal(v, own[k]);
            Assert.True(before.Count > 20);
        }
        finally
        {
            TryDelete(dir);
            TryDelete(dir2);
        }
    }

    /// <summary>Every type, small and large encodings, expiries, several dbs, a stream with groups and PELs.</summary>
    static void Fill(RespConnection c, int round)
    {
        string p = "r" + round + ":";
        void Ok(params string[] a) => Assert.DoesNotContain("-ERR", c.Call(a));
        Ok("SELECT", "0");
        Ok("SET", p + "str", "hello");
        Ok("SET", p + "int", "12345");
        Ok("SET", p + "ttl", "v", "EX", "1000");
        Ok("SET", p + "float", "1.5");
        Ok("INCRBYFLOAT", p + "float", "0.25");
        Ok("APPEND", p + "str", " world");
        Ok("RPUSH", p + "list", "a", "b", "c", "1", "2");
        for (int i = 0; i < 300; i++) Ok("RPUSH", p + "biglist", "element-" + i);
        Ok("SADD", p + "intset", "1", "2", "3");
        Ok("SADD", p + "set", "a", "b", "c");
        for (int i = 0; i < 200; i++) Ok("SADD", p + "bigset", "member-" + i);
        Ok("ZADD", p + "zset", "1", "a", "2.5", "b", "-3", "c");
        for (int i = 0; i < 200; i++) Ok("ZADD", p + "bigzset", (i * 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture), "m" + i);
        Ok("HSET", p + "hash", "f1", "v1", "f2", "v2");
        for (int i = 0; i < 600; i++) Ok("HSET", p + "bighash", "f" + i, "v" + i);
        Ok("HINCRBYFLOAT", p + "hash", "f3", "1.25");
        Ok("PEXPIRE", p + "hash", "5000000");
        Ok("XADD", p + "stream", "1-1", "a", "1");
        Ok("XADD", p + "stream", "2-1", "b", "2", "c", "3");
        Ok("XADD", p + "stream", "3-1", "d", "4");
        Ok("XGROUP", "CREATE", p + "stream", "g1", "0");
        Ok("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", p + "stream", ">");
        Ok("XGROUP", "CREATECONSUMER", p + "stream", "g1", "bob");
        Ok("XGROUP", "CREATE", p + "stream", "g2", "$");
        Ok("XDEL", p + "stream", "3-1");
        Ok("PFADD", p + "hll", "a", "b", "c");
        Ok("SPOP", p + "set");
        Ok("SELECT", "3");
        Ok("SET", p + "db3", "three");
        Ok("LPUSH", p + "db3list", "x");
        Ok("SELECT", "0");
        Ok("EVAL", "redis.call('set', KEYS[1], 'lua'); redis.call('incr', KEYS[2]); return 1", "2", p + "lua1", p + "lua2");
        Ok("MULTI");
        Ok("SET", p + "tx", "1");
        Ok("INCR", p + "tx");
        Ok("EXEC");
    }

    /// <summary>Every key of every db: type, content (sets and hashes sorted) and whether it has a TTL.</summary>
    static Dictionary<string, string> Snapshot(RespConnection c)
    {
        var result = new Dictionary<string, string>();
        for (int db = 0; db < 16; db++)
        {
            c.Call("SELECT", db.ToString());
            var keys = Elements(c.Call("KEYS", "*"));
            foreach (var key in keys)
            {
                string type = c.Call("TYPE", key).Trim('+', '\r', '\n');
                string value = type switch
                {
                    "string" => c.Call("GET", key),
                    "list" => c.Call("LRANGE", key, "0", "-1"),
                    "set" => string.Join(",", Elements(c.Call("SMEMBERS", key)).Order(StringComparer.Ordinal)),
                    "zset" => c.Call("ZRANGE", key, "0", "-1", "WITHSCORES"),
                    "hash" => string.Join(",", Pairs(Elements(c.Call("HGETALL", key))).Order(StringComparer.Ordinal)),
                    "stream" => c.Call("XRANGE", key, "-", "+") + c.Call("XINFO", "GROUPS", key) + Consumers(c, key)
                        + c.Call("XPENDING", key, "g1"),
                    _ => "?",
                };
                bool ttl = c.Call("PTTL", key) != ":-1\r\n";
                result[$"{db}:{key}"] = $"{type}|{value}|{ttl}";
            }
        }
        c.Call("SELECT", "0");
        return result;
    }

    static string Consumers(RespConnection c, string key)
    {
        var sb = new StringBuilder();
        foreach (var g in new[] { "g1", "g2" })
        {
            var reply = c.Call("XINFO", "CONSUMERS", key, g);
            // Idle times differ by the clock; names and pending counts must match.
            sb.Append(Regex.Replace(reply, @"(\$4\r\nidle\r\n|\$8\r\ninactive\r\n):-?\d+\r\n", "$1:*\r\n"));
        }
        return sb.ToString();
    }

    static IEnumerable<string> Pairs(List<string> flat)
    {
        for (int i = 0; i + 1 < flat.Count; i += 2) yield return flat[i] + "=" + flat[i + 1];
    }

    /// <summary>The bulk strings of a flat array reply.</summary>
    static List<string> Elements(string reply)
    {
        var list = new List<string>();
        int i = reply.IndexOf("\r\n", StringComparison.Ordinal) + 2;
        while (i < reply.Length)
        {
            int nl = reply.IndexOf("\r\n", i, StringComparison.Ordinal);
            int len = int.Parse(reply.AsSpan(i + 1, nl - i - 1));
            list.Add(reply.Substring(nl + 2, len));
            i = nl + 2 + len + 2;
        }
        return list;
    }

    // ------------------------------------------------------------------ crash safety

    /// <summary>
    /// appendfsync always: every acknowledged write survives kill -9 (the file is written and fdatasynced before the
    /// reply). everysec: the write may be postponed while a background fsync runs (Redis's rule, up to 2 s), so
    /// what a crash can lose is bounded by time: only writes acknowledged in the last 2 seconds.
    /// </summary>
    [Theory]
    [InlineData("always", 20)]
    [InlineData("everysec", 5)]
    public void KillNineLosesNoAcknowledgedWrite(string fsync, int cycles)
    {
        string dir = NewDir();
        try
        {
            var rng = new Random(12345);
            long acked = 0;         // every i <= acked was acknowledged (SET k:i i, then INCR counter)
            var ackTimes = new Dictionary<long, long>();
            long worstLossMs = 0;
            long killedAt = 0;
            using var server = new DirServer(Env.CinnabarServer, dir, "--appendonly", "yes", "--appendfsync", fsync);
            for (int cycle = 0; cycle < cycles; cycle++)
            {
                if (cycle > 0) server.Start("--appendonly", "yes", "--appendfsync", fsync);
                Assert.True(server.WaitUp(), server.Log);
                using (var c = server.Connect())
                {
                    // What was acknowledged before the kill is there (a write applied but whose reply was lost in
                    // the kill may be there too).
                    var reply = c.Call("GET", "counter");
                    long durable = reply == "$-1\r\n" ? 0 : long.Parse(reply.Split("\r\n")[1]);
                    if (durable < acked)
                    {
                        long lossMs = killedAt - ackTimes[durable + 1];
                        worstLossMs = Math.Max(worstLossMs, lossMs);
                        Assert.True(fsync == "everysec" && lossMs <= 2000, $"cycle {cycle}: counter {durable} < acknowledged {acked}, lost {lossMs} ms of writes");
                    }
                    if (durable > 0)
                    {
                        Assert.Equal($"${durable.ToString().Length}\r\n{durable}\r\n", c.Call("GET", "k:" + durable));
                        Assert.Equal(":1\r\n", c.Call("EXISTS", "k:" + rng.NextInt64(1, durable + 1)));
                    }
                    acked = durable;
                }
                // A writer runs flat out on its own thread; the kill lands at a random moment.
                var stop = new ManualResetEventSlim();
                var writer = Task.Run(() =>
                {
                    try
                    {
                        using var w = server.Connect();
                        while (!stop.IsSet)
                        {
                            long next = acked + 1;
                            w.Call("SET", "k:" + next, next.ToString());
                            if (w.Call("INCR", "counter") != $":{next}\r\n") return;
                            lock (ackTimes) ackTimes[next] = Environment.TickCount64;
                            acked = next;
                        }
                    }
                    catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or FormatException or ArgumentException) { }
                });
                Thread.Sleep(rng.Next(30, 250));   // how long the writer runs before the crash (the crash's random moment)
                killedAt = Environment.TickCount64;
                server.Kill9();
                stop.Set();
                Assert.True(writer.Wait(TimeSpan.FromSeconds(10)));
                server.Process.Dispose();
            }
            output.WriteLine($"{fsync}: {cycles} kills, {acked} writes survived, worst loss {worstLossMs} ms");
            Assert.True(acked > cycles);
        }
        finally { TryDelete(dir); }
    }

    // ------------------------------------------------------------------ truncated and corrupt files

    [Fact]
    public void TruncatedTailLoadsWhenAllowedAndIsRefusedOtherwise()
    {
        string dir = NewDir();
        try
        {
            using (var s = new DirServer(Env.CinnabarServer, dir, AofArgs.Append("--appendfsync").Append("always").ToArray()))
            {
                Assert.True(s.WaitUp(), s.Log);
                using var c = s.Connect();
                for (int i = 0; i < 10; i++) c.Call("SET", "key" + i, "value" + i);
                s.Kill9();
            }
            string incr = Directory.GetFiles(Path.Combine(dir, "appendonlydir"), "*.incr.aof").Single();
            string name = Path.GetFileName(incr);
            long full = new FileInfo(incr).Length;
            using (var f = new FileStream(incr, FileMode.Open)) f.SetLength(full - 7);   // cut into the last SET
            var pristine = File.ReadAllBytes(incr);
            string copy = NewDir();
            CopyDir(Path.Combine(dir, "appendonlydir"), Path.Combine(copy, "appendonlydir"));

            // aof-load-truncated no: both servers refuse, with the same words.
            foreach (var binary in new[] { Env.CinnabarServer, Env.RedisServer })
            {
                File.WriteAllBytes(incr, pristine);
                using var s = new DirServer(binary, dir, "--appendonly", "yes", "--aof-load-truncated", "no");
                Assert.NotEqual(0, s.WaitExit());
                Assert.Contains($"Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.", s.Log);
            }

            // aof-load-truncated yes: the partial command is cut off and the rest loads.
            long truncatedLength;
            File.WriteAllBytes(incr, pristine);
            using (var s = new DirServer(Env.CinnabarServer, dir, "--appendonly", "yes", "--aof-load-truncated", "yes"))
            {
                Assert.True(s.WaitUp(), s.Log);
                Assert.Contains($"!!! Warning: short read while loading the AOF file {name}!!!", s.WaitLog("!!! Warning: short read"));
                Assert.Contains($"AOF {name} loaded anyway because aof-load-truncated is enabled", s.WaitLog("loaded anyway"));
                using var c = s.Connect();
                Assert.True(c.Call("DBSIZE") == ":9\r\n", s.Log + "\n" + Encoding.Latin1.GetString(pristine).Replace("\r\n", " "));
                Assert.Equal("$6\r\nvalue8\r\n", c.Call("GET", "key8"));
                truncatedLength = new FileInfo(incr).Length;
                Assert.True(truncatedLength < pristine.Length);
                c.Call("SET", "after", "1");
            }
            // Redis reads the repaired file (and what Cinnabar appended after the cut).
            using (var r = new DirServer(Env.RedisServer, dir, "--appendonly", "yes"))
            {
                Assert.True(r.WaitUp(), r.Log);
                using var c = r.Connect();
                Assert.Equal(":10\r\n", c.Call("DBSIZE"));
            }
            // Redis truncates the same way.
            using (var r = new DirServer(Env.RedisServer, copy, "--appendonly", "yes", "--aof-load-truncated", "yes"))
            {
                Assert.True(r.WaitUp(), r.Log);
                using var c = r.Connect();
                Assert.Equal(":9\r\n", c.Call("DBSIZE"));
                Assert.Equal(truncatedLength, new FileInfo(Path.Combine(copy, "appendonlydir", name)).Length);
            }
            TryDelete(copy);
        }
        finally { TryDelete(dir); }
    }

    [Fact]
    public void BadManifestIsFatal()
    {
        string dir = NewDir();
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "appendonlydir"));
            File.WriteAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
            using var s = new DirServer(Env.CinnabarServer, dir, AofArgs);
            Assert.NotEqual(0, s.WaitExit());
            Assert.Contains("*** FATAL AOF MANIFEST FILE ERROR ***", s.Log);
            Assert.Contains(">>> 'file appendonly.aof.1.incr.aof seq 1 type i'", s.Log);
            Assert.Contains("Found a non-monotonic sequence number", s.Log);
        }
        finally { TryDelete(dir); }
    }

    // ------------------------------------------------------------------ switching on at runtime, rewrites

    [Fact]
    public void ConfigSetAppendonlyWritesABaseAndSurvivesRestart()
    {
        string dir = NewDir();
        try
        {
            using (var s = new DirServer(Env.CinnabarServer, dir, "--aof-use-rdb-preamble", "no"))
            {
                Assert.True(s.WaitUp(), s.Log);
                using var c = s.Connect();
                for (int i = 0; i < 100; i++) c.Call("RPUSH", "list", "e" + i);
                c.Call("SET", "plain", "v");
                Assert.Equal("+OK\r\n", c.Call("CONFIG", "SET", "appendonly", "yes"));
                Assert.True(Env.WaitUntil(() => c.Call("INFO", "persistence").Contains("aof_rewrite_in_progress:0\r"), TimeSpan.FromSeconds(10)));
                c.Call("SET", "after", "1");
                var info = c.Call("INFO", "persistence");
                Assert.Contains("aof_enabled:1\r\n", info);
                Assert.Contains("aof_last_bgrewrite_status:ok\r\n", info);
                var manifest = File.ReadAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"));
                Assert.Equal("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n", manifest);
                // A rewrite while writes continue: a new INCR, the old files gone.
                Assert.Equal("+Background append only file rewriting started\r\n", c.Call("BGREWRITEAOF"));
                c.Call("SET", "during", "1");
                Assert.True(Env.WaitUntil(() => c.Call("INFO", "persistence").Contains("aof_rewrite_in_progress:0\r"), TimeSpan.FromSeconds(10)));
                Assert.True(Env.WaitUntil(() => !File.Exists(Path.Combine(dir, "appendonlydir", "appendonly.aof.1.base.aof")), TimeSpan.FromSeconds(10)));
                Assert.Equal("file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
                    File.ReadAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest")));
                s.Kill9();
            }
            // Redis 7.0 loads it (with AOF on, the AOF directory is what is read).
            using var r = new DirServer(Env.RedisServer, dir, "--appendonly", "yes");
            Assert.True(r.WaitUp(), r.Log);
            using var rc = r.Connect();
            Assert.Equal(":100\r\n", rc.Call("LLEN", "list"));
            Assert.Equal(":4\r\n", rc.Call("DBSIZE"));
        }
        finally { TryDelete(dir); }
    }

    // ------------------------------------------------------------------ helpers

    static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
