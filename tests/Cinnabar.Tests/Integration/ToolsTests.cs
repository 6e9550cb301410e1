using System.Diagnostics;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

public sealed class CinnabarFixture : IDisposable
{
    public readonly ServerProcess Server = new(Env.CinnabarServer, "--enable-debug-command", "yes");
    public void Dispose() => Server.Dispose();
}

public static class Tool
{
    /// <summary>Runs a command-line tool to completion (bounded) and returns exit code, stdout and stderr.</summary>
    public static (int code, string stdout, string stderr) Run(string file, IEnumerable<string> args, string stdin = null, int timeoutMs = 120_000)
    {
        var (code, stdout, stderr, timedOut) = Tools.Exec(file, args, stdin, timeoutMs);
        if (timedOut) throw new TimeoutException($"{file} did not finish in {timeoutMs} ms");
        return (code, stdout, stderr);
    }

    public static string Cli(int port, params string[] args)
    {
        var (code, stdout, stderr) = Run("redis-cli", new[] { "-p", port.ToString() }.Concat(args));
        Assert.True(code == 0, $"redis-cli failed: {stderr}");
        return stdout.TrimEnd('\n');
    }
}

/// <summary>Real redis-cli, redis-benchmark and StackExchange.Redis against a real cinnabar-server.</summary>
public sealed class ToolsTests : IClassFixture<CinnabarFixture>
{
    readonly ServerProcess server;
    public ToolsTests(CinnabarFixture f) => server = f.Server;

    [Fact]
    public void RedisCliReadsAndWrites()
    {
        int p = server.Port;
        Assert.Equal("PONG", Tool.Cli(p, "ping"));
        Assert.Equal("OK", Tool.Cli(p, "set", "cli:k", "hello world"));
        Assert.Equal("hello world", Tool.Cli(p, "get", "cli:k"));
        Assert.Equal("11", Tool.Cli(p, "append", "cli:k", ""));
        Assert.Equal("3", Tool.Cli(p, "incrby", "cli:n", "3"));
        Assert.Equal("1", Tool.Cli(p, "expire", "cli:n", "100"));
        Assert.Equal("100", Tool.Cli(p, "ttl", "cli:n"));
        Assert.Equal("string", Tool.Cli(p, "type", "cli:k"));
        Assert.Contains("redis_version:7.0.15", Tool.Cli(p, "info", "server"));
        Assert.Equal("ERR unknown command 'nosuch', with args beginning with: ", Tool.Cli(p, "nosuch"));
    }

    [Fact]
    public void RedisCliPipeModeLoadsData()
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < 1000; i++) sb.Append($"SET pipe:{i} v{i}\r\n");
        var (code, stdout, _) = Tool.Run("redis-cli", new[] { "-p", server.Port.ToString(), "--pipe" }, sb.ToString());
        Assert.Equal(0, code);
        Assert.Contains("errors: 0, replies: 1000", stdout);
        Assert.Equal("v999", Tool.Cli(server.Port, "get", "pipe:999"));
    }

    [Fact]
    public void RedisBenchmarkRunsWithoutErrors()
    {
        var (code, stdout, stderr) = Tool.Run("redis-benchmark",
            new[] { "-p", server.Port.ToString(), "-q", "-n", "100000", "-t", "ping,set,get,incr,mset" });
        Assert.Equal(0, code);
        Assert.DoesNotContain("ERR", stdout + stderr);
        foreach (var test in new[] { "PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)" })
            Assert.Contains(test + ":", stdout);
    }

    [Fact]
    public void StackExchangeRedisStringsAndKeys()
    {
        using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=5000");
        var db = mux.GetDatabase();
        Assert.True(db.StringSet("se:a", "1"));
        Assert.Equal(5, db.StringIncrement("se:a", 4));
        Assert.Equal(2.5, db.StringIncrement("se:f", 2.5));
        Assert.True(db.StringSet("se:ttl", "x", TimeSpan.FromSeconds(100)));
        var ttl = db.KeyTimeToLive("se:ttl");
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value.TotalSeconds, 90, 100);
        var values = db.StringGet(new RedisKey[] { "se:a", "se:missing" });
        Assert.Equal("5", values[0]);
        Assert.True(values[1].IsNull);
        Assert.True(db.KeyDelete("se:a"));
        Assert.False(db.KeyExists("se:a"));
        var batch = db.CreateBatch();
        var tasks = Enumerable.Range(0, 500).Select(i => batch.StringSetAsync($"se:b:{i}", i)).ToArray();
        batch.Execute();
        Task.WaitAll(tasks, TimeSpan.FromSeconds(30));
        Assert.All(tasks, t => Assert.True(t.Result));
        Assert.Equal("499", db.StringGet("se:b:499"));
        Assert.Equal("PONG", mux.GetServer($"127.0.0.1:{server.Port}").Execute("PING").ToString());
    }

    [Fact]
    public void StackExchangeRedisManyConcurrentOperations()
    {
        using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{server.Port},abortConnect=false");
        var db = mux.GetDatabase();
        var tasks = new List<Task>();
        for (int i = 0; i < 20000; i++)
        {
            tasks.Add(db.StringSetAsync($"conc:{i % 1000}", i));
            tasks.Add(db.StringGetAsync($"conc:{i % 1000}"));
        }
        Assert.True(Task.WaitAll(tasks.ToArray(), TimeSpan.FromSeconds(60)));
        Assert.Equal(1000L, (long)db.Execute("DBSIZE") - CountOtherKeys(db));
    }

    static long CountOtherKeys(IDatabase db)
    {
        long n = 0;
        foreach (var key in ((RedisResult[])db.Execute("KEYS", "*"))!)
            if (!((string)key!).StartsWith("conc:")) n++;
        return n;
    }
}
