using System.Text;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;
using Xunit;

namespace Cinnabar.Tests.Unit;

public sealed class NumbersTests
{
    [Theory]
    [InlineData("0", true, 0L)]
    [InlineData("-1", true, -1L)]
    [InlineData("9223372036854775807", true, long.MaxValue)]
    [InlineData("-9223372036854775808", true, long.MinValue)]
    [InlineData("9223372036854775808", false, 0L)]
    [InlineData("01", false, 0L)]
    [InlineData("+1", false, 0L)]
    [InlineData("-0", false, 0L)]
    [InlineData(" 1", false, 0L)]
    [InlineData("", false, 0L)]
    [InlineData("1.0", false, 0L)]
    public void Int64ParsingFollowsString2ll(string text, bool ok, long value)
    {
        Assert.Equal(ok, Numbers.TryParseInt64(Encoding.ASCII.GetBytes(text), out long v));
        if (ok) Assert.Equal(value, v);
    }

    [Theory]
    [InlineData(1.5, "1.5")]
    [InlineData(0.1, "0.10000000000000001")]
    [InlineData(1e20, "1e+20")]
    [InlineData(-2.5e-7, "-2.4999999999999999e-07")]
    [InlineData(100.0, "100")]
    public void DoublesFormatLikePercent17g(double v, string expected) => Assert.Equal(expected, Numbers.FormatDouble17g(v));

    /// <summary>glibc's strtod as SORT uses it: value, bytes read (0 when nothing converts), ERANGE.</summary>
    [Theory]
    [InlineData("12.5", 12.5, 4, false)]
    [InlineData("  -7x", -7.0, 4, false)]
    [InlineData("", 0.0, 0, false)]
    [InlineData(" ", 0.0, 0, false)]
    [InlineData("-", 0.0, 0, false)]
    [InlineData(".5", 0.5, 2, false)]
    [InlineData("5.", 5.0, 2, false)]
    [InlineData("1e", 1.0, 1, false)]
    [InlineData("1e+", 1.0, 1, false)]
    [InlineData("1E-2", 0.01, 4, false)]
    [InlineData("0x", 0.0, 1, false)]
    [InlineData("0x1A", 26.0, 4, false)]
    [InlineData("0x1p4", 16.0, 5, false)]
    [InlineData("0x.8", 0.5, 4, false)]
    [InlineData("Infinity", double.PositiveInfinity, 8, false)]
    [InlineData("-infx", double.NegativeInfinity, 4, false)]
    [InlineData("nan(abc)", double.NaN, 8, false)]
    [InlineData("1e400", double.PositiveInfinity, 5, true)]
    [InlineData("1e-400", 0.0, 6, true)]
    [InlineData("4.9e-324", 4.9e-324, 8, true)]
    [InlineData("2.2250738585072014e-308", 2.2250738585072014e-308, 23, false)]
    [InlineData("0x1p-1074", 4.9e-324, 9, false)]
    [InlineData("0x1p-1075", 0.0, 9, true)]
    [InlineData("0x3p-1075", 9.9e-324, 9, true)]
    [InlineData("0x1.fffffffffffff8p1023", double.PositiveInfinity, 23, true)]
    [InlineData("0.0e-999", 0.0, 8, false)]
    public void StrtodReadsAPrefixAndReportsRange(string text, double value, int consumed, bool erange)
    {
        double v = Numbers.Strtod(Encoding.ASCII.GetBytes(text), out int used, out bool range);
        Assert.Equal(value, v);
        Assert.Equal(consumed, used);
        Assert.Equal(erange, range);
    }

    [Fact]
    public void StrtodStopsAtNul()
    {
        Assert.Equal(57.0, Numbers.Strtod(new byte[] { (byte)'5', (byte)'7', 0, (byte)'9' }, out int used, out _));
        Assert.Equal(2, used);
    }
}

