using Cinnabar.Server.Cluster;

namespace Cinnabar.Server;

/// <summary>
/// IClusterReplication over the server's replication: the cluster calls it from the bus thread, so role changes
/// and pauses are posted to the main loop, and the getters read fields the loop writes (a value one loop pass old
/// at worst, which the cluster's 100 ms cron tolerates).
/// </summary>
sealed class ClusterReplication : IClusterReplication
{
    readonly CinnabarServer server;

    // The role as last requested by the cluster, so its cron does not post the same SetMaster twice.
    volatile string requestedMaster;

    public ClusterReplication(CinnabarServer server)
    {
        this.server = server;
        requestedMaster = server.Repl.MasterHost;
    }

    public long Offset => server.Repl.IsReplica ? server.Repl.ProcessedOffset : server.Repl.MasterReplOffset;

    public bool HasMaster => requestedMaster != null;

    public long MasterDataAgeMs
    {
        get
        {
            var repl = server.Repl;
            long nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (repl.LinkUp)
            {
                long last = repl.MasterLastInteractionMs;
                if (last >= 0) return Math.Max(0, nowMs - last);
            }
            return Math.Max(0, nowMs - repl.LinkDownSinceUnix * 1000);
        }
    }

    public int ReplPingReplicaPeriodSec => server.Repl.Master.PingReplicaPeriod;

    public void SetMaster(string ip, int port)
    {
        requestedMaster = ip;
        server.Loop.Post(() => server.Repl.SetMaster(ip, port));
    }

    public void UnsetMaster()
    {
        requestedMaster = null;
        server.Loop.Post(() => server.Repl.UnsetMaster());
    }

    // Set on the loop once writers are paused: only then is master_repl_offset final for the replica to reach.
    volatile bool writesPaused;

    public bool WritesPausedForFailover => writesPaused;

    public void PauseWritesForFailover(long untilUnixMs) => server.Loop.Post(() =>
    {
        server.Pause(untilUnixMs, writesOnly: true, PausePurpose.Failover);
        writesPaused = true;
        server.Cluster?.Bus.Wake();
    });

    public void UnpauseWritesForFailover()
    {
        writesPaused = false;
        server.Loop.Post(() => server.Unpause(PausePurpose.Failover));
    }
}
