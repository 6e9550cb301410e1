using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Persistence;

/// <summary>
/// The AOF on a disk that fills up (appendfsync everysec): the writes that were acknowledged stay in the AOF
/// buffer, new writes and PING get Redis's MISCONF text, INFO says aof_last_write_status:err, and once space is
/// freed the buffer is written by itself; after a kill -9 every acknowledged write comes back.
/// </summary>
public sealed class AofDiskErrorTests
{
    static string Info(RespConnection c, string field) =>
        Regex.Match(c.Call("INFO", "persistence"), field + @":([^\r]*)").Groups[1].Value;

    [Fact]
    public void FullDiskRefusesWritesThenRecoversWithoutLosingAcknowledgedOnes()
    {
        using var disk = new SmallDisk();
        using var server = new DirServer(Env.CinnabarServer, disk.Path, "--appendonly", "yes", "--appendfsync", "everysec");
        Assert.True(server.WaitUp(), server.Log);
        disk.Fill();
        var acknowledged = new List<string>();
        string refusal = null;
        using (var c = server.Connect())
        {
            string value = new('v', 2000);
            for (int i = 0; i < 5000 && refusal == null; i++)
            {
                string reply = c.Call("SET", $"k{i}", value);
                if (reply == "+OK\r\n") acknowledged.Add($"k{i}");
                else refusal = reply;
            }
            Assert.Equal("-MISCONF Errors writing to the AOF file: No space left on device\r\n", refusal);
            Assert.Equal("err", Info(c, "aof_last_write_status"));
            Assert.StartsWith("-MISCONF Errors writing to the AOF file", c.Call("PING"));
            Assert.Equal("$2000\r\n" + value + "\r\n", c.Call("GET", acknowledged[^1]));

            disk.Free();
            Assert.True(Env.WaitUntil(() => Info(c, "aof_last_write_status") == "ok", TimeSpan.FromSeconds(10)), server.Log);
            Assert.Contains("AOF write error looks solved, Redis can write again.", server.WaitLog("AOF write error looks solved"));
            Assert.Equal("+OK\r\n", c.Call("SET", "after", "recovery"));
            acknowledged.Add("after");
        }
        // SIGKILL loses nothing that reached write(): the page cache outlives the process.
        server.Kill9();
        server.Start("--appendonly", "yes", "--appendfsync", "everysec");
        Assert.True(server.WaitUp(), server.Log);
        using var r = server.Connect();
        foreach (var key in acknowledged) Assert.Equal(":1\r\n", r.Call("EXISTS", key));
        Assert.Equal($":{acknowledged.Count}\r\n", r.Call("DBSIZE"));
    }
}
