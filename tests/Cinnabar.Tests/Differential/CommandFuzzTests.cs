using System.Text;
using Cinnabar.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Differential;

/// <summary>
/// Random arguments to every command family, sent to redis-server 7.0 and Cinnabar alike: each reply must
/// match byte for byte, and DEBUG DIGEST after every batch proves no key was corrupted on either side.
/// Commands whose replies are random or ordered by a per-process hash seed are still sent (so their effects
/// are fuzzed) but their replies are not compared.
/// </summary>
public sealed class CommandFuzzTests
{
    readonly ITestOutputHelper output;
    public CommandFuzzTests(ITestOutputHelper output) => this.output = output;

    // Commands that block, change the connection or the server, or depend on time: not fuzzed.
    static readonly HashSet<string> Excluded = new(StringComparer.OrdinalIgnoreCase)
    {
        "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop", "xread", "xreadgroup",
        "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor", "quit", "reset",
        "hello", "auth", "select", "swapdb", "flushall", "flushdb", "shutdown", "debug", "config", "client", "save", "bgsave",
        "bgrewriteaof", "slaveof", "replicaof", "sync", "psync", "failover", "cluster", "wait", "multi", "exec", "discard",
        "watch", "unwatch", "script", "function", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
        "slowlog", "latency", "memory", "object", "time", "info", "lastsave", "dbsize", "command", "acl", "module",
        "migrate", "restore", "dump", "restore-asking", "asking", "readonly", "readwrite", "xadd", "xautoclaim", "xclaim",
        "xpending", "xinfo", "randomkey", "pfselftest", "pfdebug", "lolwut", "keys", "scan", "move", "copy",
        "georadius", "georadiusbymember", "geosearchstore", "replconf", "role", "echo", "ping", "publish", "spublish", "pubsub",
        // TTLs expire at slightly different moments on two servers: covered by the corpus instead.
        "expire", "pexpire", "expireat", "pexpireat", "setex", "psetex", "getex",
        // Removes a random member: the two datasets would part ways.
        "spop",
    };

    // Replies not compared: random choices or hash-seed order (effects still fuzzed and checked by DEBUG DIGEST).
    static readonly HashSet<string> Unordered = new(StringComparer.OrdinalIgnoreCase)
    {
        "spop", "srandmember", "hrandfield", "zrandmember", "smembers", "sinter", "sunion", "sdiff", "hgetall", "hkeys",
        "hvals", "sscan", "hscan", "zscan", "sintercard", "smismember",
        // A set or sorted set sorted BY a constant, or ALPHA BY equal weights, comes out in hash-table order.
        "sort", "sort_ro",
    };

    static readonly string[] Words =
    {
        "NX", "XX", "GT", "LT", "CH", "INCR", "KEEPTTL", "GET", "WITHSCORES", "LIMIT", "BYSCORE", "BYLEX", "REV",
        "COUNT", "MATCH", "LEFT", "RIGHT", "BEFORE", "AFTER", "RANK", "MAXLEN", "WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX",
        "WITHVALUES", "IDX", "LEN", "MINMATCHLEN", "OVERFLOW", "SAT", "WRAP", "FAIL", "INCRBY", "SET", "u8", "i16", "BIT", "BYTE",
        "AND", "OR", "XOR", "NOT", "-inf", "+inf", "(1", "[a", "-", "+", "*", "0-1", "$", ">", "STREAMS", "GROUP",
        "BY", "ALPHA", "STORE", "DESC", "ASC", "nosort", "fz:*", "fz:*->m1",
    };

    internal static byte[] RandomArg(Random r)
    {
        string s = r.Next(9) switch
        {
            0 or 1 or 2 => "fz:" + r.Next(8),
            3 => r.Next(-3, 30).ToString(),
            4 => (r.NextDouble() * 20 - 5).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
            5 or 6 => Words[r.Next(Words.Length)],
            7 => "m" + r.Next(12),
            _ => null,
        };
        if (s != null) return Encoding.ASCII.GetBytes(s);
        var b = new byte[r.Next(0, 12)];
        r.NextBytes(b);
        return b;
    }

