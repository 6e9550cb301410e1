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

    /// <summary>Owner of each slot (a master), or null when no node serves it.</summary>
    public readonly ClusterNodeRef[] SlotOwners = new ClusterNodeRef[SlotCount];

    /// <summary>migrating_slots_to: per slot, the target of a migration out of this node, else null.</summary>
    public readonly ClusterNodeRef[] MigratingTo = new ClusterNodeRef[SlotCount];

    /// <summary>importing_slots_from: per slot, the source of a migration into this node, else null.</summary>
    public readonly ClusterNodeRef[] ImportingFrom = new ClusterNodeRef[SlotCount];
}

/// <summary>A node as the command path sees it: enough to redirect a client to it.</summary>
public sealed class ClusterNodeRef(string id, string redirectTarget, bool isMyself)
{
    public readonly string Id = id;

    /// <summary>"endpoint:port" as MOVED and ASK print it (cluster-preferred-endpoint-type decides the endpoint).</summary>
    public readonly string RedirectTarget = redirectTarget;

    public readonly bool IsMyself = isMyself;
}
