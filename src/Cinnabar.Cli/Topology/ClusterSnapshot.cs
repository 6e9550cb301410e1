using Cinnabar.Cli.Resp;

namespace Cinnabar.Cli.Topology;

/// <summary>What one node said about itself and the cluster, or why it could not be asked.</summary>
public sealed class NodeReport
{
    public string Address;
    public string Error;                                  // connection or command failure; the rest is empty then
    public ClusterNodeInfo Myself;
    public List<ClusterNodeInfo> View = new();            // its CLUSTER NODES
    public Dictionary<string, string> ClusterInfo = new();
    public Dictionary<string, string> Info = new();       // INFO (all sections it answered), field → value
    public string ClusterNodesText, ClusterInfoText, InfoText;

    public bool Reachable => Error == null;
    public string Field(string name) => Info.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// Discovery: start from one address, read its CLUSTER NODES, then ask every node it names (and every node they
/// name) for CLUSTER NODES, CLUSTER INFO and INFO. Nodes that cannot be reached are reported, not fatal.
/// </summary>
public sealed class ClusterSnapshot
{
    public readonly Dictionary<string, NodeReport> ByAddress = new();
    public readonly Dictionary<string, NodeReport> ById = new();
    public DateTime TakenAt = DateTime.UtcNow;

    public IEnumerable<NodeReport> Reachable => ByAddress.Values.Where(r => r.Reachable);

    public static ClusterSnapshot Take(string seedAddress, int timeoutMs = 2000)
    {
        var snap = new ClusterSnapshot();
        var queue = new Queue<string>();
        queue.Enqueue(seedAddress);
        while (queue.Count > 0)
        {
            string addr = queue.Dequeue();
            if (snap.ByAddress.ContainsKey(addr)) continue;
            var report = Ask(addr, timeoutMs);
            snap.ByAddress[addr] = report;
            if (!report.Reachable) continue;
            if (report.Myself != null) snap.ById[report.Myself.Id] = report;
            foreach (var n in report.View)
                if (!n.Has("noaddr") && n.Port > 0 && !snap.ByAddress.ContainsKey(n.Address)) queue.Enqueue(n.Address);
        }
        return snap;
    }

    public static NodeReport Ask(string address, int timeoutMs)
    {
        var report = new NodeReport { Address = address };
        try
        {
            var (host, port) = RedisConnection.ParseAddress(address);
            using var c = new RedisConnection(host, port, timeoutMs);
            var nodes = c.Call("CLUSTER", "NODES");
            if (nodes.IsError) { report.Error = nodes.Text; return report; }
            report.ClusterNodesText = nodes.Text;
            foreach (var line in nodes.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var n = ClusterNodeInfo.Parse(line.TrimEnd('\r'));
                report.View.Add(n);
                if (n.IsMyself) report.Myself = n;
            }
            var info = c.Call("CLUSTER", "INFO");
            report.ClusterInfoText = info.Text;
            report.ClusterInfo = ParseFields(info.Text);
            var all = c.Call("INFO", "everything");
            report.InfoText = all.Text ?? "";
            report.Info = all.IsError ? new() : ParseFields(all.Text);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or FormatException)
        {
            report.Error = e.Message;
        }
        return report;
    }

    /// <summary>"field:value" lines (INFO, CLUSTER INFO) into a dictionary; section headers skipped.</summary>
    public static Dictionary<string, string> ParseFields(string text)
    {
        var d = new Dictionary<string, string>();
        if (text == null) return d;
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            int colon = line.IndexOf(':');
            if (colon > 0) d[line[..colon]] = line[(colon + 1)..];
        }
        return d;
    }
}
