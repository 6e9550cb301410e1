using System.Net.Sockets;
using System.Text;
using Cinnabar.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Integration;

/// <summary>
/// Bad input must never crash the server: 100,000 random and mutated RESP frames over many connections,
/// while a well-formed client on its own connection keeps getting correct answers.
/// </summary>
public sealed class FuzzTests
{
    readonly ITestOutputHelper output;
    public FuzzTests(ITestOutputHelper output) => this.output = output;

    static readonly string[] Commands = { "SET", "GET", "INCR", "APPEND", "SETRANGE", "GETRANGE", "DEL", "EXPIRE", "MSET", "MGET", "HELLO", "OBJECT", "SCAN", "KEYS", "LCS", "SETBIT", "BITFIELD", "PING", "ECHO", "SELECT", "COPY", "RENAME" };
    // CONFIG and CLIENT are left out: a random CONFIG SET or CLIENT KILL would legitimately change the server under test.

    // Replies to these depend only on the commands sent, so redis-server and Cinnabar must answer identically.
    static readonly string[] DeterministicCommands = { "SET", "GET", "INCR", "APPEND", "SETRANGE", "GETRANGE", "DEL", "MSET", "MGET", "LCS", "SETBIT", "BITFIELD", "BITCOUNT", "PING", "ECHO", "SELECT", "COPY", "RENAME", "STRLEN", "GETDEL", "EXISTS", "TYPE", "INCRBYFLOAT", "DECRBY" };

    static byte[] ValidFrame(Random r, string[] commands = null)
    {
        commands ??= Commands;
        var args = new List<byte[]> { Encoding.ASCII.GetBytes(commands[r.Next(commands.Length)]) };
        int n = r.Next(0, 5);
        for (int i = 0; i < n; i++)
        {
            args.Add(r.Next(4) switch
            {
                0 => Encoding.ASCII.GetBytes(r.Next(-5, 100).ToString()),
                1 => Encoding.ASCII.GetBytes("k" + r.Next(20)),
                2 => Encoding.ASCII.GetBytes(new[] { "EX", "PX", "NX", "XX", "GET", "KEEPTTL", "COUNT", "MATCH", "*", "3" }[r.Next(10)]),
                _ => RandomBytes(r, r.Next(0, 40)),
            });
        }
        return RespConnection.Encode(args);
    }

    static byte[] RandomBytes(Random r, int n)
    {
        var b = new byte[n];
        r.NextBytes(b);
        return b;
    }

