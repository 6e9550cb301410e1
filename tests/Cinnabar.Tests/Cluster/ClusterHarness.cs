using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Cinnabar.Tests.Infrastructure;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// One cluster node process (cinnabar-server or redis-server 7.0) on a port whose bus port (+10000) is free too,
/// in a directory that outlives the process, so the node can be killed (-9), frozen (SIGSTOP) and restarted from
/// its nodes.conf.
/// </summary>
public sealed class ClusterNodeProcess : IDisposable
{
    public readonly int Port;
    public readonly string Dir;
    public bool IsRedis;   // may change between runs: the other server takes over the same directory
    readonly string[] extraArgs;
    readonly List<string> output = new();
    public Process Process;

    [DllImport("libc", SetLastError = true)] static extern int kill(int pid, int sig);
    const int SIGKILL = 9, SIGCONT = 18, SIGSTOP = 19;

    public ClusterNodeProcess(bool redis, int nodeTimeoutMs, params string[] extraArgs)
    {
        IsRedis = redis;
        Port = Env.FreePort();
        Dir = Directory.CreateTempSubdirectory(redis ? "cluster-redis-" : "cluster-cinnabar-").FullName;
        this.extraArgs = new[] { "--cluster-enabled", "yes", "--cluster-node-timeout", nodeTimeoutMs.ToString() }.Concat(extraArgs).ToArray();
        Start();
    }

    /// <summary>
    /// Reads a file a server holds flock(LOCK_EX) on (nodes.conf): .NET's FileStream takes flock locks of its own on
    /// Unix and would fail, so cat reads it.
    /// </summary>
    public static string ReadLockedFile(string path)
    {
        var psi = new ProcessStartInfo("cat") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(path);
        using var p = Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }

    public string Name => (IsRedis ? "redis:" : "cinnabar:") + Port;

    public void Start()
    {
        var psi = new ProcessStartInfo(IsRedis ? Env.RedisServer : Env.CinnabarServer)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Dir,
        };
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
            if (Process.HasExited) Process.WaitForExit();   // drains the redirected output
            throw new InvalidOperationException($"{Name} did not start:\n{Output}");
        }
    }

    public string Output { get { lock (output) return string.Join("\n", output); } }

    /// <summary>The log arrives asynchronously: waits (bounded) until it contains the text, then returns it.</summary>
    public string WaitForOutput(string text, int timeoutMs = 10_000)
    {
        Env.WaitUntil(() => Output.Contains(text), TimeSpan.FromMilliseconds(timeoutMs));
        return Output;
    }

    bool Ping()
    {
        using var c = new RespConnection(Port, TimeSpan.FromSeconds(1));
        return c.Call("PING") == "+PONG\r\n";
    }

    /// <summary>One command on a fresh connection; the reply as raw RESP text.</summary>
    public string Call(params string[] args)
    {
        using var c = new RespConnection(Port, TimeSpan.FromSeconds(5));
        return c.Call(args);
    }

    /// <summary>A bulk (or verbatim) reply's payload.</summary>
    public string CallText(params string[] args)
    {
        string r = Call(args);
        if (r.StartsWith('$'))
        {
            int nl = r.IndexOf("\r\n", StringComparison.Ordinal);
            return r.Substring(nl + 2, int.Parse(r[1..nl]));
        }
        return r;
    }

    public string Id => CallText("CLUSTER", "MYID");

    public string Info(string field)
    {
        var m = Regex.Match(CallText("CLUSTER", "INFO"), "^" + field + ":(.*?)\r$", RegexOptions.Multiline);
        return m.Success ? m.Groups[1].Value : null;
    }

    public bool StateOk => Info("cluster_state") == "ok";

    /// <summary>A field of INFO replication (role, master_link_status, master_repl_offset, ...).</summary>
    public string ReplicationInfo(string field)
    {
        var m = Regex.Match(CallText("INFO", "replication"), "^" + field + ":(.*?)\r$", RegexOptions.Multiline);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>True when this node replicates and its link to the master is up.</summary>
    public bool ReplicaLinkUp
    {
        get
        {
            try { return ReplicationInfo("role") == "slave" && ReplicationInfo("master_link_status") == "up"; }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { return false; }
        }
    }

    /// <summary>CLUSTER NODES as id → (flags, master, epoch, link, slots).</summary>
    public Dictionary<string, NodeLine> Nodes()
    {
        var result = new Dictionary<string, NodeLine>();
        foreach (var line in CallText("CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            result[f[0]] = new NodeLine(f[1], f[2].Split(','), f[3], long.Parse(f[6]), f[7], string.Join(' ', f.Skip(8)));
        }
        return result;
    }

    public void Kill9()
    {
        kill(Process.Id, SIGKILL);
        Process.WaitForExit(10000);
    }

    public void Freeze() => kill(Process.Id, SIGSTOP);

    public void Thaw() => kill(Process.Id, SIGCONT);

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                kill(Process.Id, SIGCONT);
                Process.Kill();
                Process.WaitForExit(10000);
            }
        }
        catch (InvalidOperationException) { }
        Process.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}

