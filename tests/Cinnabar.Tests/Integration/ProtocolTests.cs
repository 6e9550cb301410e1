using System.Text;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>The wire protocol: pipelining, inline commands, RESP3, limits and the errors that close a connection.</summary>
public sealed class ProtocolTests
{
    static ServerProcess Start(params string[] args) => new(Env.CinnabarServer, args);

    [Fact]
    public void PipelinedRequestsAnswerInOrder()
    {
        using var s = Start();
        using var c = s.Connect();
        var sb = new StringBuilder();
        for (int i = 0; i < 1000; i++) sb.Append($"*3\r\n$3\r\nSET\r\n${$"k{i}".Length}\r\nk{i}\r\n${i.ToString().Length}\r\n{i}\r\n");
        for (int i = 0; i < 1000; i++) sb.Append($"*2\r\n$4\r\nINCR\r\n${$"k{i}".Length}\r\nk{i}\r\n");
        c.Send(Encoding.ASCII.GetBytes(sb.ToString()));
        for (int i = 0; i < 1000; i++) Assert.Equal("+OK\r\n", RespConnection.Latin1(c.ReadReply()));
        for (int i = 0; i < 1000; i++) Assert.Equal($":{i + 1}\r\n", RespConnection.Latin1(c.ReadReply()));
    }

    [Fact]
    public void RequestSplitAcrossManyWritesIsParsed()
    {
        using var s = Start();
        using var c = s.Connect();
        var value = new string('v', 200_000);
        var bytes = RespConnection.Encode(new[] { "SET"u8.ToArray(), "big"u8.ToArray(), Encoding.ASCII.GetBytes(value) });
        for (int i = 0; i < bytes.Length; i += 7777)
        {
            c.Send(bytes[i..Math.Min(bytes.Length, i + 7777)]);
            Thread.Yield();
        }
        Assert.Equal("+OK\r\n", RespConnection.Latin1(c.ReadReply()));
        Assert.Equal($"${value.Length}\r\n{value}\r\n", c.Call("GET", "big"));
    }

    [Fact]
    public void InlineCommandsWork()
    {
        using var s = Start();
        using var c = s.Connect();
        c.Send("SET greeting \"hello world\"\r\nGET greeting\r\nPING\n"u8.ToArray());
        Assert.Equal("+OK\r\n", RespConnection.Latin1(c.ReadReply()));
        Assert.Equal("$11\r\nhello world\r\n", RespConnection.Latin1(c.ReadReply()));
        Assert.Equal("+PONG\r\n", RespConnection.Latin1(c.ReadReply()));
    }

    [Theory]
    [InlineData("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n")]
    [InlineData("*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n")]
    [InlineData("*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n")]
    [InlineData("SET a \"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n")]
    public void ProtocolErrorsAnswerThenClose(string request, string expected)
    {
        using var s = Start();
        using var c = s.Connect();
        c.Send(Encoding.ASCII.GetBytes(request));
        Assert.Equal(expected, RespConnection.Latin1(c.ReadReply()));
        Assert.True(c.IsClosedByServer(TimeSpan.FromSeconds(5)));
        Assert.True(s.Ping());
    }

    [Fact]
    public void TooBigInlineRequestIsRejected()
    {
        using var s = Start();
        using var c = s.Connect();
        c.Send(Encoding.ASCII.GetBytes(new string('a', 70 * 1024)));
        Assert.Equal("-ERR Protocol error: too big inline request\r\n", RespConnection.Latin1(c.ReadReply()));
        Assert.True(c.IsClosedByServer(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void ProtoMaxBulkLenIsEnforced()
    {
        using var s = Start("--proto-max-bulk-len", "1mb");
        using var c = s.Connect();
        c.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n"u8.ToArray());
        Assert.Equal("-ERR Protocol error: invalid bulk length\r\n", RespConnection.Latin1(c.ReadReply()));
    }

    [Fact]
    public void ClientQueryBufferLimitClosesTheClient()
    {
        using var s = Start("--client-query-buffer-limit", "1mb");
        using var c = s.Connect();
        try
        {
            c.Send(Encoding.ASCII.GetBytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n" + new string('x', 1_500_000)));
        }
        catch (System.Net.Sockets.SocketException)
        {
        }
        Assert.True(c.IsClosedByServer(TimeSpan.FromSeconds(10)));
        Assert.True(s.Ping());
    }

    [Fact]
    public void Resp3HelloSwitchesReplyTypes()
    {
        using var s = Start();
        using var c = s.Connect();
        var hello = c.Call("HELLO", "3");
        Assert.StartsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n", hello);
        Assert.Equal("_\r\n", c.Call("GET", "missing"));
        Assert.Equal("%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", c.Call("CONFIG", "GET", "maxmemory"));
        Assert.StartsWith("*14\r\n$6\r\nserver\r\n", c.Call("HELLO", "2", "SETNAME", "me"));
        Assert.Equal("$-1\r\n", c.Call("GET", "missing"));
        Assert.Equal("$2\r\nme\r\n", c.Call("CLIENT", "GETNAME"));
    }

    [Fact]
    public void MaxClientsRefusesTheExtraConnection()
    {
        using var s = Start("--maxclients", "2");
        using var a = s.Connect();
        using var b = s.Connect();
        Assert.Equal("+PONG\r\n", a.Call("PING"));
        Assert.Equal("+PONG\r\n", b.Call("PING"));
        using var extra = s.Connect();
        Assert.Equal("-ERR max number of clients reached\r\n", RespConnection.Latin1(extra.ReadReply()));
    }

    [Fact]
    public void IdleClientsAreClosedAfterTimeout()
    {
        using var s = Start("--timeout", "1");
        using var c = s.Connect();
        Assert.Equal("+PONG\r\n", c.Call("PING"));
        Assert.True(c.IsClosedByServer(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void RequirePassGatesCommands()
    {
        using var s = Start("--requirepass", "s3cret");
        using var c = s.Connect();
        Assert.Equal("-NOAUTH Authentication required.\r\n", c.Call("GET", "k"));
        Assert.Equal("-WRONGPASS invalid username-password pair or user is disabled.\r\n", c.Call("AUTH", "nope"));
        Assert.Equal("+OK\r\n", c.Call("AUTH", "s3cret"));
        Assert.Equal("$-1\r\n", c.Call("GET", "k"));
    }

    [Fact]
    public void UnauthenticatedClientsCannotSendHugeRequests()
    {
        using var s = Start("--requirepass", "s3cret");
        using var c = s.Connect();
        c.Send("*20\r\n"u8.ToArray());
        Assert.Equal("-ERR Protocol error: invalid multibulk length\r\n", RespConnection.Latin1(c.ReadReply()));
    }

    [Fact]
    public void OutputBufferHardLimitClosesTheClient()
    {
        using var s = Start("--client-output-buffer-limit", "normal 100kb 0 0");
        using var c = s.Connect();
        Assert.Equal("+OK\r\n", c.Call("SET", "big", new string('x', 1_000_000)));
        c.Send(RespConnection.Encode(new[] { "GET"u8.ToArray(), "big"u8.ToArray() }));
        Assert.True(c.IsClosedByServer(TimeSpan.FromSeconds(10)));
        Assert.Contains("scheduled to be closed ASAP for overcoming of output buffer limits", s.WaitForOutput("overcoming of output buffer limits"));
        using var other = s.Connect();
        Assert.Equal("+PONG\r\n", other.Call("PING"));
    }
}
