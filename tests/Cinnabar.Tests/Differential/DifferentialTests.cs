using System.Text;
using Cinnabar.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Cinnabar.Tests.Differential;

/// <summary>One redis-server 7.0 and one cinnabar-server, shared by every corpus file (FLUSHALL between files).</summary>
public sealed class OracleAndCinnabar : IDisposable
{
    static readonly string[] Flags = { "--enable-debug-command", "yes", "--loglevel", "warning" };
    public readonly ServerProcess Redis = new(Env.RedisServer, Flags);
    public readonly ServerProcess Cinnabar = new(Env.CinnabarServer, Flags);

    public void Dispose()
    {
        Redis.Dispose();
        Cinnabar.Dispose();
    }
}

/// <summary>Every corpus command goes to redis-server 7.0 and to Cinnabar; the replies must be byte-identical.</summary>
public sealed class DifferentialTests : IClassFixture<OracleAndCinnabar>
{
    readonly OracleAndCinnabar servers;
    readonly ITestOutputHelper output;

    public DifferentialTests(OracleAndCinnabar servers, ITestOutputHelper output)
    {
        this.servers = servers;
        this.output = output;
    }

    public static IEnumerable<object[]> CorpusFiles() => Corpus.Files().Select(f => new object[] { Path.GetFileName(f) });

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void RepliesMatchRedisByteForByte(string file)
    {
        var steps = Corpus.Parse(Path.Combine(Corpus.Directory, file));
        Assert.NotEmpty(steps);
        var expected = Corpus.Run(servers.Redis.Port, steps);
        var actual = Corpus.Run(servers.Cinnabar.Port, steps);
        var report = new StringBuilder();
        int compared = 0, differences = 0;
        for (int i = 0; i < steps.Count; i++)
        {
            if (!steps[i].Compare) continue;
            compared++;
            if (expected[i].AsSpan().SequenceEqual(actual[i])) continue;
            differences++;
            if (differences <= 25)
                report.Append($"{file}:{steps[i].Line}  {steps[i].Text}\n  redis:    {Show(expected[i])}\n  cinnabar: {Show(actual[i])}\n");
        }
        output.WriteLine($"{file}: {compared} commands compared, {differences} differences");
        Assert.True(differences == 0, $"{differences} of {compared} replies differ from redis-server:\n{report}");
    }

    static string Show(byte[] reply)
    {
        var s = RespConnection.Latin1(reply).Replace("\r\n", "\\r\\n");
        return s.Length > 400 ? s[..400] + "..." : s;
    }

    [Fact]
    public void CorpusHasAtLeast300Commands()
    {
        int total = Corpus.Files().Sum(f => Corpus.Parse(f).Count);
        Assert.True(total >= 300, $"corpus has only {total} commands");
    }
}
