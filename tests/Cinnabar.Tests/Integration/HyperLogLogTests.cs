using Cinnabar.Server.Storage;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>
/// HyperLogLog against redis-server itself: the same elements must give the same registers, the same bytes and
/// exactly the same estimate, since hash, register layout and estimator are Redis's own.
/// </summary>
public sealed class HyperLogLogTests
{
    static void AddRange(RespConnection c, string key, string prefix, int from, int to, int batch = 1000)
    {
        for (int start = from; start <= to; start += batch)
        {
            int end = Math.Min(to, start + batch - 1);
            var args = new List<string> { "PFADD", key };
            for (int i = start; i <= end; i++) args.Add(prefix + i);
            var reply = c.Call(args.ToArray());
            Assert.True(reply is ":0\r\n" or ":1\r\n", reply);
        }
    }

    [Fact]
    public void PfCountOf100000DistinctElementsMatchesRedisExactly()
    {
        using var redis = new ServerProcess(Env.RedisServer);
        using var cinnabar = new ServerProcess(Env.CinnabarServer);
        using var r = redis.Connect();
        using var c = cinnabar.Connect();
        foreach (var conn in new[] { r, c })
        {
            AddRange(conn, "hll", "element:", 1, 100_000);
            AddRange(conn, "other", "element:", 50_001, 150_000);
        }

        string expected = r.Call("PFCOUNT", "hll");
        Assert.Equal(expected, c.Call("PFCOUNT", "hll"));
        long estimate = long.Parse(expected.AsSpan(1, expected.Length - 3));
        Assert.InRange(estimate, 97_000, 103_000);   // 0.81% standard error: far inside 3%

        // The cached value, the union of two keys, the stored bytes and the merge all agree too.
        Assert.Equal(expected, c.Call("PFCOUNT", "hll"));
        Assert.Equal(r.Call("PFCOUNT", "hll", "other"), c.Call("PFCOUNT", "hll", "other"));
        Assert.Equal(r.Call("GET", "hll"), c.Call("GET", "hll"));
        Assert.Equal("+OK\r\n", c.Call("PFMERGE", "both", "hll", "other"));
        r.Call("PFMERGE", "both", "hll", "other");
        Assert.Equal(r.Call("PFCOUNT", "both"), c.Call("PFCOUNT", "both"));
        Assert.Equal(r.Call("GET", "both"), c.Call("GET", "both"));
    }

    [Fact]
    public void SparseToDensePromotionMatchesRedisByteForByte()
    {
        using var redis = new ServerProcess(Env.RedisServer);
        using var cinnabar = new ServerProcess(Env.CinnabarServer);
        using var r = redis.Connect();
        using var c = cinnabar.Connect();
        for (int n = 0; n < 4000; n += 100)
        {
            AddRange(r, "grow", "e", n + 1, n + 100, 100);
            AddRange(c, "grow", "e", n + 1, n + 100, 100);
            Assert.Equal(r.Call("GET", "grow"), c.Call("GET", "grow"));
            Assert.Equal(r.Call("PFDEBUG", "ENCODING", "grow"), c.Call("PFDEBUG", "ENCODING", "grow"));
        }
        Assert.Equal("+dense\r\n", c.Call("PFDEBUG", "ENCODING", "grow"));
        Assert.Equal("+OK\r\n", c.Call("PFSELFTEST"));
    }
}

public sealed class HyperLogLogCodecTests
{
    [Fact]
    public void EmptyHllIsOneXZeroWithAValidZeroCache()
    {
        var o = HyperLogLog.CreateEmpty();
        byte[] expected = [(byte)'H', (byte)'Y', (byte)'L', (byte)'L', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff];
        Assert.Equal(expected, o.Span.ToArray());
        Assert.True(HyperLogLog.IsValid(o.Span));
        Assert.True(HyperLogLog.IsCacheValid(o.Span));
        bool invalid = false;
        Assert.Equal(0UL, HyperLogLog.Count(o.Span, 0, ref invalid));
        Assert.False(invalid);
    }

    [Fact]
    public void SparseAndDenseAgreeWhileSparseGrows()
    {
        var sparse = HyperLogLog.CreateEmpty();
        var dense = new byte[HyperLogLog.DenseSize];
        "HYLL"u8.CopyTo(dense);
        var regs = dense.AsSpan(HyperLogLog.HeaderSize);
        Span<byte> ele = stackalloc byte[8];
        for (long j = 1; j <= 20_000; j++)
        {
            BitConverter.TryWriteBytes(ele, unchecked((ulong)j * 0x9E3779B97F4A7C15UL));
            int count = HyperLogLog.PatternLength(ele, out int index);
            Assert.InRange(count, 1, HyperLogLog.Q + 1);
            HyperLogLog.DenseSet(regs, index, count);
            Assert.NotEqual(-1, HyperLogLog.Add(sparse, ele, 3000));
            if (j % 1000 == 0)
            {
                bool invalid = false;
                Assert.Equal(HyperLogLog.Count(dense, 0, ref invalid), HyperLogLog.Count(sparse.Span, HyperLogLog.PastEnd(sparse), ref invalid));
                Assert.False(invalid);
                Assert.True(HyperLogLog.IsValid(sparse.Span));
            }
        }
        Assert.Equal(HyperLogLog.EncodingDense, sparse.Buffer[4]);
        Assert.True(regs.SequenceEqual(sparse.Span[HyperLogLog.HeaderSize..]));
    }

    [Fact]
    public void CorruptedSparseRunsAreDetected()
    {
        var o = HyperLogLog.CreateEmpty();
        o.Buffer[17] = 0xfe;                // XZERO covering 16383 registers: one short
        bool invalid = false;
        HyperLogLog.Count(o.Span, 0, ref invalid);
        Assert.True(invalid);
        Span<byte> max = stackalloc byte[HyperLogLog.Registers];
        Assert.False(HyperLogLog.Merge(max, o.Span, 0));
        Assert.False(HyperLogLog.SparseToDense(o));
    }
}
