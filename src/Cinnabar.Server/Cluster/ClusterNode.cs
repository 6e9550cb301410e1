namespace Cinnabar.Server.Cluster;

/// <summary>clusterNode: what this node knows about one node of the cluster (itself included).</summary>
public sealed class ClusterNode
{
    public string Name;
    public int Flags;
    public long CTime;                    // creation time (ms)
    public ulong ConfigEpoch;
    public readonly byte[] Slots = new byte[BusMessage.SlotBytes];
    public int NumSlots;
    public readonly List<ClusterNode> Replicas = new();
    public ClusterNode SlaveOf;
    public long PingSent, PongReceived, DataReceived, FailTime, VotedTime, ReplOffsetTime, OrphanedTime;
    public long ReplOffset;
    public string Ip = "";
    public int Port, PPort, CPort;
    public string Hostname = "";
    public ClusterLink Link;              // the outbound link (we connected)
    public ClusterLink InboundLink;       // the link it opened to us
    public readonly List<(ClusterNode node, long time)> FailReports = new();

    public ClusterNode(string name, int flags, long now)
    {
        Name = name;
        Flags = flags;
        CTime = now;
    }

    public bool Is(int flag) => (Flags & flag) != 0;
    public bool IsMaster => (Flags & NodeFlags.Master) != 0;
    public bool IsSlave => (Flags & NodeFlags.Slave) != 0;
    public bool IsMyself => (Flags & NodeFlags.Myself) != 0;
    public bool InHandshake => (Flags & NodeFlags.Handshake) != 0;
    public bool HasAddr => (Flags & NodeFlags.NoAddr) == 0;
    public bool Failed => (Flags & NodeFlags.Fail) != 0;
    public bool TimedOut => (Flags & NodeFlags.PFail) != 0;

    public bool HasSlot(int slot) => BusMessage.TestSlot(Slots, slot);

    /// <summary>clusterNodeSetSlotBit / clusterNodeClearSlotBit; true when the bit changed.</summary>
    public bool SetSlotBit(int slot)
    {
        if (HasSlot(slot)) return false;
        BusMessage.SetSlot(Slots, slot);
        NumSlots++;
        return true;
    }

    public bool ClearSlotBit(int slot)
    {
        if (!HasSlot(slot)) return false;
        BusMessage.ClearSlot(Slots, slot);
        NumSlots--;
        return true;
    }
}

/// <summary>clusterLink: one TCP connection of the bus, with its receive and send buffers.</summary>
public sealed class ClusterLink
{
    public int Fd = -1;
    public long CTime;
    public ClusterNode Node;
    public readonly bool Inbound;
    public bool Connecting;               // outbound: connect() in progress
    public bool Freed;
    public bool WriteRegistered;
    public string PeerIp = "", LocalIp = "";

    public byte[] Recv = new byte[4096];
    public int RecvLen;
    public byte[] Send = Array.Empty<byte>();   // allocated while messages wait, released once written (CLUSTER LINKS shows 0 then)
    public int SendStart, SendEnd;
    public int SendUsed => SendEnd - SendStart;

    public ClusterLink(ClusterNode node, bool inbound, long now)
    {
        Node = node;
        Inbound = inbound;
        CTime = now;
    }

    public void Queue(byte[] msg)
    {
        if (SendEnd + msg.Length > Send.Length)
        {
            int used = SendUsed;
            if (used + msg.Length <= Send.Length)
            {
                Buffer.BlockCopy(Send, SendStart, Send, 0, used);
            }
            else
            {
                var bigger = new byte[Math.Max(Math.Max(Send.Length * 2, 4096), used + msg.Length)];
                Buffer.BlockCopy(Send, SendStart, bigger, 0, used);
                Send = bigger;
            }
            SendStart = 0;
            SendEnd = used;
        }
        Buffer.BlockCopy(msg, 0, Send, SendEnd, msg.Length);
        SendEnd += msg.Length;
    }
}
