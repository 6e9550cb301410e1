using System.Net;
using System.Net.Sockets;

namespace Cinnabar.Server.Cluster;

/// <summary>The parts of clusterCommand that change the state: MEET's handshake, RESET.</summary>
public sealed partial class ClusterState
{

    /// <summary>
    /// A cluster directive changed (CONFIG SET, main thread): myself's announced address, hostname and flags follow
    /// at once, as Redis's apply functions do, and the view is republished (the endpoint type changes redirects).
    /// </summary>
    public void ConfigChanged()
    {
        lock (Sync)
        {
            UpdateMyselfAnnounced();
            viewDirty = true;
            AfterChanges();
        }
        Bus.Wake();
    }

    /// <summary>clusterDoBeforeSleep(CLUSTER_TODO_UPDATE_STATE|CLUSTER_TODO_SAVE_CONFIG).</summary>
    public void RequestSaveAndUpdate() => Todo(TodoSaveConfig | TodoUpdateState);

    /// <summary>
    /// clusterStartHandshake: a new HANDSHAKE|MEET node with a random name; the cron connects to it and sends MEET.
    /// False for an invalid address or port (EINVAL); true (nothing new) when the same handshake is under way.
    /// </summary>
    public bool StartHandshake(string ip, long port, long cport)
    {
        if (!TryNormalizeIp(ip, out string norm)) return false;
        if (port <= 0 || port > 65535 || cport <= 0 || cport > 65535) return false;
        foreach (var n in Nodes.Values)
            if (n.InHandshake && n.Ip == norm && n.Port == port && n.CPort == cport) return true;
        var node = new ClusterNode(RandomName(), NodeFlags.Handshake | NodeFlags.Meet, Now())
        {
            Ip = norm, Port = (int)port, CPort = (int)cport,
        };
        AddNode(node);
        return true;
    }

    /// <summary>inet_pton then inet_ntop, IPv4 first: only dotted quads and IPv6 literals are addresses.</summary>
    static bool TryNormalizeIp(string ip, out string norm)
    {
        norm = null;
        if (!IPAddress.TryParse(ip, out var addr)) return false;
        if (addr.AddressFamily == AddressFamily.InterNetwork)
        {
            var parts = ip.Split('.');
            if (parts.Length != 4 || parts.Any(p => p.Length == 0 || p.Length > 3 || !p.All(char.IsAsciiDigit))) return false;
        }
        else if (!ip.Contains(':') || ip.Contains('%')) return false;
        norm = addr.ToString();
        return true;
    }

    /// <summary>verifyClusterConfigWithData's slot part: <paramref name="populated"/> marks the slots holding keys.</summary>
    public void VerifyConfigWithData(bool[] populated)
    {
        if (Myself.IsSlave) return;
        bool update = false;
        for (int j = 0; j < Slots; j++)
        {
            if (!populated[j] || SlotOwner[j] == Myself || ImportingFrom[j] != null) continue;
            update = true;
            if (SlotOwner[j] == null)
            {
                Log.Warning($"I have keys for unassigned slot {j}. Taking responsibility for it.");
                AddSlot(Myself, j);
            }
            else
            {
                Log.Warning($"I have keys for slot {j}, but the slot is assigned to another node. Setting it to importing state.");
                ImportingFrom[j] = SlotOwner[j];
            }
        }
        if (update) SaveConfigOrDie(true);
        PublishView();
    }

    /// <summary>clusterReset: forget every other node and all slots; HARD also zeroes the epochs and picks a new name.</summary>
    public void Reset(bool hard)
    {
        if (Myself.IsSlave)
        {
            SetNodeAsMaster(Myself);
            Replication.UnsetMaster();
            server.Loop.Post(() => server.ClusterFlushAll());
        }
        CloseAllSlots();
        for (int j = 0; j < Slots; j++) DelSlot(j);
        foreach (var n in Nodes.Values.ToArray())
            if (n != Myself) DelNode(n);
        if (hard)
        {
            CurrentEpoch = 0;
            LastVoteEpoch = 0;
            Myself.ConfigEpoch = 0;
            Log.Warning("configEpoch set to 0 via CLUSTER RESET HARD");
            Nodes.Remove(Myself.Name);
            Myself.Name = RandomName();
            AddNode(Myself);
            Log.Notice($"Node hard reset, now I'm {Myself.Name}");
        }
        Todo(TodoSaveConfig | TodoUpdateState | TodoFsyncConfig);
    }
}
