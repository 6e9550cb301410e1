using System.Security.Cryptography;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// clusterState: the node table, myself, epochs, slot owners and the computed cluster state, with every rule of
/// cluster-algorithms.md in one method named after the Redis function that holds it. One lock (<see cref="Sync"/>)
/// guards all of it: the bus thread takes it for each batch of events and for the 100 ms cron, CLUSTER commands take
/// it on the main thread. After a change, <see cref="AfterChanges"/> saves nodes.conf when a rule asked for it and
/// publishes a new immutable <see cref="ClusterView"/> for the command path, which reads <see cref="View"/> without
/// locks. Work on the keyspace or on clients (deleting keys of slots we lost, delivering a PUBLISH) is posted to the
/// main event loop.
/// </summary>
public sealed partial class ClusterState
{
    public const int Slots = ClusterView.SlotCount;
    public const int StateOk = 0, StateFail = 1;
    const int TodoSaveConfig = 1, TodoFsyncConfig = 2, TodoUpdateState = 4;
    const int FailReportValidityMult = 2, FailUndoTimeMult = 2, WritableDelay = 2000, BlacklistTtlSeconds = 60;

    public readonly object Sync = new();
    readonly CinnabarServer server;
    public ClusterBus Bus;
    public ClusterNode Myself;
    public ulong CurrentEpoch, LastVoteEpoch;
    public int State = StateFail;
    public int Size = 1;
    public readonly Dictionary<string, ClusterNode> Nodes = new(StringComparer.Ordinal);
    readonly Dictionary<string, long> blacklist = new(StringComparer.Ordinal);
    public readonly ClusterNode[] SlotOwner = new ClusterNode[Slots];
    public readonly ClusterNode[] MigratingTo = new ClusterNode[Slots];
    public readonly ClusterNode[] ImportingFrom = new ClusterNode[Slots];
    readonly byte[] ownerNotClaiming = new byte[BusMessage.SlotBytes];
    public readonly long[] StatsSent = new long[BusMessage.TypeCount], StatsReceived = new long[BusMessage.TypeCount];
    public int StatsPfailNodes;
    public long LinksBufferLimitExceeded;
    int todo;
    bool viewDirty = true;
    long firstUpdateStateCall, amongMinorityTime;
    long iteration;
    volatile ClusterView view;

    /// <summary>The snapshot the command path routes by; replaced (never mutated) after every change.</summary>
    public ClusterView View => view;

    public ClusterState(CinnabarServer server, IClusterReplication replication)
    {
        this.server = server;
        Replication = replication;
    }

