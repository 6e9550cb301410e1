namespace Cinnabar.Server.Cluster;

/// <summary>
/// What the cluster needs from replication. ClusterState runs on the bus thread under its lock while replication
/// lives on the main loop, so getters read values the main loop publishes and actions are posted to it.
/// </summary>
public interface IClusterReplication
{
    /// <summary>replicationGetSlaveOffset on a replica, master_repl_offset on a master.</summary>
    long Offset { get; }

    /// <summary>True while replication has a master configured (server.masterhost != NULL).</summary>
    bool HasMaster { get; }

    /// <summary>Milliseconds since the replica last heard from its master (link up) or since the link went down.</summary>
    long MasterDataAgeMs { get; }

    int ReplPingReplicaPeriodSec { get; }

    /// <summary>replicationSetMaster.</summary>
    void SetMaster(string ip, int port);

    /// <summary>replicationUnsetMaster: promotion (new replid, the old one kept as replid2).</summary>
    void UnsetMaster();

    /// <summary>pauseClients(PAUSE_DURING_FAILOVER, until, CLIENT_PAUSE_WRITE) / unpauseClients.</summary>
    void PauseWritesForFailover(long untilUnixMs);
    void UnpauseWritesForFailover();

    /// <summary>True once the loop has paused writers: the offset read after this is the one the replica must reach.</summary>
    bool WritesPausedForFailover { get; }
}

/// <summary>
/// The replica's side of failover: elections after the master's FAIL (clusterHandleSlaveFailover), manual
/// CLUSTER FAILOVER in its three forms with the master's side of the MFSTART handshake, promotion
/// (clusterFailoverReplaceYourMaster) and replica migration to orphaned masters. cluster-algorithms.md §7-9.
/// </summary>
public sealed partial class ClusterState
{
    const long ManualFailoverTimeoutMs = 5000;          // CLUSTER_MF_TIMEOUT
    const long ManualFailoverPauseMultiplier = 2;      // CLUSTER_MF_PAUSE_MULT
    const long ReplicaMigrationDelayMs = 5000;          // CLUSTER_SLAVE_MIGRATION_DELAY
    const long CantFailoverRelogSeconds = 10;

    public readonly IClusterReplication Replication;

    long failoverAuthTime;
    int failoverAuthCount;
    bool failoverAuthSent;
    int failoverAuthRank;
    ulong failoverAuthEpoch;
    CantFailover cantFailoverReason;
    long lastCantFailoverLog;

    // Manual failover: on the master, the replica it paused for; on the replica, the master's offset to reach.
    long mfEnd;
    ClusterNode mfReplica;
    bool mfCanStart;
    long mfMasterOffset = -1;

    enum CantFailover { None, DataAge, WaitingDelay, Expired, WaitingVotes }

    public long ReplicationOffset() => Replication.Offset;

    /// <summary>
    /// While a master pauses for a manual failover, every message it builds says so (PAUSED) — from the moment the
    /// loop has actually paused writers, so the offset in that first message is final.
    /// </summary>
    bool PausedForManualFailover => mfEnd != 0 && Myself.IsMaster && Replication.WritesPausedForFailover;

    // ---------------------------------------------------------------- cron

    /// <summary>The failover part of clusterCron, after failure detection.</summary>
    void FailoverCron(long now)
    {
        if (mfEnd != 0 && Myself.IsMaster && mfReplica?.Link is { } mfLink) SendPing(mfLink, BusType.Ping);

        if (Myself.IsSlave && !Replication.HasMaster && Myself.SlaveOf is { } master && master.Ip.Length > 0
            && (master.Flags & NodeFlags.NoAddr) == 0)
            Replication.SetMaster(master.Ip, master.Port);

        if (mfEnd != 0 && mfEnd < now)
        {
            Log.Warning("Manual failover timed out.");
            ResetManualFailover();
        }
        if (!Myself.IsSlave) return;
        HandleManualFailover();
        HandleReplicaFailover(now);
        HandleReplicaMigration(now);
    }

