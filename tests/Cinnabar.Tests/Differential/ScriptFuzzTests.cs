using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Differential;

/// <summary>
/// Random scripts (token soup over Lua syntax, the redis.* API and the bundled libraries) to
/// redis-server 7.0 and Cinnabar: mostly compile and runtime errors, some sandbox escapes, some real
/// work. Every reply must match byte for byte (except ones that print a table or function address),
/// and the server must survive all of them.
/// </summary>
public sealed class ScriptFuzzTests
{
    static readonly string[] Tokens =
    {
        "return", "local", "x", "y", "=", "1", "2.5", "'s'", "nil", "true", "false", "{", "}", "(", ")", "[", "]", ",", "..",
        "+", "-", "*", "/", "%", "^", "#", "==", "~=", "<", ">", "and", "or", "not", "if", "then", "else", "end", "for", "i",
        "in", "do", "while", "function", "redis.call", "redis.pcall", "'get'", "'set'", "'incr'", "'k'", "'v'", "KEYS", "ARGV",
        "KEYS[1]", "ARGV[1]", "pcall", "error", "tostring", "tonumber", "type", "string.rep", "string.format", "table.concat",
        "unpack", "select", "cjson.encode", "cjson.decode", "cmsgpack.pack", "cmsgpack.unpack", "struct.pack", "struct.unpack",
        "bit.band", "math.floor", "redis.status_reply", "redis.error_reply", "redis.sha1hex", "'%d'", "'>i'", "'[1,2]'", ";",
        ":", "rawset", "rawget", "setmetatable", "getmetatable", "_G", "next", "pairs", "ipairs", "loadstring", "assert",
        "redis.setresp", "3", "0", "-1",
    };

    [Fact]
    public void RandomScriptsGetRedisReplies()
    {
        using var redis = new ServerProcess(Env.RedisServer);
        using var cin = new ServerProcess(Env.CinnabarServer);
        using var r = redis.Connect();
        using var c = cin.Connect();
        var rng = new Random(20261125);
        int compared = 0;
        var diffs = new List<string>();
        for (int n = 0; n < 3000; n++)
        {
            int len = rng.Next(1, 13);
            var body = string.Join(" ", Enumerable.Range(0, len).Select(_ => Tokens[rng.Next(Tokens.Length)]));
            if (rng.Next(2) == 0) body = "return " + body;
            var args = new[] { "EVAL", body, "1", "k", "v" };
            string a = r.Call(args), b = c.Call(args);
            if (a.Contains("0x") || a.Contains("table:") || a.Contains("function:")) continue;
            compared++;
            if (a != b && diffs.Count < 10) diffs.Add($"{body}\n  redis:    {a}\n  cinnabar: {b}");
        }
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
        Assert.True(compared > 2500, $"only {compared} replies compared");
        Assert.Equal("+PONG\r\n", c.Call("PING"));
    }
}
