namespace Cinnabar.Server.Replication;

/// <summary>
/// The replication identity and history every role shares (server.replid, replid2, master_repl_offset,
/// second_replid_offset, the backlog), and the role itself (master, or replica of MasterHost:MasterPort).
/// The master side (replicas attached to me) lives in ReplicationMaster, the replica side (my link to my
/// master) in ReplicationReplica; the cluster's elections and manual failover drive both through this class.
/// </summary>
public sealed partial class ReplicationState
{
    public const string NullReplId = "0000000000000000000000000000000000000000";

    readonly CinnabarServer server;

    public string ReplId = NewReplId();
    public string ReplId2 = NullReplId;
    public long MasterReplOffset;
    public long SecondReplOffset = -1;
    public ReplicationBacklog Backlog;

    /// <summary>Null when I am a master.</summary>
    public string MasterHost;
    public int MasterPort;

    public ReplicationState(CinnabarServer server) => this.server = server;

    public bool IsReplica => MasterHost != null;

    public static string NewReplId() =>
        Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();

    /// <summary>shiftReplicationId: on promotion the old history stays valid (replid2) up to the current offset.</summary>
    public void ShiftReplicationId()
    {
        ReplId2 = ReplId;
        SecondReplOffset = MasterReplOffset + 1;
        ReplId = NewReplId();
        server.Log.Notice($"Setting secondary replication ID to {ReplId2}, valid up to offset: {SecondReplOffset}. New replication ID is {ReplId}");
    }

    /// <summary>clearReplicationId2.</summary>
    public void ClearReplicationId2()
    {
        ReplId2 = NullReplId;
        SecondReplOffset = -1;
    }
}