    // ---------------------------------------------------------------- elections

    /// <summary>clusterGetSlaveRank: replicas of my master ahead of me in replication offset.</summary>
    int ReplicaRank()
    {
        var master = Myself.SlaveOf;
        if (master == null) return 0;
        long mine = ReplicationOffset();
        int rank = 0;
        foreach (var r in master.Replicas)
            if (r != Myself && (r.Flags & NodeFlags.NoFailover) == 0 && r.ReplOffset > mine) rank++;
        return rank;
    }

    void LogCantFailover(CantFailover reason, long now)
    {
        if (reason == cantFailoverReason && now / 1000 - lastCantFailoverLog < CantFailoverRelogSeconds) return;
        cantFailoverReason = reason;
        // Quiet right after the master failed: the point is to explain replicas stalled for a long time.
        if (Myself.SlaveOf is { } m && m.Failed && now - m.FailTime < NodeTimeout + 5000) return;
        lastCantFailoverLog = now / 1000;
        string text = reason switch
        {
            CantFailover.DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
            CantFailover.WaitingDelay => "Waiting the delay before I can start a new failover.",
            CantFailover.Expired => "Failover attempt expired.",
            CantFailover.WaitingVotes => "Waiting for votes, but majority still not reached.",
            _ => "Unknown reason code.",
        };
        Log.Notice("Currently unable to failover: " + text);
    }

    /// <summary>clusterHandleSlaveFailover (§7).</summary>
    void HandleReplicaFailover(long now)
    {
        var master = Myself.SlaveOf;
        long nodeTimeout = NodeTimeout;
        long authTimeout = Math.Max(nodeTimeout * 2, 2000), authRetry = authTimeout * 2;
        int quorum = Size / 2 + 1;
        bool manual = mfEnd != 0 && mfCanStart;
        if (Myself.IsMaster || master == null || (!master.Failed && !manual)
            || (server.Settings.ClusterReplicaNoFailover && !manual) || master.NumSlots == 0)
        {
            cantFailoverReason = CantFailover.None;
            return;
        }

        long dataAge = Replication.MasterDataAgeMs;
        if (dataAge > nodeTimeout) dataAge -= nodeTimeout;
        int factor = server.Settings.ClusterReplicaValidityFactor;
        if (factor != 0 && dataAge > Replication.ReplPingReplicaPeriodSec * 1000L + nodeTimeout * factor && !manual)
        {
            LogCantFailover(CantFailover.DataAge, now);
            return;
        }

        long authAge = now - failoverAuthTime;
        if (authAge > authRetry)
        {
            failoverAuthTime = now + 500 + Random.Shared.Next(500);
            failoverAuthCount = 0;
            failoverAuthSent = false;
            failoverAuthRank = ReplicaRank();
            failoverAuthTime += failoverAuthRank * 1000L;
            if (mfEnd != 0)
            {
                failoverAuthTime = now;
                failoverAuthRank = 0;
            }
            Log.Notice($"Start of election delayed for {failoverAuthTime - now} milliseconds (rank #{failoverAuthRank}, offset {ReplicationOffset()}).");
            BroadcastPong(localReplicasOnly: true);
            // A manual failover asks for votes now (Redis: CLUSTER_TODO_HANDLE_FAILOVER before sleeping), not at the
            // next cron while the master keeps its writers paused.
            if (mfEnd != 0) HandleReplicaFailover(now);
            return;
        }

        if (!failoverAuthSent && !manual)
        {
            int newRank = ReplicaRank();
            if (newRank > failoverAuthRank)
            {
                long added = (newRank - failoverAuthRank) * 1000L;
                failoverAuthTime += added;
                failoverAuthRank = newRank;
                Log.Notice($"Replica rank updated to #{newRank}, added {added} milliseconds of delay.");
            }
        }

        if (now < failoverAuthTime)
        {
            LogCantFailover(CantFailover.WaitingDelay, now);
            return;
        }
        if (authAge > authTimeout)
        {
            LogCantFailover(CantFailover.Expired, now);
            return;
        }

        if (!failoverAuthSent)
        {
            CurrentEpoch++;
            failoverAuthEpoch = CurrentEpoch;
            Log.Notice($"Starting a failover election for epoch {CurrentEpoch}.");
            var request = BuildHeader(BusType.FailoverAuthRequest);
            if (mfEnd != 0) request.MFlags0 |= BusMessage.MFlagForceAck;
            BroadcastMessage(request);
            failoverAuthSent = true;
            Todo(TodoSaveConfig | TodoUpdateState | TodoFsyncConfig);
            return;
        }

        if (failoverAuthCount >= quorum)
        {
            Log.Notice("Failover election won: I'm the new master.");
            if (Myself.ConfigEpoch < failoverAuthEpoch)
            {
                Myself.ConfigEpoch = failoverAuthEpoch;
                Log.Notice($"configEpoch set to {Myself.ConfigEpoch} after successful failover");
            }
            FailoverReplaceYourMaster();
        }
        else LogCantFailover(CantFailover.WaitingVotes, now);
    }

