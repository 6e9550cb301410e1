using System.Diagnostics;
using Cinnabar.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>Lua scripts and functions over real connections: busy scripts, SCRIPT/FUNCTION KILL, SHUTDOWN
/// NOSAVE, DUMP/RESTORE, and StackExchange.Redis's scripting API.</summary>
public sealed class ScriptingTests
{
    /// <summary>A script that would run for 10 seconds (it reads TIME, as scripts may in Redis 7).</summary>
    const string TenSecondScript = "local s = tonumber(redis.call('time')[1]) local n = 0 while tonumber(redis.call('time')[1]) - s < 10 do n = n + 1 end return n";

    [Fact]
    public void BusyScriptAnswersBusyUntilScriptKillThenPing()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--busy-reply-threshold", "200");
        using var runner = s.Connect();
        using var other = new RespConnection(s.Port, TimeSpan.FromSeconds(5));
        var started = Stopwatch.StartNew();
        runner.Send(RespConnection.Encode(new[] { "EVAL", TenSecondScript, "0" }.Select(a => System.Text.Encoding.UTF8.GetBytes(a)).ToList()));

        string busy = "";
        Assert.True(Env.WaitUntil(() => (busy = other.Call("PING")).StartsWith("-BUSY"), TimeSpan.FromSeconds(5)), busy);
        Assert.Equal("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", busy);
        Assert.Equal("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", other.Call("GET", "k"));
        Assert.Equal("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", other.Call("FUNCTION", "KILL"));
        Assert.Equal("+OK\r\n", other.Call("SCRIPT", "KILL"));

