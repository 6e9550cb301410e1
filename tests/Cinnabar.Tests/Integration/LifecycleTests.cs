using System.Diagnostics;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>Starting, configuring and stopping cinnabar-server the way redis-server is started and stopped.</summary>
public sealed class LifecycleTests
{
    static string TempConfig(string text)
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-conf-").FullName;
        string path = Path.Combine(dir, "redis.conf");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void UnknownDirectiveIsReportedAsRedisDoes()
    {
        string conf = TempConfig("port 7777\nfoo bar\n");
        var (code, stdout, stderr) = Tool.Run(Env.CinnabarServer, new[] { conf });
        Assert.Equal(1, code);
        Assert.Equal("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments\n", stderr);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void BadValueOnTheCommandLineIsReported()
    {
        var (code, _, stderr) = Tool.Run(Env.CinnabarServer, new[] { "--maxmemory", "lots" });
        Assert.Equal(1, code);
        Assert.Contains(">>> 'maxmemory \"lots\"'", stderr);
        Assert.Contains("argument must be a memory value", stderr);
    }

    [Fact]
    public void StockRedisConfStartsAndIsListedByConfigGet()
    {
        const string stock = "/etc/redis/redis.conf";
        Assert.True(File.Exists(stock), "redis-server's package installs its stock redis.conf");
        // The stock file daemonizes, logs to /var/log and writes a pidfile: override those as a user would.
        using var s = ServerProcess.WithConfig(Env.CinnabarServer, stock, "--daemonize", "no", "--logfile", "", "--pidfile", "", "--supervised", "no");
        using var c = s.Connect();
        Assert.Equal("*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n", c.Call("CONFIG", "GET", "maxmemory-policy"));
        Assert.Equal("*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n", c.Call("CONFIG", "GET", "databases"));
        Assert.Contains("Ready to accept connections", s.WaitForOutput("Ready to accept connections"));
        Assert.DoesNotContain("stderr:", s.Output);
    }

    [Fact]
    public void IncludeQuotesAndUnitsAreParsed()
    {
        string inc = TempConfig("maxmemory 2gb\n");
        string conf = TempConfig($"include {inc}\nrequirepass \"pa ss\"\nhz 20\nmaxmemory-policy allkeys-lru\n");
        using var s = ServerProcess.WithConfig(Env.CinnabarServer, conf);
        using var c = s.Connect();
        Assert.Equal("+OK\r\n", c.Call("AUTH", "pa ss"));
        Assert.Equal("*2\r\n$9\r\nmaxmemory\r\n$10\r\n2147483648\r\n", c.Call("CONFIG", "GET", "maxmemory"));
        Assert.Equal("*2\r\n$2\r\nhz\r\n$2\r\n20\r\n", c.Call("CONFIG", "GET", "hz"));
    }

    [Fact]
    public void RenameCommandHidesOrRenamesACommand()
    {
        string conf = TempConfig("rename-command FLUSHALL \"\"\nrename-command DBSIZE HOWMANY\n");
        using var s = ServerProcess.WithConfig(Env.CinnabarServer, conf);
        using var c = s.Connect();
        Assert.StartsWith("-ERR unknown command 'FLUSHALL'", c.Call("FLUSHALL"));
        Assert.Equal(":0\r\n", c.Call("HOWMANY"));
        Assert.StartsWith("-ERR unknown command 'DBSIZE'", c.Call("DBSIZE"));
    }

    [Fact]
    public void ConfigRewriteUpdatesTheFileItStartedWith()
    {
        string conf = TempConfig("# my config\nmaxmemory 100mb\nhz 10\n");
        using (var s = ServerProcess.WithConfig(Env.CinnabarServer, conf))
        using (var c = s.Connect())
        {
            Assert.Equal("+OK\r\n", c.Call("CONFIG", "SET", "maxmemory", "200mb", "timeout", "30"));
            Assert.Equal("+OK\r\n", c.Call("CONFIG", "REWRITE"));
        }
        string text = File.ReadAllText(conf);
        Assert.Contains("# my config\n", text);
        Assert.Contains("maxmemory 200mb", text.Replace("209715200", "200mb"));
        Assert.Contains("timeout 30", text);
        // The rewrite records the first server's working dir, a temp dir that is gone now; drop that line.
        File.WriteAllLines(conf, File.ReadAllLines(conf).Where(l => !l.StartsWith("dir ")));
        using var again = ServerProcess.WithConfig(Env.CinnabarServer, conf);
        using var c2 = again.Connect();
        Assert.Equal("*2\r\n$7\r\ntimeout\r\n$2\r\n30\r\n", c2.Call("CONFIG", "GET", "timeout"));
    }

    [Fact]
    public void SigtermStopsTheServerCleanly()
    {
        var s = new ServerProcess(Env.CinnabarServer);
        try
        {
            Process.Start("kill", new[] { "-TERM", s.Process.Id.ToString() })!.WaitForExit(5000);
            Assert.True(s.Process.WaitForExit(10_000), "server did not exit within 10 s of SIGTERM");
            Assert.Equal(0, s.Process.ExitCode);
            Assert.True(Env.WaitUntil(() => s.Output.Contains("ready to exit, bye bye"), TimeSpan.FromSeconds(5)), s.Output);
            Assert.Matches(@"\d+:signal-handler \(\d+\) Received SIGTERM scheduling shutdown\.\.\.", s.Output);
        }
        finally
        {
            s.Dispose();
        }
    }

    [Fact]
    public void ShutdownCommandStopsTheServer()
    {
        var s = new ServerProcess(Env.CinnabarServer);
        try
        {
            using var c = s.Connect();
            c.Send(RespConnection.Encode(new[] { "SHUTDOWN"u8.ToArray(), "NOSAVE"u8.ToArray() }));
            Assert.True(s.Process.WaitForExit(10_000));
            Assert.Equal(0, s.Process.ExitCode);
        }
        finally
        {
            s.Dispose();
        }
    }

    [Fact]
    public void DaemonizeWritesThePidFile()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-daemon-").FullName;
        string pidfile = Path.Combine(dir, "cinnabar.pid");
        int port = Env.FreePort();
        var (code, _, _) = Tool.Run(Env.CinnabarServer, new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--daemonize", "yes", "--pidfile", pidfile, "--logfile", Path.Combine(dir, "log") });
        Assert.Equal(0, code);
        Assert.True(Env.WaitUntil(() => File.Exists(pidfile) && File.ReadAllText(pidfile).Trim().Length > 0, TimeSpan.FromSeconds(20)));
        int pid = int.Parse(File.ReadAllText(pidfile).Trim());
        try
        {
            using var c = new RespConnection(port);
            Assert.Equal("+PONG\r\n", c.Call("PING"));
        }
        finally
        {
            using var p = Process.GetProcessById(pid);
            p.Kill();
            p.WaitForExit(10_000);
        }
    }

    [Fact]
    public void AlwaysShowLogoPrintsTheBannerWithPid()
    {
        using var s = new ServerProcess(Env.CinnabarServer, "--always-show-logo", "yes");
        s.WaitForOutput("Ready to accept connections");
        Assert.Contains($"PID: {s.Process.Id}", s.Output);
        Assert.Contains($"Port: {s.Port}", s.Output);
    }

    [Fact]
    public void LogFollowsRedisFormat()
    {
        using var s = new ServerProcess(Env.CinnabarServer);
        var firstLine = s.WaitForOutput("Ready to accept connections").Split('\n')[0];
        Assert.Matches(@"^\d+:C \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo$", firstLine);
        Assert.Contains($"pid={s.Process.Id}, just started", s.Output);
        Assert.Contains("# Configuration loaded", s.Output);
        Assert.Contains("* Ready to accept connections", s.Output);
    }
}