    /// <summary>A FAILOVER_AUTH_ACK counts when a master with slots sent it for this election's epoch or later.</summary>
    void FailoverAuthAcked(ClusterNode sender, BusMessage hdr)
    {
        if (sender.IsMaster && sender.NumSlots > 0 && hdr.CurrentEpoch >= failoverAuthEpoch)
        {
            failoverAuthCount++;
            if (Myself.IsSlave) HandleReplicaFailover(Now());
        }
    }

    /// <summary>clusterFailoverReplaceYourMaster: I take my master's slots and tell everyone.</summary>
    void FailoverReplaceYourMaster()
    {
        var oldMaster = Myself.SlaveOf;
        if (Myself.IsMaster || oldMaster == null) return;
        SetNodeAsMaster(Myself);
        Replication.UnsetMaster();
        for (int j = 0; j < Slots; j++)
        {
            if (SlotOwner[j] != oldMaster) continue;
            DelSlot(j);
            AddSlot(Myself, j);
        }
        viewDirty = true;
        UpdateState();
        SaveConfigOrDie(true);
        BroadcastPong();
        ResetManualFailover();
    }

    // ---------------------------------------------------------------- manual failover

    /// <summary>resetManualFailover: a master that paused its writers for the replica lets them go, whatever happened.</summary>
    void ResetManualFailover()
    {
        if (mfReplica != null) Replication.UnpauseWritesForFailover();
        mfEnd = 0;
        mfCanStart = false;
        mfReplica = null;
        mfMasterOffset = -1;
    }

    /// <summary>CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica, after the command checked its preconditions.</summary>
    public void StartManualFailover(bool force, bool takeover)
    {
        ResetManualFailover();
        mfEnd = Now() + ManualFailoverTimeoutMs;
        if (takeover)
        {
            Log.Warning("Taking over the master (user request).");
            BumpConfigEpochWithoutConsensus();
            FailoverReplaceYourMaster();
        }
        else if (force)
        {
            Log.Warning("Forced failover user request accepted.");
            mfCanStart = true;
            HandleReplicaFailover(Now());
        }
        else
        {
            Log.Warning("Manual failover user request accepted.");
            if (Myself.SlaveOf?.Link is { } link) SendMessage(link, BuildHeader(BusType.MfStart));
        }
        AfterChanges();
    }

    /// <summary>MFSTART from one of my replicas: pause writers, and ping it at once with my offset (PAUSED set).</summary>
    void ManualFailoverRequested(ClusterNode sender, ClusterLink link)
    {
        if (sender.SlaveOf != Myself) return;
        ResetManualFailover();
        long now = Now();
        mfEnd = now + ManualFailoverTimeoutMs;
        mfReplica = sender;
        Replication.PauseWritesForFailover(now + ManualFailoverTimeoutMs * ManualFailoverPauseMultiplier);
        Log.Warning($"Manual failover requested by replica {sender.Name}.");
        SendPing(link, BusType.Ping);
    }

