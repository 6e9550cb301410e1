using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Differential;

/// <summary>Surfaces whose values differ between processes but whose shape must not: INFO fields, CONFIG names.</summary>
public sealed class SurfaceTests : IClassFixture<OracleAndCinnabar>
{
    readonly OracleAndCinnabar servers;
    public SurfaceTests(OracleAndCinnabar servers) => this.servers = servers;

    static List<string> InfoFieldNames(int port, string section)
    {
        using var c = new RespConnection(port);
        c.Call("SET", "info:key", "v");
        string info = c.Call("INFO", section);
        return info.Split("\r\n").Skip(1)
            .Where(l => l.Contains(':') && !l.StartsWith("cmdstat_") && !l.StartsWith("errorstat_") && !l.StartsWith("latency_percentiles_usec_") && !Regex.IsMatch(l, @"^db\d+:"))
            .Select(l => l[..l.IndexOf(':')]).ToList();
    }

    [Theory]
    [InlineData("server")]
    [InlineData("clients")]
    [InlineData("memory")]
    [InlineData("persistence")]
    [InlineData("stats")]
    [InlineData("replication")]
    [InlineData("cpu")]
    [InlineData("cluster")]
    public void InfoSectionHasRedisFieldsInRedisOrder(string section) =>
        Assert.Equal(InfoFieldNames(servers.Redis.Port, section), InfoFieldNames(servers.Cinnabar.Port, section));

    static List<string> SectionHeaders(int port, params string[] args)
    {
        using var c = new RespConnection(port);
        return c.Call(new[] { "INFO" }.Concat(args).ToArray()).Split("\r\n").Where(l => l.StartsWith("# ")).ToList();
    }

    [Theory]
    [InlineData()]
    [InlineData("all")]
    [InlineData("everything")]
    [InlineData("default")]
    [InlineData("server", "keyspace")]
    public void InfoSectionsMatch(params string[] args) =>
        Assert.Equal(SectionHeaders(servers.Redis.Port, args), SectionHeaders(servers.Cinnabar.Port, args));

    static SortedSet<string> ConfigNames(int port)
    {
        using var c = new RespConnection(port);
        var reply = c.Call("CONFIG", "GET", "*");
        var lines = reply.Split("\r\n");
        var names = new SortedSet<string>(StringComparer.Ordinal);
        // *N, then alternating $len / name / $len / value.
        for (int i = 2; i + 2 < lines.Length; i += 4) names.Add(lines[i]);
        return names;
    }

    [Fact]
    public void ConfigGetStarListsTheSameDirectives() =>
        Assert.Equal(ConfigNames(servers.Redis.Port), ConfigNames(servers.Cinnabar.Port));
}
