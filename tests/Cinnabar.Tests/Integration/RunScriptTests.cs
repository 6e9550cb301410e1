using System.Diagnostics;
using System.Runtime.InteropServices;
using Cinnabar.Tests.Cluster;
using Cinnabar.Tests.Infrastructure;
using Xunit;

namespace Cinnabar.Tests.Integration;

/// <summary>README's main command, as a new user runs it: ./run.sh builds and starts the local cluster.</summary>
public sealed class RunScriptTests
{
    [DllImport("libc", SetLastError = true)] static extern int kill(int pid, int sig);
    const int SIGTERM = 15;

    [Fact]
    public void RunShStartsThreeMastersWithOneReplicaEach()
    {
        int basePort = Env.FreePortBlock(6);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Env.RepoRoot };
        psi.ArgumentList.Add("run.sh");
        psi.Environment["BASE_PORT"] = basePort.ToString();
        var lines = new List<string>();
        using var script = Process.Start(psi)!;
        script.OutputDataReceived += (_, e) => { if (e.Data != null) lock (lines) lines.Add(e.Data); };
        script.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (lines) lines.Add(e.Data); };
        script.BeginOutputReadLine();
        script.BeginErrorReadLine();
        string Output() { lock (lines) return string.Join("\n", lines); }
        try
        {
            Assert.True(Env.WaitUntil(() => Output().Contains("Connect with:") || script.HasExited, TimeSpan.FromMinutes(3), 200), Output());
            Assert.False(script.HasExited, Output());
            Assert.Contains($"redis-cli -c -p {basePort}", Output());
            var ports = Enumerable.Range(basePort, 6).ToList();
            string Info(int port, string section) { using var c = new RespConnection(port); return c.Call("INFO", section); }
            string ClusterInfo(int port) { using var c = new RespConnection(port); return c.Call("CLUSTER", "INFO"); }
            Assert.True(Env.WaitUntil(() => ports.All(p => ClusterInfo(p).Contains("cluster_state:ok"))
                && ports.Count(p => Info(p, "replication").Contains("master_link_status:up")) == 3, TimeSpan.FromMinutes(1), 200), Output());
            Assert.Equal(3, ports.Count(p => Info(p, "replication").Contains("role:master")));
        }
        finally
        {
            if (!script.HasExited) kill(script.Id, SIGTERM);
            Assert.True(script.WaitForExit(30_000), "run.sh did not stop its nodes");
            foreach (int p in Enumerable.Range(basePort, 6))
                try { Directory.Delete(Path.Combine(Env.RepoRoot, "cluster", p.ToString()), true); } catch (IOException) { }
        }
    }
}