    public Log Log => server.Log;

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static string RandomName() => Convert.ToHexString(RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();

    // ---------------------------------------------------------------- node table

    public ClusterNode Lookup(string name) => name != null && Nodes.TryGetValue(name, out var n) ? n : null;

    public void AddNode(ClusterNode n) => Nodes[n.Name] = n;

    /// <summary>clusterDelNode: drops its slots and open-slot states, the failure reports it sent, then the node.</summary>
    public void DelNode(ClusterNode delnode)
    {
        for (int j = 0; j < Slots; j++)
        {
            if (ImportingFrom[j] == delnode) ImportingFrom[j] = null;
            if (MigratingTo[j] == delnode) MigratingTo[j] = null;
            if (SlotOwner[j] == delnode) DelSlot(j);
        }
        foreach (var node in Nodes.Values) DelFailureReport(node, delnode);
        FreeNode(delnode);
        viewDirty = true;
    }

    /// <summary>freeClusterNode.</summary>
    void FreeNode(ClusterNode n)
    {
        foreach (var r in n.Replicas) r.SlaveOf = null;
        if (n.IsSlave && n.SlaveOf != null) NodeRemoveSlave(n.SlaveOf, n);
        if (Nodes.TryGetValue(n.Name, out var same) && same == n) Nodes.Remove(n.Name);
        if (n.Link != null) Bus.FreeLink(n.Link);
        if (n.InboundLink != null) Bus.FreeLink(n.InboundLink);
    }

    /// <summary>clusterRenameNode: a handshake node learns its real name.</summary>
    void RenameNode(ClusterNode node, string newName)
    {
        Log.Debug($"Renaming node {node.Name} into {newName}");
        Nodes.Remove(node.Name);
        node.Name = newName;
        AddNode(node);
    }

    bool NodeRemoveSlave(ClusterNode master, ClusterNode slave)
    {
        if (!master.Replicas.Remove(slave)) return false;
        if (master.Replicas.Count == 0) master.Flags &= ~NodeFlags.MigrateTo;
        return true;
    }

    void NodeAddSlave(ClusterNode master, ClusterNode slave)
    {
        if (master.Replicas.Contains(slave)) return;
        master.Replicas.Add(slave);
        master.Flags |= NodeFlags.MigrateTo;
    }

    /// <summary>clusterSetNodeAsMaster.</summary>
    void SetNodeAsMaster(ClusterNode n)
    {
        if (n.IsMaster) return;
        if (n.SlaveOf != null)
        {
            NodeRemoveSlave(n.SlaveOf, n);
            if (n != Myself) n.Flags |= NodeFlags.MigrateTo;
        }
        n.Flags &= ~NodeFlags.Slave;
        n.Flags |= NodeFlags.Master;
        n.SlaveOf = null;
        Todo(TodoSaveConfig | TodoUpdateState);
    }

    // ---- blacklist (CLUSTER FORGET) ----

    void BlacklistCleanup()
    {
        long now = Now() / 1000;
        List<string> expired = null;
        foreach (var (name, expire) in blacklist)
            if (expire < now) (expired ??= new()).Add(name);
        if (expired != null) foreach (var n in expired) blacklist.Remove(n);
    }

    public void BlacklistAdd(string name)
    {
        BlacklistCleanup();
        blacklist[name] = Now() / 1000 + BlacklistTtlSeconds;
    }

    bool Blacklisted(string name)
    {
        BlacklistCleanup();
        return blacklist.ContainsKey(name);
    }

    // ---- failure reports ----

    long NodeTimeout => Math.Max(1, server.Settings.ClusterNodeTimeout);

    bool AddFailureReport(ClusterNode failing, ClusterNode sender)
    {
        long now = Now();
        for (int i = 0; i < failing.FailReports.Count; i++)
        {
            if (failing.FailReports[i].node == sender)
            {
                failing.FailReports[i] = (sender, now);
                return false;
            }
        }
        failing.FailReports.Add((sender, now));
        return true;
    }

    void CleanupFailureReports(ClusterNode n)
    {
        long maxtime = NodeTimeout * FailReportValidityMult, now = Now();
        n.FailReports.RemoveAll(r => now - r.time > maxtime);
    }

    bool DelFailureReport(ClusterNode n, ClusterNode sender)
    {
        int i = n.FailReports.FindIndex(r => r.node == sender);
        if (i < 0) return false;
        n.FailReports.RemoveAt(i);
        CleanupFailureReports(n);
        return true;
    }

    public int FailureReportsCount(ClusterNode n)
    {
        CleanupFailureReports(n);
        return n.FailReports.Count;
    }

    // ---------------------------------------------------------------- slots

    public bool AddSlot(ClusterNode n, int slot)
    {
        if (SlotOwner[slot] != null) return false;
        // clusterNodeSetSlotBit: a master getting its first slot is a replica-migration target if some master has replicas.
        if (n.SetSlotBit(slot) && n.NumSlots == 1 && MastersHaveSlaves()) n.Flags |= NodeFlags.MigrateTo;
        SlotOwner[slot] = n;
        BusMessage.ClearSlot(ownerNotClaiming, slot);
        viewDirty = true;
        return true;
    }

    bool MastersHaveSlaves()
    {
        foreach (var n in Nodes.Values)
            if (n.IsMaster && n.Replicas.Count > 0) return true;
        return false;
    }

    public bool DelSlot(int slot)
    {
        var n = SlotOwner[slot];
        if (n == null) return false;
        n.ClearSlotBit(slot);
        SlotOwner[slot] = null;
        BusMessage.ClearSlot(ownerNotClaiming, slot);
        viewDirty = true;
        return true;
    }

    /// <summary>clusterDelNodeSlots.</summary>
    public int DelNodeSlots(ClusterNode node)
    {
        int deleted = 0;
        for (int j = 0; j < Slots; j++)
            if (node.HasSlot(j)) { DelSlot(j); deleted++; }
        return deleted;
    }

    /// <summary>clusterCloseAllSlots.</summary>
    public void CloseAllSlots()
    {
        Array.Clear(MigratingTo);
        Array.Clear(ImportingFrom);
        viewDirty = true;
    }

    bool IsSlotUnclaimed(int slot) => SlotOwner[slot] == null || BusMessage.TestSlot(ownerNotClaiming, slot);

    /// <summary>
    /// clusterUpdateSlotsConfigWith (cluster-algorithms.md §5): slots claimed by a master with a greater configEpoch
    /// (or unclaimed) move to it; we may become its replica, or drop the keys of the slots we lost.
    /// </summary>
    void UpdateSlotsConfigWith(ClusterNode sender, ulong senderConfigEpoch, byte[] slots)
    {
        if (sender == Myself)
        {
            Log.Verbose("Discarding UPDATE message about myself.");
            return;
        }
        var curmaster = Myself.IsMaster ? Myself : Myself.SlaveOf;
        ClusterNode newmaster = null;
        List<int> dirty = null;
        int senderSlots = 0, migratedOurSlots = 0;
        for (int j = 0; j < Slots; j++)
        {
            if (BusMessage.TestSlot(slots, j))
            {
                senderSlots++;
                if (SlotOwner[j] == sender)
                {
                    BusMessage.ClearSlot(ownerNotClaiming, j);
                    continue;
                }
                if (ImportingFrom[j] != null) continue;   // only a manual SETSLOT may change an importing slot
                if (IsSlotUnclaimed(j) || SlotOwner[j].ConfigEpoch < senderConfigEpoch)
                {
                    if (SlotOwner[j] == Myself) (dirty ??= new()).Add(j);
                    if (SlotOwner[j] == curmaster)
                    {
                        newmaster = sender;
                        migratedOurSlots++;
                    }
                    DelSlot(j);
                    AddSlot(sender, j);
                    Todo(TodoSaveConfig | TodoUpdateState | TodoFsyncConfig);
                }
            }
            else if (SlotOwner[j] == sender)
            {
                BusMessage.SetSlot(ownerNotClaiming, j);
            }
        }
        if (newmaster != null && curmaster != null && curmaster.NumSlots == 0
            && (server.Settings.ClusterAllowReplicaMigration || senderSlots == migratedOurSlots))
        {
            Log.Warning($"Configuration change detected. Reconfiguring myself as a replica of {sender.Name}");
            SetMyMaster(sender);
            Todo(TodoSaveConfig | TodoUpdateState | TodoFsyncConfig);
        }
        else if (Myself.SlaveOf != null && Myself.SlaveOf.SlaveOf != null && Myself.SlaveOf.SlaveOf != Myself)
        {
            Log.Notice($"I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {Myself.SlaveOf.SlaveOf.Name}");
            SetMyMaster(Myself.SlaveOf.SlaveOf);
            Todo(TodoSaveConfig | TodoUpdateState | TodoFsyncConfig);
        }
        else if (dirty != null)
        {
            var lost = dirty.ToArray();
            server.Loop.Post(() => { foreach (int s in lost) server.ClusterDeleteKeysInSlot(s); });
        }
    }

    /// <summary>
    /// clusterSetMaster, the cluster half: myself becomes a replica of n (open slots closed, slots dropped). The
    /// replication half (connecting to the master, the full sync) is <see cref="IClusterReplication.SetMaster"/>.
    /// </summary>
    public void SetMyMaster(ClusterNode n)
    {
        if (Myself.IsMaster)
        {
            Myself.Flags &= ~(NodeFlags.Master | NodeFlags.MigrateTo);
            Myself.Flags |= NodeFlags.Slave;
            CloseAllSlots();
        }
        else if (Myself.SlaveOf != null)
        {
            NodeRemoveSlave(Myself.SlaveOf, Myself);
        }
        Myself.SlaveOf = n;
        NodeAddSlave(n, Myself);
        viewDirty = true;
        Replication.SetMaster(n.Ip, n.Port);
        ResetManualFailover();
    }

    // ---------------------------------------------------------------- epochs

    /// <summary>clusterGetMaxEpoch.</summary>
    public ulong MaxEpoch()
    {
        ulong max = 0;
        foreach (var n in Nodes.Values) if (n.ConfigEpoch > max) max = n.ConfigEpoch;
        return Math.Max(max, CurrentEpoch);
    }

    /// <summary>clusterBumpConfigEpochWithoutConsensus: true when bumped.</summary>
    public bool BumpConfigEpochWithoutConsensus()
    {
        ulong maxEpoch = MaxEpoch();
        if (Myself.ConfigEpoch == 0 || Myself.ConfigEpoch != maxEpoch)
        {
            CurrentEpoch++;
            Myself.ConfigEpoch = CurrentEpoch;
            Todo(TodoSaveConfig | TodoFsyncConfig);
            Log.Warning($"New configEpoch set to {Myself.ConfigEpoch}");
            return true;
        }
        return false;
    }

    /// <summary>clusterHandleConfigEpochCollision (§3.1): the node with the smaller ID moves to a new epoch.</summary>
    void HandleConfigEpochCollision(ClusterNode sender)
    {
        if (sender.ConfigEpoch != Myself.ConfigEpoch || !sender.IsMaster || !Myself.IsMaster) return;
        if (string.CompareOrdinal(sender.Name, Myself.Name) <= 0) return;
        CurrentEpoch++;
        Myself.ConfigEpoch = CurrentEpoch;
        SaveConfig(true);
        Log.Verbose($"WARNING: configEpoch collision with node {sender.Name}. configEpoch set to {Myself.ConfigEpoch}");
    }

    // ---------------------------------------------------------------- failure detection

    /// <summary>markNodeAsFailingIfNeeded (§2.3).</summary>
    void MarkNodeAsFailingIfNeeded(ClusterNode node)
    {
        int quorum = Size / 2 + 1;
        if (!node.TimedOut || node.Failed) return;
        int failures = FailureReportsCount(node);
        if (Myself.IsMaster) failures++;
        if (failures < quorum) return;
        Log.Notice($"Marking node {node.Name} as failing (quorum reached).");
        node.Flags &= ~NodeFlags.PFail;
        node.Flags |= NodeFlags.Fail;
        node.FailTime = Now();
        SendFail(node.Name);
        Todo(TodoUpdateState | TodoSaveConfig);
    }

    /// <summary>clearNodeFailureIfNeeded (§2.5).</summary>
    void ClearNodeFailureIfNeeded(ClusterNode node)
    {
        long now = Now();
        if (node.IsSlave || node.NumSlots == 0)
        {
            Log.Notice($"Clear FAIL state for node {node.Name}: {(node.IsSlave ? "replica" : "master without slots")} is reachable again.");
            node.Flags &= ~NodeFlags.Fail;
            Todo(TodoUpdateState | TodoSaveConfig);
        }
        if (node.IsMaster && node.NumSlots > 0 && now - node.FailTime > NodeTimeout * FailUndoTimeMult)
        {
            Log.Notice($"Clear FAIL state for node {node.Name}: is reachable again and nobody is serving its slots after some time.");
            node.Flags &= ~NodeFlags.Fail;
            Todo(TodoUpdateState | TodoSaveConfig);
        }
    }

    // ---------------------------------------------------------------- cluster state

    /// <summary>clusterUpdateState (§6).</summary>
    public void UpdateState()
    {
        long now = Now();
        if (firstUpdateStateCall == 0) firstUpdateStateCall = now;
        if (Myself.IsMaster && State == StateFail && now - firstUpdateStateCall < WritableDelay) return;
        int newState = StateOk;
        if (server.Settings.ClusterRequireFullCoverage)
        {
            ClusterNode checkedOwner = null;
            for (int j = 0; j < Slots; j++)
            {
                var owner = SlotOwner[j];
                if (owner == checkedOwner && owner != null) continue;   // runs of one owner are checked once
                if (owner == null || owner.Failed)
                {
                    newState = StateFail;
                    break;
                }
                checkedOwner = owner;
            }
        }
        int reachable = 0, size = 0;
        foreach (var node in Nodes.Values)
        {
            if (node.IsMaster && node.NumSlots > 0)
            {
                size++;
                if ((node.Flags & (NodeFlags.Fail | NodeFlags.PFail)) == 0) reachable++;
            }
        }
        Size = size;
        int quorum = size / 2 + 1;
        if (reachable < quorum)
        {
            newState = StateFail;
            amongMinorityTime = now;
        }
        if (newState != State)
        {
            long rejoinDelay = Math.Clamp(server.Settings.ClusterNodeTimeout, 500, 5000);
            if (newState == StateOk && Myself.IsMaster && now - amongMinorityTime < rejoinDelay) return;
            Log.Warning($"Cluster state changed: {(newState == StateOk ? "ok" : "fail")}");
            State = newState;
            viewDirty = true;
        }
    }

    // ---------------------------------------------------------------- batching (clusterBeforeSleep)

    void Todo(int flags)
    {
        todo |= flags;
        viewDirty = true;
    }

    public void MarkViewDirty() => viewDirty = true;

    /// <summary>
    /// clusterBeforeSleep: what the rules asked for while the lock was held — a state update, a nodes.conf save —
    /// then a new view for the command path. Called with the lock held at the end of every batch and command.
    /// </summary>
    public void AfterChanges()
    {
        if ((todo & TodoUpdateState) != 0)
        {
            todo &= ~TodoUpdateState;
            UpdateState();
        }
        if ((todo & TodoSaveConfig) != 0)
        {
            bool fsync = (todo & TodoFsyncConfig) != 0;
            SaveConfigOrDie(fsync);
        }
        if (viewDirty) PublishView();
    }

    public void SaveConfigOrDie(bool fsync)
    {
        if (!SaveConfig(fsync))
        {
            Log.Warning("Fatal: can't update cluster config file.");
            Environment.Exit(1);
        }
    }

    /// <summary>Builds the immutable snapshot of slot owners and open slots and publishes it with one reference write.</summary>
    public void PublishView()
    {
        viewDirty = false;
        var refs = new Dictionary<ClusterNode, ushort>();
        var nodes = new List<ClusterNodeRef> { null };
        ClusterNodeRef Ref(ClusterNode n)
        {
            if (n == null) return null;
            return nodes[Index(n)];
        }
        ushort Index(ClusterNode n)
        {
            if (n == null) return 0;
            if (!refs.TryGetValue(n, out ushort i))
            {
                refs[n] = i = (ushort)nodes.Count;
                nodes.Add(new ClusterNodeRef(n.Name, RedirectTarget(n), n == Myself));
            }
            return i;
        }
        var v = new ClusterView { StateOk = State == StateOk };
        v.Myself = Ref(Myself);
        v.MyMaster = Ref(Myself.SlaveOf);
        ClusterNode last = null;
        ushort lastIndex = 0;
        for (int j = 0; j < Slots; j++)
        {
            // Owners come in long runs of consecutive slots: look the node up once per run.
            var owner = SlotOwner[j];
            if (owner != last)
            {
                last = owner;
                lastIndex = Index(owner);
            }
            v.SlotOwnerIndex[j] = lastIndex;
        }
        for (int j = OpenSlots.Next(MigratingTo, 0); j >= 0; j = OpenSlots.Next(MigratingTo, j + 1))
            (v.MigratingSlots ??= new())[j] = Ref(MigratingTo[j]);
        for (int j = OpenSlots.Next(ImportingFrom, 0); j >= 0; j = OpenSlots.Next(ImportingFrom, j + 1))
            (v.ImportingSlots ??= new())[j] = Ref(ImportingFrom[j]);
        v.Nodes = nodes.ToArray();
        view = v;
        // Blocked clients whose slot went away are redirected on the loop thread.
        server.Loop?.Post(server.ClusterViewChanged);
    }

    /// <summary>"endpoint:port" as MOVED/ASK print it (cluster-preferred-endpoint-type, §13).</summary>
    public string RedirectTarget(ClusterNode n) => PreferredEndpoint(n) + ":" + n.Port;

    public string PreferredEndpoint(ClusterNode n) => server.Settings.ClusterPreferredEndpointType switch
    {
        "hostname" => n.Hostname.Length > 0 ? n.Hostname : "?",
        "unknown-endpoint" => "",
        _ => n.Ip,
    };

    // ---------------------------------------------------------------- announced addresses

    public int AnnouncedPort => server.Settings.ClusterAnnouncePort != 0 ? server.Settings.ClusterAnnouncePort : server.Settings.Port;

    public int AnnouncedBusPort => server.Settings.ClusterAnnounceBusPort != 0 ? server.Settings.ClusterAnnounceBusPort : BusPort;

    public int BusPort => server.Settings.ClusterPort != 0 ? server.Settings.ClusterPort : server.Settings.Port + 10000;

    /// <summary>Myself's ports, IP (when announced) and hostname follow the config (clusterCron's first steps).</summary>
    void UpdateMyselfAnnounced()
    {
        int port = AnnouncedPort, cport = AnnouncedBusPort;
        if (Myself.Port != port || Myself.CPort != cport)
        {
            Myself.Port = port;
            Myself.CPort = cport;
            Todo(TodoSaveConfig);
        }
        string ip = server.Settings.ClusterAnnounceIp;
        if (ip.Length > 0 && Myself.Ip != ip)
        {
            Myself.Ip = ip;
            Todo(TodoSaveConfig);
        }
        int nofailover = server.Settings.ClusterReplicaNoFailover ? NodeFlags.NoFailover : 0;
        if ((Myself.Flags & NodeFlags.NoFailover) != nofailover)
        {
            Myself.Flags = (Myself.Flags & ~NodeFlags.NoFailover) | nofailover;
            Todo(TodoSaveConfig);
        }
        string host = server.Settings.ClusterAnnounceHostname;
        if (Myself.Hostname != host)
        {
            Myself.Hostname = host;
            Todo(TodoSaveConfig);
        }
    }

    // ---------------------------------------------------------------- startup

    /// <summary>clusterInit: lock and load (or create) nodes.conf. Returns false when the server must not start.</summary>
    public bool Init()
    {
        lock (Sync)
        {
            if (!LockConfig()) return false;
            int loaded = LoadConfig();
            if (loaded < 0) return false;
            if (loaded == 0)
            {
                Myself = new ClusterNode(RandomName(), NodeFlags.Myself | NodeFlags.Master, Now());
                Log.Notice($"No cluster configuration found, I'm {Myself.Name}");
                AddNode(Myself);
                if (!SaveConfig(true))
                {
                    Log.Warning("Fatal: can't update cluster config file.");
                    return false;
                }
            }
            UpdateMyselfAnnounced();
            todo &= ~TodoSaveConfig;   // the ports are relearned at every start, as Redis sets them after loading
            PublishView();
            return true;
        }
    }
}
