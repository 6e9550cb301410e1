using Cinnabar.Server.Network;
using Cinnabar.Server.Persistence;

namespace Cinnabar.Server.Replication;

/// <summary>Where the two sides meet: what each one's code needs of the other, in one place.</summary>
public sealed partial class ReplicationState
{
    // ---- the replica side's needs, answered by the master side ----

    partial void FeedSubReplicas(ReadOnlySpan<byte> data)
    {
        if (master != null && master.Replicas.Count > 0) master.WriteToReplicas(data);
    }

    partial void DisconnectSubReplicas() => master?.DisconnectReplicas();

    partial void ForceSelectOnNextWrite()
    {
        Master.SlaveSelDb = -1;
        Master.SyncSink();
    }

    // ---- the master side's needs, answered by the replica side ----

    partial void PopulateReplicaSaveInfo(ref ReplicationAux? info)
    {
        int db = MasterClient?.Db.Id ?? cached?.Db ?? -1;
        info = new ReplicationAux(db, ReplId, MasterReplOffset);
    }

    partial void ReplyRoleAsReplica(Client c)
    {
        c.Reply.ArrayHeader(5);
        c.Reply.Bulk("slave"u8);
        c.Reply.Bulk(MasterHost);
        c.Reply.Integer(MasterPort);
        c.Reply.Bulk(RoleStateName);
        c.Reply.Integer(RoleOffset);
    }

    partial void OnGetAckFromMaster(Client c)
    {
        if ((c.Flags & ClientFlags.Master) != 0) SendAck();
    }

    partial void UnsetMasterForFailover(Client c)
    {
        UnsetMaster();
        server.Log.Notice($"MASTER MODE enabled (failover request from '{server.ClientInfoLine(c)}')");
    }
}
