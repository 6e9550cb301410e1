namespace Cinnabar.Server.Cluster;

/// <summary>
/// What the command path needs to know about the cluster: slot owners, open slots, the cluster state. The
/// cluster subsystem (which runs the bus on its own thread) builds a new, immutable view after every change and
/// publishes it with one reference write; the command path reads <see cref="ClusterState.View"/> without locks.
/// </summary>
public sealed class ClusterView
{
    public const int SlotCount = 16384;

    /// <summary>cluster_state:ok.</summary>
    public bool StateOk;

    public ClusterNodeRef Myself;

    /// <summary>The master I replicate, or null when I am a master.</summary>
    public ClusterNodeRef MyMaster;

    /// <summary>
    /// The nodes slots refer to; index 0 stands for "none". Why indices and not one reference per slot: a view is
    /// rebuilt after every change (a resharding changes it thousands of times), and three arrays of 16384 references
    /// are 384 KB of large-object heap each time, which made CLUSTER SETSLOT cost a full GC; 16384 ushorts are 32 KB.
    /// </summary>
    public ClusterNodeRef[] Nodes = { null };

    /// <summary>Per slot, the index in <see cref="Nodes"/> of its owner (a master), 0 when no node serves it.</summary>
    public readonly ushort[] SlotOwnerIndex = new ushort[SlotCount];

    /// <summary>migrating_slots_to / importing_slots_from: the open slots only (few, and usually none), or null.</summary>
    public Dictionary<int, ClusterNodeRef> MigratingSlots, ImportingSlots;

    /// <summary>Owner of the slot, or null when no node serves it.</summary>
    public ClusterNodeRef Owner(int slot) => Nodes[SlotOwnerIndex[slot]];

    /// <summary>The target of a migration of this slot out of this node, else null.</summary>
    public ClusterNodeRef MigratingTo(int slot) => MigratingSlots != null && MigratingSlots.TryGetValue(slot, out var n) ? n : null;

    /// <summary>The source of a migration of this slot into this node, else null.</summary>
    public ClusterNodeRef ImportingFrom(int slot) => ImportingSlots != null && ImportingSlots.TryGetValue(slot, out var n) ? n : null;
}

/// <summary>A node as the command path sees it: enough to redirect a client to it.</summary>
public sealed class ClusterNodeRef(string id, string redirectTarget, bool isMyself)
{
    public readonly string Id = id;

    /// <summary>"endpoint:port" as MOVED and ASK print it (cluster-preferred-endpoint-type decides the endpoint).</summary>
    public readonly string RedirectTarget = redirectTarget;

    public readonly bool IsMyself = isMyself;
}
