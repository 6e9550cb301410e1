using System.Net.Sockets;
using Cinnabar.Cli.Resp;
using Cinnabar.Cli.Topology;

namespace Cinnabar.Cli.Tool;

/// <summary>One node as the tool sees it: its own CLUSTER NODES (myself line and its view of everyone), keys, link.</summary>
public sealed class ToolNode
{
    public const int SlotCount = 16384;
    public string Host;
    public int Port;
    public string Id;
    public string[] Flags = Array.Empty<string>();
    public string MasterId;
    public ulong ConfigEpoch;
    public readonly bool[] Slots = new bool[SlotCount];
    public readonly SortedDictionary<int, string> Migrating = new();
    public readonly SortedDictionary<int, string> Importing = new();
    public List<ClusterNodeInfo> View = new();
    public RedisConnection Conn;
    public long Keys;
    public int ReplicaCount;          // replicas (reachable, loaded) that replicate this node
    public double Weight = 1;
    public int Balance;

    public string Address => Host + ":" + Port;
    public bool IsReplica => Flags.Contains("slave");
    public bool IsMaster => !IsReplica;
    public int OwnedSlots => Slots.Count(s => s);
    public string ShortId => Id.Length > 8 ? Id[..8] + "..." : Id;

    public IEnumerable<int> SlotList() { for (int i = 0; i < SlotCount; i++) if (Slots[i]) yield return i; }

    public static string Ranges(IEnumerable<int> slots, bool brackets)
    {
        var parts = new List<string>();
        int start = -1, prev = -2;
        foreach (int s in slots.OrderBy(s => s))
        {
            if (s == prev + 1) { prev = s; continue; }
            if (start >= 0) parts.Add(start == prev ? $"{start}" : $"{start}-{prev}");
            start = prev = s;
        }
        if (start >= 0) parts.Add(start == prev ? $"{start}" : $"{start}-{prev}");
        return brackets ? string.Join(",", parts.Select(p => "[" + p + "]")) : string.Join(",", parts);
    }

    /// <summary>Its view of who owns which slots: "id:ranges" of every master with slots, sorted, joined by '|'.</summary>
    public string ConfigSignature()
    {
        var parts = new List<string>();
        foreach (var n in View)
        {
            if (!n.IsMaster || n.SlotRanges.Count == 0) continue;
            parts.Add(n.Id + ":" + Ranges(n.Slots, false));
        }
        parts.Sort(StringComparer.Ordinal);
        return string.Join("|", parts);
    }

    public RespValue Call(params string[] args) => Conn.Call(args);

    /// <summary>Re-reads CLUSTER NODES (and the key count); false if the node cannot answer.</summary>
    public bool Load(out string error)
    {
        error = null;
        var r = Conn.Call("CLUSTER", "NODES");
        if (r.IsError) { error = r.Text; return false; }
        View = r.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => ClusterNodeInfo.Parse(l.TrimEnd('\r'))).ToList();
        var me = View.FirstOrDefault(v => v.IsMyself);
        if (me == null) { error = "no myself line in CLUSTER NODES"; return false; }
        Id = me.Id;
        Flags = me.Flags.Where(f => f != "myself").ToArray();
        MasterId = me.MasterId;
        ConfigEpoch = me.ConfigEpoch;
        Array.Clear(Slots);
        foreach (int s in me.Slots) Slots[s] = true;
        Migrating.Clear();
        Importing.Clear();
        foreach (var kv in me.Migrating) Migrating[kv.Key] = kv.Value;
        foreach (var kv in me.Importing) Importing[kv.Key] = kv.Value;
        var db = Conn.Call("DBSIZE");
        Keys = db.Type == ':' ? db.Integer : 0;
        return true;
    }

    public static ToolNode Connect(string address, out string error, int timeoutMs = 5000)
    {
        error = null;
        var (host, port) = RedisConnection.ParseAddress(address);
        try
        {
            return new ToolNode { Host = host, Port = port, Conn = new RedisConnection(host, port, timeoutMs) };
        }
        catch (SocketException e)
        {
            error = e.SocketErrorCode == SocketError.ConnectionRefused ? "Connection refused" : e.Message;
            return null;
        }
    }
}

/// <summary>A node another node lists but the tool could not load: unreachable, address lost, or a handshake leftover.</summary>
public sealed record Leftover(string Id, string Address, string Flags, bool Master, string Reason, string SeenBy, int Slots);

/// <summary>
/// The cluster as redis-cli loads it: the seed, then every node the seed's CLUSTER NODES names, each asked for its
/// own CLUSTER NODES. Unreachable masters are counted (fix refuses to cover their slots unless told to).
/// </summary>
public sealed class ClusterState
{
    public readonly List<ToolNode> Nodes = new();
    public readonly List<Leftover> Leftovers = new();
    public int UnreachableMasters;

    public IEnumerable<ToolNode> Masters => Nodes.Where(n => n.IsMaster);

    public ToolNode ById(string id) => Nodes.FirstOrDefault(n => n.Id == id);

