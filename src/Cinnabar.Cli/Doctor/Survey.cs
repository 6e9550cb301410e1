using System.Diagnostics;
using System.Net.Sockets;
using Cinnabar.Cli.Resp;
using Cinnabar.Cli.Topology;

namespace Cinnabar.Cli.Doctor;

/// <summary>How a node answered a connection and a PING.</summary>
public enum Reach { Ok, Refused, NoReply, Busy, Loading, Error }

/// <summary>One node as the doctor saw it: the snapshot's report plus a probe, its settings and a measured PING round-trip.</summary>
public sealed class NodeSurvey
{
    public string Address;
    public NodeReport Report;
    public Reach Reach;
    public string Problem;                                 // the error text or the reason it could not be asked
    public Dictionary<string, string> Config = new();      // CONFIG GET of the settings the checks compare
    public double RttAvgMs = -1, RttMaxMs = -1;            // client PING round-trips on one connection
    public int? LocalPid;                                  // for a node on this machine that does not answer (kill -CONT)

    public bool Up => Reach == Reach.Ok && Report?.Myself != null;
    public ClusterNodeInfo Myself => Report?.Myself;
    public string Id => Report?.Myself?.Id;
    public string Info(string field) => Report?.Field(field);
    public string ClusterInfo(string field) => Report != null && Report.ClusterInfo.TryGetValue(field, out var v) ? v : null;
    public string Setting(string name) => Config.TryGetValue(name, out var v) ? v : null;
    public (string host, int port) HostPort => RedisConnection.ParseAddress(Address);
    /// <summary>"redis-cli -h H -p P" — the prefix of every remedy command aimed at this node.</summary>
    public string Cli => Survey.CliFor(Address);
}

/// <summary>
/// Everything the checks read, taken once: the discovery snapshot, a probe of each node that did not answer, the settings
/// of each node that did, and the majority view of who owns each slot.
/// </summary>
public sealed class Survey
{
    public const int Slots = 16384;

    public static readonly string[] ComparedSettings =
    {
        "cluster-node-timeout", "cluster-require-full-coverage", "cluster-replica-validity-factor", "cluster-migration-barrier",
        "cluster-allow-replica-migration", "cluster-replica-no-failover", "cluster-allow-reads-when-down",
        "busy-reply-threshold", "repl-timeout", "maxmemory-policy",
    };
    static readonly string[] ReadSettings = ComparedSettings.Concat(new[] { "maxmemory" }).ToArray();

    public string Seed;
    public ClusterSnapshot Snapshot;
    public List<NodeSurvey> Nodes = new();
    public readonly Dictionary<string, NodeSurvey> ById = new();
    /// <summary>Each known node id → the best line about it: its own when it answered, else the first answering node's.</summary>
    public readonly Dictionary<string, ClusterNodeInfo> Known = new();
    /// <summary>Slot → owner id by majority of the answering nodes' views (null: unassigned).</summary>
    public readonly string[] Owner = new string[Slots];
    public DateTime TakenAt;

    public IEnumerable<NodeSurvey> Up => Nodes.Where(n => n.Up);

    public static string CliFor(string address)
    {
        var (h, p) = RedisConnection.ParseAddress(address);
        return $"redis-cli -h {h} -p {p}";
    }

    public NodeSurvey ByAddress(string address) => Nodes.FirstOrDefault(n => n.Address == address);

    public string AddressOf(string id) => ById.TryGetValue(id, out var s) ? s.Address : Known.TryGetValue(id, out var l) ? l.Address : id;

    /// <summary>How many answering nodes flag the node fail / fail? in their CLUSTER NODES.</summary>
    public (int fail, int pfail, int views) Flags(string id)
    {
        int fail = 0, pfail = 0, views = 0;
        foreach (var n in Up)
        {
            if (n.Id == id) continue;
            var line = n.Report.View.FirstOrDefault(l => l.Id == id);
            if (line == null) continue;
            views++;
            if (line.Failed) fail++;
            else if (line.PossiblyFailed) pfail++;
        }
        return (fail, pfail, views);
    }

    /// <summary>The answering node's CLUSTER NODES line about <paramref name="id"/>, if it has one.</summary>
    public static ClusterNodeInfo LineAbout(NodeSurvey viewer, string id) => viewer.Report?.View.FirstOrDefault(l => l.Id == id);

    public List<string> ReplicasOf(string masterId) =>
        Known.Values.Where(l => l.MasterId == masterId && l.IsReplica).Select(l => l.Id).ToList();

    public int SlotsOf(string id) => Owner.Count(o => o == id);

    public static Survey Take(string seed, int timeoutMs = 2000)
    {
        var s = new Survey { Seed = seed, TakenAt = DateTime.UtcNow };
        s.Snapshot = ClusterSnapshot.Take(seed, timeoutMs);
        foreach (var (addr, report) in s.Snapshot.ByAddress)
        {
            var n = new NodeSurvey { Address = addr, Report = report };
            if (report.Reachable && report.Myself != null)
            {
                n.Reach = Reach.Ok;
                ReadSettingsAndRtt(n, timeoutMs);
            }
            else Probe(n, report.Error, timeoutMs);
            s.Nodes.Add(n);
            if (n.Id != null) s.ById[n.Id] = n;
        }
        foreach (var n in s.Up) s.Known[n.Id] = n.Myself;
        foreach (var n in s.Up)
            foreach (var l in n.Report.View)
                s.Known.TryAdd(l.Id, l);
        // Nodes that did not answer get an id from the others' views.
        foreach (var n in s.Nodes.Where(x => !x.Up))
        {
            var line = s.Known.Values.FirstOrDefault(l => l.Address == n.Address);
            if (line != null) s.ById.TryAdd(line.Id, n);
        }
        s.ComputeOwners();
        return s;
    }