    /// <summary>On a replica in a manual failover: the first message of my paused master gives the offset to reach.</summary>
    void NoteMasterPausedOffset(ClusterNode sender, BusMessage hdr)
    {
        if (mfEnd == 0 || !Myself.IsSlave || Myself.SlaveOf != sender || (hdr.MFlags0 & BusMessage.MFlagPaused) == 0 || mfMasterOffset != -1) return;
        mfMasterOffset = sender.ReplOffset;
        Log.Warning($"Received replication offset for paused master manual failover: {mfMasterOffset}");
        HandleManualFailover();
    }

    /// <summary>clusterHandleManualFailover: the election may start once I processed everything my paused master sent.</summary>
    void HandleManualFailover()
    {
        if (mfEnd == 0 || mfCanStart || mfMasterOffset == -1) return;
        if (mfMasterOffset == ReplicationOffset())
        {
            mfCanStart = true;
            Log.Warning("All master replication stream processed, manual failover can start.");
            HandleReplicaFailover(Now());
        }
    }

    // ---------------------------------------------------------------- replica migration

    static int NonFailingReplicas(ClusterNode master)
    {
        int ok = 0;
        foreach (var r in master.Replicas) if (!r.Failed) ok++;
        return ok;
    }

    /// <summary>
    /// clusterHandleSlaveMigration (§9): a replica of one of the best-served masters moves to a master left without
    /// working replicas, if its own master keeps more than cluster-migration-barrier of them.
    /// </summary>
    void HandleReplicaMigration(long now)
    {
        var myMaster = Myself.SlaveOf;
        if (myMaster == null || !server.Settings.ClusterAllowReplicaMigration) return;
        int orphaned = 0, maxReplicas = 0, mine = 0;
        foreach (var n in Nodes.Values)
        {
            if ((n.Flags & (NodeFlags.Myself | NodeFlags.NoAddr | NodeFlags.Handshake)) != 0 || !n.IsMaster || n.Failed) continue;
            int ok = NonFailingReplicas(n);
            if (ok == 0 && n.NumSlots > 0 && (n.Flags & NodeFlags.MigrateTo) != 0) orphaned++;
            if (ok > maxReplicas) maxReplicas = ok;
            if (n == myMaster) mine = ok;
        }
        if (orphaned == 0 || maxReplicas < 2 || mine != maxReplicas) return;
        if (State != StateOk) return;

        int healthy = 0;
        foreach (var r in myMaster.Replicas) if (!r.Failed && !r.TimedOut) healthy++;
        if (healthy <= server.Settings.ClusterMigrationBarrier) return;

        ClusterNode target = null, candidate = Myself;
        foreach (var n in Nodes.Values)
        {
            int ok = n.IsMaster ? NonFailingReplicas(n) : 0;
            bool isOrphaned = n.IsMaster && !n.Failed && (n.Flags & NodeFlags.MigrateTo) != 0 && ok == 0;
            if (isOrphaned)
            {
                if (target == null && n.NumSlots > 0) target = n;
                if (n.OrphanedTime == 0) n.OrphanedTime = now;
            }
            else n.OrphanedTime = 0;
            if (ok == maxReplicas)
                foreach (var r in n.Replicas)
                    if (string.CompareOrdinal(r.Name, candidate.Name) < 0) candidate = r;
        }
        if (target != null && candidate == Myself && now - target.OrphanedTime > ReplicaMigrationDelayMs)
        {
            Log.Notice($"Migrating to orphaned master {target.Name}");
            SetMyMaster(target);
            Todo(TodoSaveConfig | TodoUpdateState | TodoFsyncConfig);
        }
    }
}