public sealed record NodeLine(string Addr, string[] Flags, string Master, long Epoch, string Link, string Slots)
{
    public bool Has(string flag) => Flags.Contains(flag);
}

/// <summary>A set of nodes: MEET, slot assignment, and the waits every cluster test needs.</summary>
public sealed class TestCluster : IDisposable
{
    public readonly List<ClusterNodeProcess> Nodes = new();

    public ClusterNodeProcess Add(bool redis, int nodeTimeoutMs, params string[] args)
    {
        var n = new ClusterNodeProcess(redis, nodeTimeoutMs, args);
        Nodes.Add(n);
        return n;
    }

    /// <summary>
    /// Everyone meets the first node, the slots are split evenly between the masters (by default every node), and
    /// every node reaches cluster_state:ok.
    /// </summary>
    public void Form(TimeSpan timeout, IList<ClusterNodeProcess> masters = null)
    {
        masters ??= Nodes;
        var first = Nodes[0];
        foreach (var n in Nodes.Skip(1)) Xunit.Assert.Equal("+OK\r\n", first.Call("CLUSTER", "MEET", "127.0.0.1", n.Port.ToString()));
        int per = 16384 / masters.Count;
        for (int i = 0; i < masters.Count; i++)
        {
            int from = i * per, to = i == masters.Count - 1 ? 16383 : (i + 1) * per - 1;
            Xunit.Assert.Equal("+OK\r\n", masters[i].Call("CLUSTER", "ADDSLOTSRANGE", from.ToString(), to.ToString()));
        }
        WaitAllOk(timeout);
        // Masters born with configEpoch 0 collide; wait until that settles (distinct epochs, one currentEpoch).
        Xunit.Assert.True(Env.WaitUntil(() => Nodes.All(n => DistinctMasterEpochs(n))
            && Nodes.Select(n => n.Info("cluster_current_epoch")).Distinct().Count() == 1, timeout, 50), "epochs did not settle:\n" + Describe(Nodes));
    }

    static bool DistinctMasterEpochs(ClusterNodeProcess n)
    {
        var epochs = n.Nodes().Values.Where(l => l.Has("master")).Select(l => l.Epoch).ToList();
        return epochs.Distinct().Count() == epochs.Count;
    }

    /// <summary>CLUSTER REPLICATE on each replica, then waits until every one has synced with its master.</summary>
    public void Replicate(TimeSpan timeout, params (ClusterNodeProcess replica, ClusterNodeProcess master)[] pairs)
    {
        foreach (var (replica, master) in pairs)
        {
            string masterId = master.Id;
            Xunit.Assert.True(Env.WaitUntil(() => replica.Nodes().ContainsKey(masterId), timeout, 50));
            Xunit.Assert.Equal("+OK\r\n", replica.Call("CLUSTER", "REPLICATE", masterId));
        }
        Xunit.Assert.True(Env.WaitUntil(() => pairs.All(p => p.replica.ReplicaLinkUp), timeout, 50),
            "replicas did not sync:\n" + Describe(pairs.Select(p => p.replica)));
        foreach (var (replica, master) in pairs)
        {
            string replicaId = replica.Id, masterId = master.Id;
            Xunit.Assert.True(Env.WaitUntil(() => Nodes.All(n => n.Nodes().TryGetValue(replicaId, out var l) && l.Master == masterId), timeout, 50),
                "not every node sees the replica:\n" + Describe(Nodes));
        }
    }

    public void WaitAllOk(TimeSpan timeout, IEnumerable<ClusterNodeProcess> nodes = null)
    {
        var set = (nodes ?? Nodes).ToList();
        Xunit.Assert.True(Env.WaitUntil(() => set.All(n => n.StateOk && n.Nodes().Count == Nodes.Count), timeout, 100),
            "cluster_state:ok not reached everywhere:\n" + Describe(set));
    }

    /// <summary>redis-cli (e.g. --cluster create/check) run to completion, bounded.</summary>
    public static (int code, string output) RedisCli(params string[] args) => Tools.Run("redis-cli", args, timeoutMs: 60_000);

    public static string Describe(IEnumerable<ClusterNodeProcess> nodes) => string.Join("\n", nodes.Select(n =>
    {
        try { return n.Name + " " + n.Info("cluster_state") + "\n" + n.CallText("CLUSTER", "NODES"); }
        catch (Exception e) { return n.Name + " " + e.Message; }
    }));

    public void Dispose()
    {
        foreach (var n in Nodes) n.Dispose();
    }
}
