using System.Text;
using Cinnabar.Server.Persistence;
using Cinnabar.Server.Storage;
using Xunit;

namespace Cinnabar.Tests.Persistence;

/// <summary>The RDB codec against the vectors and captured bytes of shared/specs/rdb.md.</summary>
public sealed class RdbCodecTests
{
    static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    [Fact]
    public void Crc64MatchesRedisTestVectors()
    {
        Assert.Equal(0xe9c6d914c4b8d9caUL, Crc64.Compute("123456789"u8));
        const string lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.";
        var bytes = Encoding.ASCII.GetBytes(lorem + "\0");
        Assert.Equal(446, bytes.Length);
        Assert.Equal(0xc7794709e69683b3UL, Crc64.Compute(bytes));
        // chaining equals one pass
        Assert.Equal(Crc64.Compute(bytes), Crc64.Update(Crc64.Compute(bytes.AsSpan(0, 100)), bytes.AsSpan(100)));
    }

    [Fact]
    public void Crc64FoldingMatchesByteAtATime()
    {
        // every length and alignment around the 16/64-byte folding steps, against the bit-by-bit definition
        static ulong Slow(ulong crc, ReadOnlySpan<byte> d)
        {
            foreach (byte b in d)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x95AC9329AC4BC9B5UL : crc >> 1;
            }
            return crc;
        }
        var rnd = new Random(3);
        var data = new byte[4096];
        rnd.NextBytes(data);
        for (int len = 0; len < 300; len++)
        {
            int off = rnd.Next(16);
            ulong init = len % 3 == 0 ? 0 : (ulong)rnd.NextInt64();
            Assert.Equal(Slow(init, data.AsSpan(off, len)), Crc64.Update(init, data.AsSpan(off, len)));
        }
        Assert.Equal(Slow(0, data), Crc64.Compute(data));
    }

    [Fact]
    public void LzfCompressesAsRedisDoes()
    {
        var input = Encoding.ASCII.GetBytes(new string('a', 42));
        var output = new byte[input.Length];
        int n = Lzf.Compress(input, output, input.Length - 4);
        Assert.Equal(Hex("01 61 61 e0 1d 00 01 61 61"), output.AsSpan(0, n).ToArray());
        var back = new byte[42];
        Assert.True(Lzf.Decompress(output.AsSpan(0, n), back));
        Assert.Equal(input, back);
    }

    [Fact]
    public void LzfRoundTripsAndRejectsCorruption()
    {
        var rnd = new Random(5);
        for (int t = 0; t < 200; t++)
        {
            int len = rnd.Next(1, 5000);
            var input = new byte[len];
            for (int i = 0; i < len; i++) input[i] = (byte)(rnd.Next(4) == 0 ? rnd.Next(256) : 'a' + rnd.Next(3));
            var output = new byte[len + 64];
            int n = Lzf.Compress(input, output, len + 32);
            Assert.True(n > 0);
            var back = new byte[len];
            Assert.True(Lzf.Decompress(output.AsSpan(0, n), back));
            Assert.Equal(input, back);
            Assert.False(Lzf.Decompress(output.AsSpan(0, n), new byte[len + 1]));
            if (n > 2) Assert.False(Lzf.Decompress(output.AsSpan(0, n - 1), back) && back.AsSpan().SequenceEqual(input));
        }
        Assert.False(Lzf.Decompress(Hex("e0 ff 00"), new byte[10]));   // back reference before the start
    }

    [Fact]
    public void LzfDecompressNeverWritesOutsideItsOutput()
    {
        // text with repeats near and far: literal runs and back-references of every length and distance, and
        // outputs that end right after them (the fast paths copy in 8 and 16 byte blocks when there is room)
        var rnd = new Random(11);
        string[] words = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "x", "yy" };
        for (int t = 0; t < 500; t++)
        {
            var sb = new StringBuilder();
            int target = rnd.Next(21, 3000);
            while (sb.Length < target)
                sb.Append(words[rnd.Next(words.Length)]).Append(rnd.Next(4) == 0 ? rnd.Next(1000).ToString() : "").Append(' ');
            var input = Encoding.ASCII.GetBytes(sb.ToString(0, target));
            var output = new byte[input.Length + 64];
            int n = Lzf.Compress(input, output, input.Length - 1);
            if (n == 0) continue;
            var big = new byte[input.Length + 40];
            big.AsSpan().Fill(0xEE);
            Assert.True(Lzf.Decompress(output.AsSpan(0, n), big.AsSpan(20, input.Length)));
            Assert.Equal(input, big.AsSpan(20, input.Length).ToArray());
            Assert.True(big.AsSpan(0, 20).IndexOfAnyExcept((byte)0xEE) < 0);
            Assert.True(big.AsSpan(20 + input.Length).IndexOfAnyExcept((byte)0xEE) < 0);
        }
    }

    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(63UL, "3f")]
    [InlineData(64UL, "40 40")]
    [InlineData(16383UL, "7f ff")]
    [InlineData(16384UL, "80 00 00 40 00")]
    [InlineData(4294967295UL, "80 ff ff ff ff")]
    [InlineData(4294967296UL, "81 00 00 00 01 00 00 00 00")]
    [InlineData(ulong.MaxValue, "81 ff ff ff ff ff ff ff ff")]
    public void LengthEncodings(ulong value, string hex)
    {
        var buf = new ByteBuf();
        RdbOut.WriteLen(buf, value);
        Assert.Equal(Hex(hex), buf.Span.ToArray());
        var r = new RdbReader(buf.Data, 0, buf.Length);
        Assert.Equal(value, r.ReadLen());
    }

    [Theory]
    [InlineData("12345", "c1 39 30")]
    [InlineData("-5", "c0 fb")]
    [InlineData("2147483647", "c2 ff ff ff 7f")]
    [InlineData("2147483648", "0a 32 31 34 37 34 38 33 36 34 38")]
    [InlineData("007", "03 30 30 37")]
    [InlineData("-0", "02 2d 30")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "c3 09 2a 01 61 61 e0 1d 00 01 61 61")]
    public void StringEncodings(string value, string hex)
    {
        var buf = new ByteBuf();
        RdbOut.WriteString(buf, Encoding.ASCII.GetBytes(value), compress: true);
        Assert.Equal(Hex(hex), buf.Span.ToArray());
        var r = new RdbReader(buf.Data, 0, buf.Length);
        Assert.Equal(value, Encoding.ASCII.GetString(r.ReadString()));
    }

    [Fact]
    public void ListpacksMatchCapturedBytes()
    {
        var buf = new ByteBuf();
        var w = new Listpack.Writer(buf);
        foreach (var s in new[] { "a", "b", "1", "2", "-300", "70000" }) w.AppendString(Encoding.ASCII.GetBytes(s));
        w.End();
        Assert.Equal(Hex("19 00 00 00 06 00 81 61 02 81 62 02 01 01 02 01 de d4 02 f2 70 11 01 04 ff"), buf.Span.ToArray());
        var items = Listpack.Decode(buf.Span);
        Assert.Equal(new[] { "a", "b", "1", "2", "-300", "70000" }, items.Select(b => Encoding.ASCII.GetString(b)));
        // a back-length of 200 is "01 c8"
        buf.Clear();
        w = new Listpack.Writer(buf);
        w.AppendString(new byte[198]);
        w.End();
        Assert.Equal(Hex("01 c8"), buf.Span.Slice(6 + 200, 2).ToArray());
        // corruption is detected, not trusted
        var bad = Hex("19 00 00 00 06 00 81 61 02 81 62 02 01 01 02 01 de d4 02 f2 70 11 01 05 ff");
        Assert.Null(Listpack.Decode(bad));
        Assert.Null(Listpack.Decode(Hex("07 00 00 00 01 00 ff")));
    }

    [Fact]
    public void DumpPayloadsMatchRedis()
    {
        var ser = new RdbSerializer();
        var buf = new ByteBuf();
        Assert.Equal(Hex("00 03 62 61 72 0a 00 e6 be 49 60 ee 66 fd 17"), RdbWriter.CreateDumpPayload(Encoding.ASCII.GetBytes("bar"), ser, buf));
        Assert.Equal(Hex("00 c0 fb 0a 00 49 c4 c6 f4 d7 26 3f 68"), RdbWriter.CreateDumpPayload(Encoding.ASCII.GetBytes("-5"), ser, buf));
        Assert.True(RdbWriter.VerifyDumpPayload(Hex("00 03 62 61 72 0a 00 e6 be 49 60 ee 66 fd 17")));
        Assert.False(RdbWriter.VerifyDumpPayload(Hex("00 03 62 61 72 0a 00 e6 be 49 60 ee 66 fd 18")));
        Assert.False(RdbWriter.VerifyDumpPayload(Hex("00 03 62 61 72 0b 00 e6 be 49 60 ee 66 fd 17")));
        var set = SetValue.NewIntset();
        foreach (var m in new[] { "1", "2", "3" }) set.Add(Encoding.ASCII.GetBytes(m), 512);
        buf.Clear();
        ser.WriteObject(buf, set);
        Assert.Equal(Hex("0b 0e 02 00 00 00 03 00 00 00 01 00 02 00 03 00"), buf.Span.ToArray());
    }

    [Fact]
    public void MinimalFileIsByteForByteRedis()
    {
        // the 103-byte file of rdb.md §14, with its ctime and used-mem
        var w = new RdbWriter();
        w.WriteHeader("7.0.15", 0x000e5440, aofBase: false, ctime: 0x6b0612b7);
        w.WriteSelectDb(0, 1, 0);
        w.WriteKey("foo"u8, Encoding.ASCII.GetBytes("bar"), 0);
        w.Finish();
        var ms = new MemoryStream();
        w.DrainTo(ms);
        var bytes = ms.ToArray();
        Assert.Equal(103, bytes.Length);
        Assert.Equal(Hex("aa 5f 1a 0a e2 56 bd 3a"), bytes.AsSpan(95).ToArray());
        // and it loads back
        var sink = new ListSink();
        RdbFileLoader.Load(new RdbReader(new MemoryStream(bytes)), sink, LoadLimits.Default, verifyChecksum: true);
        Assert.Equal("foo=bar", Assert.Single(sink.Keys));
        bytes[50] ^= 1;
        Assert.Throws<RdbException>(() => RdbFileLoader.Load(new RdbReader(new MemoryStream(bytes)), new ListSink(), LoadLimits.Default, true));
    }

    [Fact]
    public void RandomBytesNeverCrashTheLoader()
    {
        var rnd = new Random(11);
        var ser = new RdbSerializer();
        var list = new ListValue();
        for (int i = 0; i < 300; i++) list.PushBack(Encoding.ASCII.GetBytes("v" + i));
        var buf = new ByteBuf();
        var good = RdbWriter.CreateDumpPayload(list, ser, buf);
        for (int t = 0; t < 3000; t++)
        {
            var bad = good.ToArray();
            for (int k = 0, n = rnd.Next(1, 4); k < n; k++) bad[rnd.Next(bad.Length - 10)] = (byte)rnd.Next(256);
            try
            {
                var r = new RdbReader(bad, 0, bad.Length);
                int type = r.ReadByte();
                if (Rdb.IsObjectType(type)) RdbValueLoader.Read(r, type, LoadLimits.Default);
            }
            catch (RdbException) { }
            catch (RdbEmptyKeyException) { }
        }
    }

    sealed class ListSink : IRdbSink
    {
        public readonly List<string> Keys = new();
        public void Aux(byte[] key, byte[] value) { }
        public void Function(byte[] code) { }
        public bool SelectDb(int db) => true;
        public void ResizeDb(ulong keys, ulong expires) { }
        public bool Key(byte[] key, object value, long expireMs, long idleSeconds, int freq)
        {
            Keys.Add(Encoding.ASCII.GetString(key) + "=" + Encoding.ASCII.GetString(Values.StringBytes(value)));
            return true;
        }
        public void EmptyKey(byte[] key) { }
    }
}