public sealed class GlobTests
{
    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("h?llo", "hello", true)]
    [InlineData("h[ae]llo", "hallo", true)]
    [InlineData("h[^e]llo", "hello", false)]
    [InlineData("h[a-b]llo", "hbllo", true)]
    [InlineData("h\\*llo", "h*llo", true)]
    [InlineData("h\\*llo", "hello", false)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    public void MatchesLikeStringmatchlen(string pattern, string text, bool expected) =>
        Assert.Equal(expected, Glob.Match(Encoding.ASCII.GetBytes(pattern), Encoding.ASCII.GetBytes(text)));
}

public sealed class RequestReaderTests
{
    static RequestReader Fill(string data)
    {
        var r = new RequestReader();
        var bytes = Encoding.ASCII.GetBytes(data);
        bytes.CopyTo(r.ReceiveSpace(bytes.Length));
        r.Committed(bytes.Length);
        return r;
    }

    [Fact]
    public void ParsesMultibulkInPlace()
    {
        var r = Fill("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
        Assert.Equal(ParseResult.Command, r.Next(512 << 20, true));
        Assert.Equal(2, r.ArgCount);
        Assert.Equal("key", Encoding.ASCII.GetString(r.Arg(1)));
        Assert.Equal(ParseResult.NeedMore, r.Next(512 << 20, true));
    }

    [Fact]
    public void ResumesAPartialRequest()
    {
        var r = Fill("*2\r\n$3\r\nGET\r\n$3\r\nke");
        Assert.Equal(ParseResult.NeedMore, r.Next(512 << 20, true));
        "y\r\n"u8.CopyTo(r.ReceiveSpace(3));
        r.Committed(3);
        Assert.Equal(ParseResult.Command, r.Next(512 << 20, true));
        Assert.Equal("key", Encoding.ASCII.GetString(r.Arg(1)));
    }

    [Fact]
    public void InlineUnescapesQuotedArguments()
    {
        var r = Fill("SET \"a\\x41b\" 'it\\'s'\r\n");
        Assert.Equal(ParseResult.Command, r.Next(512 << 20, true));
        Assert.Equal("aAb", Encoding.ASCII.GetString(r.Arg(1)));
        Assert.Equal("it's", Encoding.ASCII.GetString(r.Arg(2)));
    }

    [Fact]
    public void RejectsBadLengthsWithRedisTexts()
    {
        var r = Fill("*1\r\n$abc\r\n");
        Assert.Equal(ParseResult.Error, r.Next(512 << 20, true));
        Assert.Equal("Protocol error: invalid bulk length", r.ErrorText);
    }
}

public sealed class KeyTableTests
{
    [Fact]
    public void AddFindRemoveAndScanCoverEveryKey()
    {
        var t = new KeyTable();
        for (int i = 0; i < 10_000; i++) t.Add(Encoding.ASCII.GetBytes("k" + i), i);
        Assert.Equal(10_000, t.Count);
        for (int i = 0; i < 10_000; i += 2) t.RemoveAt(t.Find(Encoding.ASCII.GetBytes("k" + i)));
        Assert.Equal(5_000, t.Count);
        Assert.True(t.Find("k1"u8) >= 0);
        Assert.Equal(-1, t.Find("k0"u8));
        var seen = new HashSet<string>();
        ulong cursor = 0;
        do cursor = t.ScanStep(cursor, i => seen.Add(Encoding.ASCII.GetString(t.At(i).Key)));
        while (cursor != 0);
        Assert.Equal(5_000, seen.Count);
    }

    [Fact]
    public void VolatileListTracksKeysWithTtl()
    {
        var t = new KeyTable();
        int a = t.Add("a"u8.ToArray(), 1), b = t.Add("b"u8.ToArray(), 2);
        t.SetExpire(a, 100);
        t.SetExpire(b, 200);
        Assert.Equal(2, t.VolatileCount);
        t.RemoveAt(a);
        Assert.Equal(1, t.VolatileCount);
        Assert.Equal(b, t.VolatileAt(0));
        t.SetExpire(b, 0);
        Assert.Equal(0, t.VolatileCount);
    }
}
