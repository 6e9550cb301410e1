namespace Cinnabar.Cli.Topology;

/// <summary>One line of CLUSTER NODES, parsed (cluster-algorithms.md §11).</summary>
public sealed class ClusterNodeInfo
{
    public string Id, Ip, Hostname = "";
    public int Port, BusPort;
    public string[] Flags = Array.Empty<string>();
    public string MasterId;               // null for a master ("-")
    public long PingSent, PongReceived;
    public ulong ConfigEpoch;
    public bool LinkConnected;
    public readonly List<(int from, int to)> SlotRanges = new();
    public readonly Dictionary<int, string> Migrating = new();   // slot → target node id
    public readonly Dictionary<int, string> Importing = new();   // slot → source node id
    public string RawLine;

    public string Address => Ip + ":" + Port;
    public bool Has(string flag) => Flags.Contains(flag);
    public bool IsMaster => Has("master");
    public bool IsReplica => Has("slave");
    public bool Failed => Has("fail");
    public bool PossiblyFailed => Has("fail?");
    public bool IsMyself => Has("myself");
    public int SlotCount => SlotRanges.Sum(r => r.to - r.from + 1);

    public IEnumerable<int> Slots => SlotRanges.SelectMany(r => Enumerable.Range(r.from, r.to - r.from + 1));

    /// <summary>Parses "id ip:port@cport[,hostname] flags master ping pong epoch link slot...".</summary>
    public static ClusterNodeInfo Parse(string line)
    {
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var n = new ClusterNodeInfo { RawLine = line, Id = f[0] };
        string addr = f[1];
        int comma = addr.IndexOf(',');
        if (comma >= 0)
        {
            n.Hostname = addr[(comma + 1)..];
            addr = addr[..comma];
        }
        int at = addr.IndexOf('@');
        if (at >= 0)
        {
            int.TryParse(addr[(at + 1)..], out n.BusPort);
            addr = addr[..at];
        }
        int colon = addr.LastIndexOf(':');
        n.Ip = addr[..colon];
        int.TryParse(addr[(colon + 1)..], out n.Port);
        n.Flags = f[2].Split(',');
        n.MasterId = f[3] == "-" ? null : f[3];
        long.TryParse(f[4], out n.PingSent);
        long.TryParse(f[5], out n.PongReceived);
        ulong.TryParse(f[6], out n.ConfigEpoch);
        n.LinkConnected = f[7] == "connected";
        for (int i = 8; i < f.Length; i++)
        {
            string s = f[i];
            if (s.StartsWith('['))
            {
                // [slot->-id] migrating, [slot-<-id] importing
                string body = s.Trim('[', ']');
                int arrow = body.IndexOf("->-", StringComparison.Ordinal);
                if (arrow > 0) n.Migrating[int.Parse(body[..arrow])] = body[(arrow + 3)..];
                else
                {
                    arrow = body.IndexOf("-<-", StringComparison.Ordinal);
                    if (arrow > 0) n.Importing[int.Parse(body[..arrow])] = body[(arrow + 3)..];
                }
                continue;
            }
            int dash = s.IndexOf('-');
            if (dash < 0) n.SlotRanges.Add((int.Parse(s), int.Parse(s)));
            else n.SlotRanges.Add((int.Parse(s[..dash]), int.Parse(s[(dash + 1)..])));
        }
        return n;
    }
}