    void ComputeOwners()
    {
        var views = Up.Select(n => n.Report.View).ToList();
        var votes = new Dictionary<string, int>();
        var maps = views.Select(SlotMap).ToList();
        for (int slot = 0; slot < Slots; slot++)
        {
            votes.Clear();
            int none = 0;
            foreach (var m in maps)
            {
                var o = m[slot];
                if (o == null) none++;
                else votes[o] = votes.GetValueOrDefault(o) + 1;
            }
            string best = null;
            int bestVotes = none;
            foreach (var (id, v) in votes)
                if (v > bestVotes || (v == bestVotes && best != null && Epoch(id) > Epoch(best)) || (v == bestVotes && best == null && v > 0))
                {
                    best = id;
                    bestVotes = v;
                }
            Owner[slot] = best;
        }
    }

    ulong Epoch(string id) => Known.TryGetValue(id, out var l) ? l.ConfigEpoch : 0;

    /// <summary>One node's view as slot → owner id.</summary>
    public static string[] SlotMap(List<ClusterNodeInfo> view)
    {
        var map = new string[Slots];
        foreach (var l in view)
            foreach (var (from, to) in l.SlotRanges)
                for (int s = from; s <= to && s < Slots; s++) map[s] = l.Id;
        return map;
    }

    static void ReadSettingsAndRtt(NodeSurvey n, int timeoutMs)
    {
        try
        {
            var (h, p) = n.HostPort;
            using var c = new RedisConnection(h, p, timeoutMs);
            var replies = c.Pipeline(ReadSettings.Select(name => new[] { "CONFIG", "GET", name }).ToList());
            for (int i = 0; i < replies.Length; i++)
                if (!replies[i].IsError && replies[i].Items is { Length: >= 2 } items) n.Config[ReadSettings[i]] = items[1].Text;
            var samples = new List<double>();
            for (int i = 0; i < 10; i++)
            {
                var sw = Stopwatch.StartNew();
                var r = c.Call("PING");
                sw.Stop();
                if (r.IsError) break;
                samples.Add(sw.Elapsed.TotalMilliseconds);
            }
            if (samples.Count > 0)
            {
                n.RttAvgMs = samples.Average();
                n.RttMaxMs = samples.Max();
            }
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            n.Problem = e.Message;
        }
    }

    /// <summary>Why a node did not answer: refused (not running), no reply (stopped or stuck), BUSY, LOADING.</summary>
    static void Probe(NodeSurvey n, string snapshotError, int timeoutMs)
    {
        n.Problem = snapshotError;
        if (snapshotError != null && snapshotError.StartsWith("BUSY", StringComparison.Ordinal)) { n.Reach = Reach.Busy; return; }
        if (snapshotError != null && snapshotError.StartsWith("LOADING", StringComparison.Ordinal)) { n.Reach = Reach.Loading; return; }
        var (h, p) = n.HostPort;
        try
        {
            using var c = new RedisConnection(h, p, Math.Min(timeoutMs, 1000));
            var r = c.Call("PING");
            if (r.IsError)
            {
                n.Problem = r.Text;
                n.Reach = r.Text.StartsWith("BUSY") ? Reach.Busy : r.Text.StartsWith("LOADING") ? Reach.Loading : Reach.Error;
            }
            else
            {
                n.Reach = Reach.Error;   // answers PING but not CLUSTER NODES
                n.Problem ??= "answers PING but not CLUSTER NODES";
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused)
        {
            n.Reach = Reach.Refused;
            n.Problem = "connection refused (no process listening on port " + p + ")";
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            n.Reach = Reach.NoReply;
            n.Problem = "connected, but no reply to PING within " + Math.Min(timeoutMs, 1000) + " ms (" + e.Message + ")";
            n.LocalPid = LocalPids.ListeningOn(p);
        }
    }
}

/// <summary>The pid of the local process listening on a TCP port (Linux /proc), for a remedy such as kill -CONT.</summary>
public static class LocalPids
{
    public static int? ListeningOn(int port)
    {
        try
        {
            var inodes = new HashSet<string>();
            foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
            {
                if (!File.Exists(file)) continue;
                foreach (var line in File.ReadLines(file).Skip(1))
                {
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length < 10 || f[3] != "0A") continue;   // 0A: LISTEN
                    var local = f[1];
                    int colon = local.LastIndexOf(':');
                    if (Convert.ToInt32(local[(colon + 1)..], 16) == port) inodes.Add(f[9]);
                }
            }
            if (inodes.Count == 0) return null;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
                try
                {
                    foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")))
                    {
                        var target = new FileInfo(fd).LinkTarget;
                        if (target != null && target.StartsWith("socket:[") && inodes.Contains(target[8..^1])) return pid;
                    }
                }
                catch (Exception e) when (e is UnauthorizedAccessException or IOException) { }
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException or FormatException) { }
        return null;
    }
}
