using System.Text;
using Cinnabar.Server.Protocol;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Unit;

/// <summary>INCRBYFLOAT arithmetic against vectors recorded from redis-server 7.0.15 (80-bit long double, %.17Lf).</summary>
public sealed class LongDoubleTests
{
    static string Increment(string a, string b)
    {
        if (!LongDouble.TryParse(Encoding.ASCII.GetBytes(a), out var x) || !LongDouble.TryParse(Encoding.ASCII.GetBytes(b), out var y))
            return "ERR value is not a valid float";
        var sum = LongDouble.Add(x, y);
        if (!sum.IsFinite) return "ERR increment would produce NaN or Infinity";
        return Encoding.ASCII.GetString(sum.ToHumanBytes());
    }

    [Fact]
    public void MatchesEveryRecordedVector()
    {
        var lines = File.ReadAllLines(Path.Combine(Env.RepoRoot, "tests/Cinnabar.Tests/LongDoubleVectors.txt"));
        int checkedCount = 0;
        var failures = new List<string>();
        foreach (var line in lines)
        {
            if (line.StartsWith('#') || line.Length == 0) continue;
            var f = line.Split('\t');
            Assert.Equal(3, f.Length);
            string got = Increment(f[0], f[1]);
            if (got != f[2]) failures.Add($"{Short(f[0])} + {Short(f[1])}: expected {Short(f[2])}, got {Short(got)}");
            checkedCount++;
        }
        Assert.True(checkedCount >= 200, $"only {checkedCount} vectors");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static string Short(string s) => s.Length > 60 ? s[..60] + "..." : s;
}