    /// <summary>An id or a unique prefix of one (redis-cli wants whole ids; prefixes are a convenience).</summary>
    public ToolNode ByIdOrPrefix(string id) =>
        ById(id) ?? (id.Length >= 4 && Nodes.Count(n => n.Id.StartsWith(id)) == 1 ? Nodes.First(n => n.Id.StartsWith(id)) : null);

    public static ClusterState Load(string seedAddress)
    {
        var state = new ClusterState();
        var seed = ToolNode.Connect(seedAddress, out string err);
        if (seed == null)
        {
            Console.Error.WriteLine($"Could not connect to Redis at {seedAddress}: {err}");
            return null;
        }
        var info = seed.Call("INFO", "cluster");
        if (info.IsError || info.Text == null || !info.Text.Contains("cluster_enabled:1"))
        {
            ToolOutput.Err($"[ERR] Node {seed.Address} is not configured as a cluster node.");
            return null;
        }
        if (!seed.Load(out err))
        {
            ToolOutput.Err($"[ERR] Node {seed.Address}: {err}");
            return null;
        }
        state.Nodes.Add(seed);
        foreach (var friend in seed.View)
        {
            if (friend.IsMyself) continue;
            bool master = !friend.IsReplica;
            int slots = friend.SlotCount;
            if (friend.Has("noaddr") || friend.Has("handshake") || friend.Port == 0)
            {
                state.Leftovers.Add(new Leftover(friend.Id, friend.Address, string.Join(",", friend.Flags), master,
                    friend.Has("handshake") ? "handshake" : "noaddr", seed.Address, slots));
                if (master && slots > 0) state.UnreachableMasters++;
                continue;
            }
            var node = ToolNode.Connect(friend.Address, out err);
            string loadErr = null;
            if (node == null || !TryLoad(node, out loadErr))
            {
                // As redis-cli: a node that accepts the connection but will not answer (BUSY, LOADING) is an [ERR].
                if (node == null) Console.Error.WriteLine($"Could not connect to Redis at {friend.Address}: {err}");
                else ToolOutput.Err($"[ERR] Unable to load info for node {friend.Address}");
                state.Leftovers.Add(new Leftover(friend.Id, friend.Address, string.Join(",", friend.Flags), master, "unreachable", seed.Address, slots));
                if (master) state.UnreachableMasters++;
                node?.Conn.Dispose();
                continue;
            }
            state.Nodes.Add(node);
        }
        // Nodes other nodes know about that the seed does not (or lost): recorded, never loaded from.
        foreach (var n in state.Nodes.ToList())
            foreach (var v in n.View)
                if (!v.IsMyself && (v.Has("noaddr") || v.Has("handshake")) && state.Leftovers.All(l => l.Id != v.Id || l.SeenBy != n.Address) && n != seed)
                    state.Leftovers.Add(new Leftover(v.Id, v.Address, string.Join(",", v.Flags), !v.IsReplica, v.Has("handshake") ? "handshake" : "noaddr", n.Address, v.SlotCount));
        state.CountReplicas();
        return state;
    }

    static bool TryLoad(ToolNode node, out string err)
    {
        try { return node.Load(out err); }
        catch (Exception e) when (e is IOException or SocketException) { err = e.Message; return false; }
    }

    public void CountReplicas()
    {
        foreach (var n in Nodes) n.ReplicaCount = Nodes.Count(r => r.IsReplica && r.MasterId == n.Id);
    }

    /// <summary>Re-reads every node's configuration.</summary>
    public void Reload()
    {
        foreach (var n in Nodes) n.Load(out _);
        CountReplicas();
    }

    public bool IsConfigConsistent()
    {
        string first = null;
        foreach (var n in Nodes)
        {
            string sig = n.ConfigSignature();
            if (first == null) first = sig;
            else if (sig != first) return false;
        }
        return true;
    }

    /// <summary>"M: id host:port / slots:[..] (n slots) master / k additional replica(s)" as redis-cli prints a node.</summary>
    public static string Describe(ToolNode n)
    {
        string role = n.IsReplica ? "S" : "M";
        var s = $"{role}: {n.Id} {n.Address}\n   slots:{ToolNode.Ranges(n.SlotList(), true)} ({n.OwnedSlots} slots) {(n.IsReplica ? "slave" : "master")}";
        if (n.IsReplica && n.MasterId != null) s += $"\n   replicates {n.MasterId}";
        else if (n.ReplicaCount > 0) s += $"\n   {n.ReplicaCount} additional replica(s)";
        return s;
    }

    public void ShowNodes()
    {
        foreach (var n in Nodes) ToolOutput.Line(Describe(n));
    }

    /// <summary>redis-cli's cluster info: per master keys/slots/replicas, then totals.</summary>
    public void ShowInfo()
    {
        long keys = 0;
        int masters = 0;
        foreach (var n in Masters)
        {
            ToolOutput.Line($"{n.Address} ({n.ShortId}) -> {n.Keys} keys | {n.OwnedSlots} slots | {n.ReplicaCount} slaves.");
            keys += n.Keys;
            masters++;
        }
        ToolOutput.Ok($"[OK] {keys} keys in {masters} masters.");
        ToolOutput.Line($"{keys / 16384.0:F2} keys per slot on average.");
    }

    public void Dispose()
    {
        foreach (var n in Nodes) n.Conn?.Dispose();
    }
}
