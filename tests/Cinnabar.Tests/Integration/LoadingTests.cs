using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>While an RDB loads, other clients are answered, with LOADING for what needs the data.</summary>
public sealed class LoadingTests
{
    [Fact]
    public void ClientsGetLoadingWhileTheDatasetLoads()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--enable-debug-command", "yes");
        using var loader = s.Connect();
        using var other = s.Connect();
        loader.Call("DEBUG", "POPULATE", "1000000");
        loader.Send(RespConnection.Encode(new[] { "DEBUG"u8.ToArray(), "RELOAD"u8.ToArray() }));
        string seenPing = null, seenInfo = null;
        Assert.True(Env.WaitUntil(() =>
        {
            string ping = other.Call("PING");
            if (ping.StartsWith("-LOADING"))
            {
                seenPing = ping;
                seenInfo = other.Call("INFO", "persistence");
                return true;
            }
            return false;
        }, TimeSpan.FromSeconds(30), pollMs: 1), "PING was never answered LOADING");
        Assert.Equal("-LOADING Redis is loading the dataset in memory\r\n", seenPing);
        Assert.Contains("loading:1\r\n", seenInfo);
        Assert.Matches(@"loading_loaded_perc:\d+\.\d\d\r\n", seenInfo);
        Assert.Equal("+OK\r\n", RespConnection.Latin1(loader.ReadReply()));
        Assert.Equal(":1000000\r\n", other.Call("DBSIZE"));
        Assert.Equal("+PONG\r\n", other.Call("PING"));
        Assert.Matches(new Regex("loading:0\r\n"), other.Call("INFO", "persistence"));
    }
}
