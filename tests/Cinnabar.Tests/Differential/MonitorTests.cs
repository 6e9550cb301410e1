using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Differential;

/// <summary>
/// What MONITOR shows, compared line by line with redis-server 7.0 (timestamps and client ports aside):
/// the order (a command is shown after it ran, EVAL before its script, EXEC after its commands), the
/// commands a script calls as "lua", the database after SELECT, redacted passwords, hidden admin commands.
/// </summary>
public sealed class MonitorTests
{
    static readonly string[][] Session =
    {
        new[] { "SET", "k", "v" },
        new[] { "SELECT", "2" },
        new[] { "SET", "k2", "v2" },
        new[] { "SELECT", "0" },
        new[] { "EVAL", "redis.call('select', 3); redis.call('set', 'x', 1); return redis.call('get', 'x')", "0" },
        new[] { "EVAL", "return redis.pcall('incr', KEYS[1])", "1", "k" },
        new[] { "EVAL", "return redis.call('config', 'get', 'maxmemory')", "0" },
        new[] { "EVAL", "return redis.call('nosuchcommand')", "0" },
        new[] { "EVAL", "return 1", "notanumber" },
        new[] { "EVALSHA", "0123456789012345678901234567890123456789", "0" },
        new[] { "FCALL", "nosuchfunction", "0" },
        new[] { "MULTI" },
        new[] { "SET", "q", "1" },
        new[] { "INCR", "q" },
        new[] { "EVAL", "return redis.call('incr', 'q')", "0" },
        new[] { "EXEC" },
        new[] { "AUTH", "secret" },
        new[] { "AUTH", "user", "secret" },
        new[] { "HELLO", "2", "AUTH", "default", "nopass", "SETNAME", "named" },
        new[] { "CONFIG", "SET", "maxmemory", "0" },
        new[] { "GET", "k", "extra" },
        new[] { "NOSUCHCOMMAND" },
        new[] { "BLPOP", "nolist", "0.01" },
        new[] { "PING", "end-of-session" },
    };

    static List<string> Observe(string binary)
    {
        using var server = new ServerProcess(binary, "--loglevel", "warning");
        using var monitor = server.Connect();
        Assert.Equal("+OK\r\n", monitor.Call("MONITOR"));
        using var client = server.Connect();
        foreach (var command in Session) client.Call(command);
        var lines = new List<string>();
        while (true)
        {
            string line = RespConnection.Latin1(monitor.ReadReply());
            line = Regex.Replace(line, @"^\+\d+\.\d{6} ", "+<time> ");
            line = Regex.Replace(line, @"127\.0\.0\.1:\d+\]", "<client>]");
            lines.Add(line);
            if (line.Contains("end-of-session")) return lines;
            Assert.True(lines.Count < 200, "MONITOR never showed the last command");
        }
    }

    [Fact]
    public void MonitorShowsWhatRedisShows()
    {
        var expected = Observe(Env.RedisServer);
        var actual = Observe(Env.CinnabarServer);
        Assert.Equal(string.Join("", expected), string.Join("", actual));
    }
}
