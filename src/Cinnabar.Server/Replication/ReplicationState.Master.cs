using System.Text;
using Cinnabar.Server.Network;
using Cinnabar.Server.Persistence;

namespace Cinnabar.Server.Replication;

/// <summary>
/// The master side's entry points on the shared replication state, and the seams the replica side fills in
/// (partial methods: INFO's replica lines, ROLE as a replica, REPLCONF GETACK, PSYNC ... FAILOVER).
/// </summary>
public sealed partial class ReplicationState
{
    ReplicationMaster master;

    /// <summary>The replicas attached to me, the replication sink, WAIT, min-replicas.</summary>
    public ReplicationMaster Master => master ??= new ReplicationMaster(server, this);

    /// <summary>My link with my master is up: a replica whose link is down refuses SYNC/PSYNC from its own replicas.</summary>
    public bool MasterLinkUp => LinkUp;

    /// <summary>
    /// !checkGoodReplicasStatus() for a master: min-replicas-to-write is on and too few replicas acknowledged
    /// lately. Kept current by the master side so the command pipeline tests one field.
    /// </summary>
    public bool DenyWritesNoReplicas;

    /// <summary>
    /// rdbPopulateSaveInfo: the repl-stream-db / repl-id / repl-offset aux fields an RDB carries, or null. A
    /// master has them once it has a backlog (it is part of a replication chain).
    /// </summary>
    public ReplicationAux? PopulateSaveInfo()
    {
        if (!IsReplica)
        {
            if (Backlog == null) return null;
            int db = master == null || master.SlaveSelDb < 0 ? 0 : master.SlaveSelDb;
            return new ReplicationAux(db, ReplId, MasterReplOffset);
        }
        ReplicationAux? info = null;
        PopulateReplicaSaveInfo(ref info);
        return info;
    }

    /// <summary>INFO replication, in genRedisInfoString's order; the replica side adds its lines after role.</summary>
    public void AppendInfo(StringBuilder sb)
    {
        sb.Append("# Replication\r\n");
        sb.Append("role:").Append(IsReplica ? "slave" : "master").Append("\r\n");
        if (IsReplica) AppendReplicaInfo(sb);
        Master.AppendInfo(sb);
    }

    // ---- seams for the replica side (ReplicationReplica) ----

    /// <summary>rdbPopulateSaveInfo on a replica (repl-stream-db is its master client's db).</summary>
    partial void PopulateReplicaSaveInfo(ref ReplicationAux? info);

    /// <summary>ROLE on a replica: [slave, host, port, state, offset].</summary>
    partial void ReplyRoleAsReplica(Client c);

    /// <summary>REPLCONF GETACK received from my master: send REPLCONF ACK now.</summary>
    partial void OnGetAckFromMaster(Client c);

    /// <summary>PSYNC &lt;my replid&gt; &lt;offset&gt; FAILOVER on a replica: become a master (replicationUnsetMaster).</summary>
    partial void UnsetMasterForFailover(Client c);

    internal void RoleAsReplica(Client c) => ReplyRoleAsReplica(c);
    internal void GetAckFromMaster(Client c) => OnGetAckFromMaster(c);
    internal void FailoverRequest(Client c) => UnsetMasterForFailover(c);
}
