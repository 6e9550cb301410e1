using Cinnabar.Server.Replication;
using Xunit;

namespace Cinnabar.Tests.Replication;

/// <summary>The backlog ring: offsets, wrap-around, what a PSYNC offset may continue from, resizing.</summary>
public sealed class ReplicationBacklogTests
{
    const int Min = 16 * 1024;

    static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte)(seed + i * 7);
        return b;
    }

    static byte[] CopyFrom(ReplicationBacklog b, long offset)
    {
        var ms = new MemoryStream();
        b.CopyFrom(offset, s => ms.Write(s));
        return ms.ToArray();
    }

    [Fact]
    public void NewBacklogStartsAfterTheCurrentOffset()
    {
        var b = new ReplicationBacklog(1 << 20, 378);
        Assert.Equal(379, b.FirstByteOffset);
        Assert.Equal(0, b.HistLen);
        Assert.True(b.Covers(379));   // master_repl_offset + 1: nothing to send, but continuable
        Assert.False(b.Covers(378));
        Assert.False(b.Covers(380));
        Assert.Empty(CopyFrom(b, 379));
    }

    [Fact]
    public void SizeHasAFloorOf16K()
    {
        Assert.Equal(Min, new ReplicationBacklog(100, 0).Size);
    }

    [Fact]
    public void FeedWrapsAndKeepsTheNewestBytes()
    {
        var b = new ReplicationBacklog(Min, 0);
        var all = new List<byte>();
        var rnd = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            var chunk = Bytes(rnd.Next(1, 3000), i);
            b.Feed(chunk);
            all.AddRange(chunk);
            long histlen = Math.Min(all.Count, Min);
            Assert.Equal(histlen, b.HistLen);
            Assert.Equal(all.Count - histlen + 1, b.FirstByteOffset);
            // Any covered offset gives exactly the stream's bytes from there to the end.
            long from = b.FirstByteOffset + rnd.NextInt64(0, histlen + 1);
            Assert.True(b.Covers(from));
            Assert.Equal(all.Skip((int)(from - 1)).ToArray(), CopyFrom(b, from));
        }
        Assert.False(b.Covers(b.FirstByteOffset - 1));
        Assert.False(b.Covers(b.FirstByteOffset + b.HistLen + 1));
    }

    [Fact]
    public void FeedLargerThanTheRingKeepsItsTail()
    {
        var b = new ReplicationBacklog(Min, 10);
        b.Feed(Bytes(100, 1));
        var big = Bytes(Min * 3 + 5, 2);
        b.Feed(big);
        Assert.Equal(Min, b.HistLen);
        Assert.Equal(10 + 100 + big.Length - Min + 1, b.FirstByteOffset);
        Assert.Equal(big[^Min..], CopyFrom(b, b.FirstByteOffset));
    }

    [Fact]
    public void ResizeKeepsTheNewestBytesThatFit()
    {
        var b = new ReplicationBacklog(4 * Min, 0);
        var data = Bytes(3 * Min + 123, 9);
        b.Feed(data);
        b.Resize(Min);
        Assert.Equal(Min, b.Size);
        Assert.Equal(Min, b.HistLen);
        Assert.Equal(data.Length - Min + 1, b.FirstByteOffset);
        Assert.Equal(data[^Min..], CopyFrom(b, b.FirstByteOffset));

        b.Resize(8 * Min);   // growing keeps everything, and later bytes go after it
        Assert.Equal(Min, b.HistLen);
        var more = Bytes(5000, 4);
        b.Feed(more);
        Assert.Equal(data[^Min..].Concat(more).ToArray(), CopyFrom(b, b.FirstByteOffset));
        Assert.Equal(data.Length + more.Length, b.FirstByteOffset + b.HistLen - 1);
    }
}
