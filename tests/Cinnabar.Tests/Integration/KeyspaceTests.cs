using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>Behaviour over time and under memory pressure: active expiry, eviction, CLIENT PAUSE, MONITOR.</summary>
public sealed class KeyspaceTests
{
    [Fact]
    public void ActiveExpiryRemovesKeysNobodyReads()
    {
        using var s = new ServerProcess(Env.CinnabarServer);
        using var c = s.Connect();
        for (int i = 0; i < 500; i++) c.Call("SET", $"e{i}", "v", "PX", "50");
        c.Call("SET", "keep", "v");
        Assert.True(Env.WaitUntil(() => c.Call("DBSIZE") == ":1\r\n", TimeSpan.FromSeconds(10)), c.Call("DBSIZE"));
        Assert.Contains("expired_keys:500", c.Call("INFO", "stats"));
    }

    [Fact]
    public void NoEvictionRefusesWritesOverMaxmemory()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction");
        using var c = s.Connect();
        string value = new('x', 10_000);
        string last = "";
        for (int i = 0; i < 1000 && !last.StartsWith("-OOM"); i++) last = c.Call("SET", $"k{i}", value);
        Assert.Equal("-OOM command not allowed when used memory > 'maxmemory'.\r\n", last);
        Assert.Equal("$-1\r\n", c.Call("GET", "nothing"));
        Assert.Equal(":1\r\n", c.Call("DEL", "k0"));
    }

    [Theory]
    [InlineData("allkeys-lru")]
    [InlineData("allkeys-lfu")]
    [InlineData("allkeys-random")]
    public void AllKeysPoliciesEvictToStayUnderMaxmemory(string policy)
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--maxmemory", "4mb", "--maxmemory-policy", policy);
        using var c = s.Connect();
        string value = new('x', 10_000);
        for (int i = 0; i < 2000; i++) Assert.Equal("+OK\r\n", c.Call("SET", $"k{i}", value));
        var info = c.Call("INFO", "stats");
        Assert.DoesNotContain("evicted_keys:0\r\n", info);
        long used = long.Parse(System.Text.RegularExpressions.Regex.Match(c.Call("INFO", "memory"), @"used_memory:(\d+)").Groups[1].Value);
        // Redis evicts before a write runs, so the write itself may leave used_memory one value above the limit.
        Assert.True(used <= 4 * 1024 * 1024 + 2 * value.Length, $"used_memory {used} above maxmemory");
        Assert.Equal($"${value.Length}\r\n{value}\r\n", c.Call("GET", "k1999"));
    }

    [Fact]
    public void VolatileTtlEvictsTheSoonestToExpire()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--maxmemory", "3mb", "--maxmemory-policy", "volatile-ttl");
        using var c = s.Connect();
        string value = new('x', 10_000);
        for (int i = 0; i < 100; i++) c.Call("SET", $"persistent{i}", value);
        for (int i = 0; i < 400; i++) c.Call("SET", $"v{i}", value, "EX", (1000 + i).ToString());
        Assert.Equal(":1\r\n", c.Call("EXISTS", "persistent0"));
        Assert.Equal(":1\r\n", c.Call("EXISTS", "persistent99"));
    }

    [Fact]
    public void ClientPauseWriteHoldsWritesUntilUnpause()
    {
        using var s = new ServerProcess(Env.CinnabarServer);
        using var admin = s.Connect();
        using var writer = s.Connect();
        Assert.Equal("+OK\r\n", admin.Call("CLIENT", "PAUSE", "20000", "WRITE"));
        writer.Send(RespConnection.Encode(new[] { "SET"u8.ToArray(), "p"u8.ToArray(), "1"u8.ToArray() }));
        Assert.Equal("$-1\r\n", admin.Call("GET", "p"));
        Assert.Equal("+OK\r\n", admin.Call("CLIENT", "UNPAUSE"));
        Assert.Equal("+OK\r\n", RespConnection.Latin1(writer.ReadReply()));
        Assert.Equal("$1\r\n1\r\n", admin.Call("GET", "p"));
    }

    [Fact]
    public void ClientPauseWriteHoldsScriptsAndTransactionsThatMayWrite()
    {
        using var s = new ServerProcess(Env.CinnabarServer);
        using var admin = s.Connect();
        using var scripter = s.Connect();
        using var transaction = s.Connect();
        Assert.Equal("+OK\r\n", transaction.Call("MULTI"));
        Assert.Equal("+QUEUED\r\n", transaction.Call("SET", "t", "1"));
        Assert.Equal("+OK\r\n", admin.Call("CLIENT", "PAUSE", "20000", "WRITE"));
        // A read-only script is answered during the pause; EVAL (may_replicate) and EXEC of a write wait for it.
        Assert.Equal(":7\r\n", scripter.Call("EVAL_RO", "return 7", "0"));
        scripter.Send(RespConnection.Encode(new[] { "EVAL"u8.ToArray(), "redis.call('set', 'p', '1') return 1"u8.ToArray(), "0"u8.ToArray() }));
        transaction.Send(RespConnection.Encode(new[] { "EXEC"u8.ToArray() }));
        Assert.Equal("$-1\r\n", admin.Call("GET", "p"));
        Assert.Equal("$-1\r\n", admin.Call("GET", "t"));
        Assert.Equal("+OK\r\n", admin.Call("CLIENT", "UNPAUSE"));
        Assert.Equal(":1\r\n", RespConnection.Latin1(scripter.ReadReply()));
        Assert.Equal("*1\r\n+OK\r\n", RespConnection.Latin1(transaction.ReadReply()));
        Assert.Equal("$1\r\n1\r\n", admin.Call("GET", "p"));
    }

    [Fact]
    public void MonitorStreamsOtherClientsCommands()
    {
        using var s = new ServerProcess(Env.CinnabarServer);
        using var mon = s.Connect();
        using var c = s.Connect();
        Assert.Equal("+OK\r\n", mon.Call("MONITOR"));
        c.Call("SET", "watched", "value");
        var line = RespConnection.Latin1(mon.ReadReply());
        Assert.Matches(@"^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] ""SET"" ""watched"" ""value""\r\n$", line);
    }

    [Fact]
    public void SlowlogRecordsSlowCommands()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--slowlog-log-slower-than", "0", "--enable-debug-command", "yes");
        using var c = s.Connect();
        c.Call("SLOWLOG", "RESET");
        c.Call("DEBUG", "SLEEP", "0.01");
        Assert.Matches(@"^:[1-9]\d*\r\n$", c.Call("SLOWLOG", "LEN"));
        Assert.Contains("$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n", c.Call("SLOWLOG", "GET", "10"));
    }
}