        string killed = RespConnection.Latin1(runner.ReadReply());
        Assert.StartsWith("-ERR Script killed by user with SCRIPT KILL... script: ", killed);
        Assert.EndsWith(", on @user_script:1.\r\n", killed);
        Assert.Equal("+PONG\r\n", other.Call("PING"));
        Assert.Equal("+PONG\r\n", runner.Call("PING"));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(9), $"the script was not stopped early: {started.Elapsed}");
        Assert.Equal("-NOTBUSY No scripts in execution right now.\r\n", other.Call("SCRIPT", "KILL"));
        Assert.Contains("Slow script detected", s.WaitForOutput("Lua script killed by user with SCRIPT KILL."));
    }

    [Fact]
    public void ScriptThatWroteIsUnkillableAndEndsWithShutdownNosave()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--busy-reply-threshold", "100");
        using var runner = s.Connect();
        using var other = new RespConnection(s.Port, TimeSpan.FromSeconds(5));
        runner.Send(RespConnection.Encode(new[] { "EVAL", "redis.call('set', 'written', '1') while true do end", "0" }.Select(a => System.Text.Encoding.UTF8.GetBytes(a)).ToList()));
        Assert.True(Env.WaitUntil(() => other.Call("PING").StartsWith("-BUSY"), TimeSpan.FromSeconds(5)));
        Assert.Equal("-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n", other.Call("SCRIPT", "KILL"));
        Assert.Equal("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", other.Call("SHUTDOWN"));
        other.Send(RespConnection.Encode(new[] { "SHUTDOWN"u8.ToArray(), "NOSAVE"u8.ToArray() }));
        Assert.True(s.Process.WaitForExit(10_000), "SHUTDOWN NOSAVE did not stop the server");
    }

    [Fact]
    public void FunctionKillStopsABusyFunction()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--busy-reply-threshold", "100");
        using var runner = s.Connect();
        using var other = new RespConnection(s.Port, TimeSpan.FromSeconds(5));
        Assert.Equal("$4\r\nspin\r\n", runner.Call("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"));
        runner.Send(RespConnection.Encode(new[] { "FCALL"u8.ToArray(), "spin"u8.ToArray(), "0"u8.ToArray() }));
        string busy = "";
        Assert.True(Env.WaitUntil(() => (busy = other.Call("PING")).StartsWith("-BUSY"), TimeSpan.FromSeconds(5)), busy);
        Assert.Equal("-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n", busy);
        Assert.Equal("-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n", other.Call("SCRIPT", "KILL"));
        Assert.Contains("$4\r\nspin\r\n", other.Call("FUNCTION", "STATS"));
        Assert.Equal("+OK\r\n", other.Call("FUNCTION", "KILL"));
        Assert.Equal("-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n", RespConnection.Latin1(runner.ReadReply()));
        Assert.Equal("+PONG\r\n", other.Call("PING"));
    }

    [Fact]
    public void ScriptKillIsNotSwallowedByPcall()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--busy-reply-threshold", "100");
        using var runner = s.Connect();
        using var other = new RespConnection(s.Port, TimeSpan.FromSeconds(5));
        runner.Send(RespConnection.Encode(new[] { "EVAL", "while true do pcall(function() while true do end end) end", "0" }.Select(a => System.Text.Encoding.UTF8.GetBytes(a)).ToList()));
        Assert.True(Env.WaitUntil(() => other.Call("PING").StartsWith("-BUSY"), TimeSpan.FromSeconds(5)));
        Assert.Equal("+OK\r\n", other.Call("SCRIPT", "KILL"));
        Assert.StartsWith("-ERR Script killed by user with SCRIPT KILL...", RespConnection.Latin1(runner.ReadReply()));
        Assert.Equal("+PONG\r\n", other.Call("PING"));
    }

    [Fact]
    public void FunctionDumpRestoreRoundTrip()
    {
        using var s = new ServerProcess(Env.CinnabarServer);
        using var c = s.Connect();
        Assert.Equal("$3\r\nlib\r\n", c.Call("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)"));
        byte[] dump = ReadBulk(c.CallRaw(new[] { "FUNCTION"u8.ToArray(), "DUMP"u8.ToArray() }));
        Assert.Equal("+OK\r\n", c.Call("FUNCTION", "FLUSH"));
        Assert.Equal("-ERR Function not found\r\n", c.Call("FCALL", "hello", "0", "x"));
        Assert.Equal("+OK\r\n", RespConnection.Latin1(c.CallRaw(new[] { "FUNCTION"u8.ToArray(), "RESTORE"u8.ToArray(), dump })));
        Assert.Equal("$7\r\nhello x\r\n", c.Call("FCALL", "hello", "0", "x"));
        Assert.Equal("-ERR Library lib already exists\r\n", RespConnection.Latin1(c.CallRaw(new[] { "FUNCTION"u8.ToArray(), "RESTORE"u8.ToArray(), dump })));
        Assert.Equal("+OK\r\n", RespConnection.Latin1(c.CallRaw(new[] { "FUNCTION"u8.ToArray(), "RESTORE"u8.ToArray(), dump, "REPLACE"u8.ToArray() })));
        dump[0] ^= 1;
        Assert.Equal("-ERR DUMP payload version or checksum are wrong\r\n", RespConnection.Latin1(c.CallRaw(new[] { "FUNCTION"u8.ToArray(), "RESTORE"u8.ToArray(), dump })));
    }

    [Fact]
    public void FunctionRestoreReadsRedisServerPayloads()
    {
        // redis-server compresses library code over 20 bytes with LZF in its DUMP payload.
        using var redis = new ServerProcess(Env.RedisServer);
        using var cin = new ServerProcess(Env.CinnabarServer);
        using var r = redis.Connect();
        using var c = cin.Connect();
        string code = "#!lua name=fromredis\nredis.register_function('r', function() return string.rep('ab', 3) .. ' from a redis-server payload, repeated repeated repeated' end)";
        Assert.Equal("$9\r\nfromredis\r\n", r.Call("FUNCTION", "LOAD", code));
        byte[] dump = ReadBulk(r.CallRaw(new[] { "FUNCTION"u8.ToArray(), "DUMP"u8.ToArray() }));
        Assert.Equal("+OK\r\n", RespConnection.Latin1(c.CallRaw(new[] { "FUNCTION"u8.ToArray(), "RESTORE"u8.ToArray(), dump })));
        Assert.Equal(r.Call("FCALL", "r", "0"), c.Call("FCALL", "r", "0"));
        Assert.Equal(r.Call("FUNCTION", "LIST", "WITHCODE"), c.Call("FUNCTION", "LIST", "WITHCODE"));
        // and the other way round: redis-server accepts Cinnabar's payload
        byte[] ours = ReadBulk(c.CallRaw(new[] { "FUNCTION"u8.ToArray(), "DUMP"u8.ToArray() }));
        Assert.Equal("+OK\r\n", RespConnection.Latin1(r.CallRaw(new[] { "FUNCTION"u8.ToArray(), "RESTORE"u8.ToArray(), ours, "REPLACE"u8.ToArray() })));
    }

    static byte[] ReadBulk(byte[] reply)
    {
        int nl = Array.IndexOf(reply, (byte)'\n');
        int len = int.Parse(System.Text.Encoding.ASCII.GetString(reply, 1, nl - 2));
        return reply.AsSpan(nl + 1, len).ToArray();
    }

    [Fact]
    public void StackExchangeRedisScriptEvaluate()
    {
        using var s = new ServerProcess(Env.CinnabarServer);
        using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{s.Port},abortConnect=false,connectTimeout=5000");
        var db = mux.GetDatabase();
        var result = db.ScriptEvaluate("redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])", new RedisKey[] { "se:key" }, new RedisValue[] { "se-value" });
        Assert.Equal("se-value", (string)result);
        Assert.Equal("se-value", (string)db.StringGet("se:key"));

        var prepared = LuaScript.Prepare("return redis.call('incrby', @key, @amount)");
        var loaded = prepared.Load(mux.GetServer(mux.GetEndPoints()[0]));
        Assert.Equal(5, (long)loaded.Evaluate(db, new { key = (RedisKey)"se:counter", amount = 5 }));
        Assert.Equal(12, (long)loaded.Evaluate(db, new { key = (RedisKey)"se:counter", amount = 7 }));

        var arr = (RedisResult[])db.ScriptEvaluate("return {1, 'two', {3}}");
        Assert.Equal(3, arr.Length);
        Assert.Equal(1, (long)arr[0]);
        Assert.Equal("two", (string)arr[1]);
        var ex = Assert.Throws<RedisServerException>(() => db.ScriptEvaluate("return redis.call('nosuchcommand')"));
        Assert.StartsWith("ERR Unknown Redis command called from script", ex.Message);
    }
}