    internal static List<string> ImplementedCommands(RespConnection c)
    {
        var list = RespConnection.Latin1(c.CallRaw(new[] { "COMMAND"u8.ToArray(), "LIST"u8.ToArray() }));
        return list.Split("\r\n").Where((l, i) => i > 0 && !l.StartsWith('$') && !l.StartsWith('*') && l.Length > 0 && !l.Contains('|'))
            .Where(n => !Excluded.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
    }

    [Fact]
    public void RandomArgumentsToEveryFamilyMatchRedisAndCorruptNothing()
    {
        using var redis = new ServerProcess(Env.RedisServer, "--enable-debug-command", "yes");
        using var cinnabar = new ServerProcess(Env.CinnabarServer, "--enable-debug-command", "yes");
        using var rc = redis.Connect();
        using var cc = cinnabar.Connect();
        var commands = ImplementedCommands(cc);
        Assert.True(commands.Count >= 40, $"only {commands.Count} commands to fuzz");
        var r = new Random(4242);
        // Set CINNABAR_FUZZ_DIGEST_EVERY=1 to find the exact command after which the datasets diverge.
        bool digestEveryCommand = Environment.GetEnvironmentVariable("CINNABAR_FUZZ_DIGEST_EVERY") == "1";
        int sent = 0, compared = 0, differences = 0;
        var report = new StringBuilder();
        for (int batch = 0; batch < 200; batch++)
        {
            for (int i = 0; i < 150; i++)
            {
                string name = commands[r.Next(commands.Count)];
                var args = new List<byte[]> { Encoding.ASCII.GetBytes(name) };
                int n = r.Next(0, 7);
                for (int a = 0; a < n; a++) args.Add(RandomArg(r));
                var expected = rc.CallRaw(args);
                var actual = cc.CallRaw(args);
                sent++;
                if (digestEveryCommand && Digest(rc) != Digest(cc))
                {
                    report.Append($"DEBUG DIGEST differs right after: {string.Join(' ', args.Select(x => Encoding.Latin1.GetString(x)))}\n");
                    differences++;
                    batch = int.MaxValue - 1;
                    break;
                }
                if (Unordered.Contains(name)) continue;
                compared++;
                if (expected.AsSpan().SequenceEqual(actual)) continue;
                differences++;
                if (differences <= 15)
                    report.Append($"{string.Join(' ', args.Select(x => Encoding.Latin1.GetString(x)))}\n  redis:    {Show(expected)}\n  cinnabar: {Show(actual)}\n");
            }
            var d1 = RespConnection.Latin1(rc.CallRaw(new[] { "DEBUG"u8.ToArray(), "DIGEST"u8.ToArray() }));
            var d2 = RespConnection.Latin1(cc.CallRaw(new[] { "DEBUG"u8.ToArray(), "DIGEST"u8.ToArray() }));
            if (d1 != d2)
            {
                report.Append($"after batch {batch}: DEBUG DIGEST differs ({d1.Trim()} vs {d2.Trim()})\n");
                differences++;
                break;
            }
        }
        Assert.False(cinnabar.Process.HasExited, "server crashed:\n" + cinnabar.Output);
        output.WriteLine($"{sent} commands sent ({commands.Count} distinct), {compared} replies compared, {differences} differences");
        Assert.True(differences == 0, $"{differences} differences:\n{report}");
    }

    static string Digest(RespConnection c) => RespConnection.Latin1(c.CallRaw(new[] { "DEBUG"u8.ToArray(), "DIGEST"u8.ToArray() }));

    static string Show(byte[] reply)
    {
        var s = RespConnection.Latin1(reply).Replace("\r\n", "\\r\\n");
        return s.Length > 300 ? s[..300] + "..." : s;
    }
}
