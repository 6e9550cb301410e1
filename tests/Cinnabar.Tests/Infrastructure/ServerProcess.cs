using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Cinnabar.Tests.Infrastructure;

/// <summary>Locates binaries and hands out loopback ports that are free together with port + 10000.</summary>
public static class Env
{
    static int nextPort = 12000 + (Environment.ProcessId % 200) * 40;
    static readonly object portLock = new();

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Cinnabar.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repo root not found");
        }
    }

    public static string Configuration => AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";

    public static string CinnabarServer => Path.Combine(RepoRoot, "src/Cinnabar.Server/bin", Configuration, "net10.0/cinnabar-server");

    public static string RedisServer => "redis-server";

    /// <summary>The operator tool, cinnabar (src/Cinnabar.Cli).</summary>
    public static string CinnabarCli => Path.Combine(RepoRoot, "src/Cinnabar.Cli/bin", Configuration, "net10.0/cinnabar");

    public static int FreePort()
    {
        lock (portLock)
        {
            for (int tries = 0; tries < 10000; tries++)
            {
                int p = nextPort++;
                if (nextPort > 22000) nextPort = 12000;
                if (IsFree(p) && IsFree(p + 10000)) return p;
            }
        }
        throw new InvalidOperationException("no free port");
    }

    /// <summary>The first of <paramref name="count"/> consecutive free ports whose bus ports (+10000) are free too.</summary>
    public static int FreePortBlock(int count)
    {
        lock (portLock)
        {
            for (int tries = 0; tries < 10000; tries++)
            {
                int first = nextPort;
                nextPort += count;
                if (nextPort + count > 22000) nextPort = 12000;
                if (Enumerable.Range(first, count).All(p => IsFree(p) && IsFree(p + 10000))) return first;
            }
        }
        throw new InvalidOperationException("no free port block");
    }

    static bool IsFree(int port)
    {
        try
        {
            var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            l.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Polls until the condition holds or the deadline passes; every wait in the tests is bounded.</summary>
    public static bool WaitUntil(Func<bool> condition, TimeSpan timeout, int pollMs = 20)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            try
            {
                if (condition()) return true;
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
            }
            Thread.Sleep(pollMs);
        }
        return condition();
    }
}

/// <summary>A real server process (cinnabar-server or redis-server) on a free loopback port, stopped by PID on dispose.</summary>
public sealed class ServerProcess : IDisposable
{
    public readonly int Port;
    public readonly Process Process;
    public readonly string Dir;
    public readonly string Binary;
    readonly List<string> output = new();

    public ServerProcess(string binary, params string[] extraArgs) : this(null, binary, extraArgs) { }

    /// <summary>Starts the server with a config file first on its command line, as redis-server takes it.</summary>
    public static ServerProcess WithConfig(string binary, string configFile, params string[] extraArgs) => new(configFile, binary, extraArgs);

    ServerProcess(string configFile, string binary, string[] extraArgs)
    {
        Binary = binary;
        Port = Env.FreePort();
        Dir = Directory.CreateTempSubdirectory("cinnabar-test-").FullName;
        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Dir,
        };
        if (configFile != null) psi.ArgumentList.Add(configFile);
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", Dir })
            psi.ArgumentList.Add(a);
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        Process = Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.Add(e.Data); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.Add("stderr: " + e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
        if (!Env.WaitUntil(() => Process.HasExited || Ping(), TimeSpan.FromSeconds(20)) || Process.HasExited)
        {
            if (Process.HasExited) Process.WaitForExit();
            else Process.Kill();
            throw new InvalidOperationException($"{binary} did not start on port {Port} (exited: {Process.HasExited}):\n{Output}");
        }
    }

    public string Output { get { lock (output) return string.Join("\n", output); } }

    /// <summary>The log arrives asynchronously: waits (bounded) until it contains the text, then returns the log.</summary>
    public string WaitForOutput(string text, int timeoutMs = 10_000)
    {
        Env.WaitUntil(() => Output.Contains(text), TimeSpan.FromMilliseconds(timeoutMs));
        return Output;
    }

    public bool Ping()
    {
        using var c = new RespConnection(Port, TimeSpan.FromSeconds(1));
        var reply = c.Call("PING");
        return reply == "+PONG\r\n" || reply.StartsWith("-NOAUTH");
    }

    public RespConnection Connect() => new(Port);

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit(10000);
            }
        }
        catch (InvalidOperationException) { }
        Process.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}