    static byte[] Mutate(Random r, byte[] frame)
    {
        var b = frame.ToList();
        int edits = r.Next(1, 4);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int pos = r.Next(b.Count);
            switch (r.Next(5))
            {
                case 0: b[pos] = (byte)r.Next(256); break;
                case 1: b.RemoveAt(pos); break;
                case 2: b.Insert(pos, (byte)"*$\r\n-0123456789:+"[r.Next(17)]); break;
                case 3: b.InsertRange(pos, Encoding.ASCII.GetBytes(r.Next(2) == 0 ? "*999999999\r\n" : "$2147483648\r\n")); break;
                default: b.RemoveRange(pos, b.Count - pos); break;
            }
        }
        return b.ToArray();
    }

    [Fact]
    public void HundredThousandBadFramesNeverCrashTheServer()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--enable-debug-command", "no");
        var r = new Random(12345);
        int frames = 0, connections = 0;
        using var healthy = s.Connect();
        Assert.Equal("+OK\r\n", healthy.Call("SET", "canary", "alive"));
        while (frames < 100_000)
        {
            connections++;
            using var sock = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 2000, SendTimeout = 2000 };
            sock.Connect("127.0.0.1", s.Port);
            var batch = new MemoryStream();
            int inBatch = r.Next(50, 400);
            for (int i = 0; i < inBatch; i++, frames++)
            {
                var frame = ValidFrame(r);
                batch.Write(r.Next(3) == 0 ? frame : Mutate(r, frame));
                if (r.Next(50) == 0) batch.Write(RandomBytes(r, r.Next(1, 64)));
            }
            try
            {
                sock.Send(batch.ToArray());
                sock.Shutdown(SocketShutdown.Send);
                var buf = new byte[65536];
                while (sock.Receive(buf) > 0) { }
            }
            catch (SocketException)
            {
                // The server may close a connection on a protocol error; that is the expected answer.
            }
            if (connections % 20 == 0)
            {
                Assert.False(s.Process.HasExited, "server crashed:\n" + s.Output);
                Assert.Equal("$5\r\nalive\r\n", healthy.Call("GET", "canary"));
            }
        }
        Assert.False(s.Process.HasExited, "server crashed:\n" + s.Output);
        Assert.Equal("$5\r\nalive\r\n", healthy.Call("GET", "canary"));
        Assert.DoesNotContain("Internal error", s.Output);
        output.WriteLine($"{frames} frames over {connections} connections");
    }

    /// <summary>An inline (telnet-style) request with quoting, escapes and the odd stray byte.</summary>
    static byte[] InlineFrame(Random r)
    {
        var sb = new StringBuilder(DeterministicCommands[r.Next(DeterministicCommands.Length)]);
        int n = r.Next(0, 4);
        string[] pieces = { "k1", "\"a b\"", "'it\\'s'", "\"\\x41\\n\"", "\"unclosed", "x\"y\"", "12", "-3", "\"\"", "\t", "\v" };
        for (int i = 0; i < n; i++) sb.Append(r.Next(3) == 0 ? "  " : " ").Append(pieces[r.Next(pieces.Length)]);
        sb.Append(r.Next(4) == 0 ? "\n" : "\r\n");
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    static byte[] Exchange(int port, byte[] request)
    {
        using var sock = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 5000, SendTimeout = 5000 };
        sock.Connect("127.0.0.1", port);
        var received = new MemoryStream();
        try
        {
            sock.Send(request);
            sock.Shutdown(SocketShutdown.Send);
            var buf = new byte[65536];
            int n;
            while ((n = sock.Receive(buf)) > 0) received.Write(buf, 0, n);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
        }
        return received.ToArray();
    }

    [Fact]
    public void HundredThousandBadFramesGetTheSameAnswersAsRedis()
    {
        using var redis = new ServerProcess(Env.RedisServer);
        using var cinnabar = new ServerProcess(Env.CinnabarServer);
        var r = new Random(777);
        int frames = 0, batches = 0, differences = 0;
        var report = new StringBuilder();
        while (frames < 100_000)
        {
            batches++;
            var batch = new MemoryStream();
            int inBatch = r.Next(20, 120);
            for (int i = 0; i < inBatch; i++, frames++)
            {
                if (r.Next(10) == 0) { batch.Write(InlineFrame(r)); continue; }
                var frame = ValidFrame(r, DeterministicCommands);
                batch.Write(r.Next(4) == 0 ? Mutate(r, frame) : frame);
            }
            var request = batch.ToArray();
            var expected = Exchange(redis.Port, request);
            var actual = Exchange(cinnabar.Port, request);
            if (!expected.AsSpan().SequenceEqual(actual))
            {
                differences++;
                if (differences <= 3)
                {
                    File.WriteAllBytes(Path.Combine(Path.GetTempPath(), $"cinnabar-fuzz-diff-{differences}.bin"), request);
                    int at = 0;
                    while (at < Math.Min(expected.Length, actual.Length) && expected[at] == actual[at]) at++;
                    string Around(byte[] b) => Encoding.Latin1.GetString(b, Math.Max(0, at - 80), Math.Min(b.Length - Math.Max(0, at - 80), 200)).Replace("\r\n", "\\r\\n");
                    report.Append($"batch {batches}: first difference at byte {at}\n  request: {Encoding.Latin1.GetString(request).Replace("\r\n", "\\r\\n")[..Math.Min(request.Length * 2, 600)]}\n  redis:    ...{Around(expected)}\n  cinnabar: ...{Around(actual)}\n");
                }
            }
        }
        Assert.False(cinnabar.Process.HasExited, "server crashed:\n" + cinnabar.Output);
        output.WriteLine($"{frames} frames in {batches} batches, {differences} batches differ");
        Assert.True(differences == 0, $"{differences} of {batches} batches answered differently:\n{report}");
    }
}
