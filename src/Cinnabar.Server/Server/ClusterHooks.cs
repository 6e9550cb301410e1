using Cinnabar.Server.Cluster;

namespace Cinnabar.Server;

/// <summary>Where the server meets the cluster subsystem: startup, and the keyspace work the bus posts to the loop.</summary>
public sealed partial class CinnabarServer
{
    /// <summary>The cluster state when cluster-enabled is yes, else null. The command path reads <c>Cluster.View</c>.</summary>
    public ClusterState Cluster;

    /// <summary>clusterInit: nodes.conf locked and loaded (or created), the bus port bound, the bus thread started.</summary>
    bool StartCluster()
    {
        if (Settings.ClusterPort == 0 && Settings.Port > 65535 - 10000)
        {
            Log.Warning("Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.");
            return false;
        }
        var state = new ClusterState(this, new ClusterReplication(this));
        state.Bus = new ClusterBus(state, Log);
        if (!state.Init()) return false;
        if (!ListenOnBindAddresses(state.Bus.Listen, state.BusPort, "cluster")) return false;
        Cluster = state;
        state.Bus.Start();
        return true;
    }

    /// <summary>
    /// verifyClusterConfigWithData, after the dataset is loaded: keys only in db 0, and every slot holding keys is
    /// mine or importing (an unassigned one is taken, another node's one is set importing).
    /// </summary>
    bool VerifyClusterConfigWithData()
    {
        for (int j = 1; j < Dbs.Length; j++)
        {
            if (Dbs[j].Count == 0) continue;
            Log.Warning("You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.");
            return false;
        }
        var populated = new bool[ClusterView.SlotCount];
        var table = Dbs[0].Table;
        for (int slot = 0; slot < populated.Length; slot++) populated[slot] = table.CountInSlot(slot) > 0;
        lock (Cluster.Sync) Cluster.VerifyConfigWithData(populated);
        return true;
    }

    /// <summary>delKeysInSlot: drops the keys of a slot this node lost (each propagated as a DEL).</summary>
    public void ClusterDeleteKeysInSlot(int slot)
    {
        // The bus thread decided this and posted it; Redis deletes at the moment of the decision, here the loop runs
        // it later. If the slot is ours again by now, or being imported (a reshard moving it back), its keys are
        // live data that arrived since: keep them.
        if (Cluster != null)
            lock (Cluster.Sync)
                if (Cluster.SlotOwner[slot] == Cluster.Myself || Cluster.ImportingFrom[slot] != null) return;
        var db = Dbs[0];
        if (db.Table.CountInSlot(slot) > 0) Log.Notice($"Deleting the {db.Table.CountInSlot(slot)} keys of slot {slot}, which this node lost");
        var doomed = db.Table.EntriesInSlot(slot).Select(i => db.Table.At(i).Key).ToArray();
        foreach (var key in doomed)
        {
            if (!db.Delete(key)) continue;
            if (Prop.Enabled) Prop.AlsoDelete(0, key, Settings.LazyfreeLazyServerDel);
            Notify(Cinnabar.Server.Config.KeyspaceEvents.Generic, "del", key, 0);
            KeyModified(db, key);
            Dirty();
        }
        if (Prop.Enabled) Prop.PropagatePending(noMulti: true);
    }

    /// <summary>countKeysInSlot (db 0), from the per-slot key index.</summary>
    public long ClusterCountKeysInSlot(int slot) => Dbs[0].Table.CountInSlot(slot);

    /// <summary>emptyData after CLUSTER RESET of a replica.</summary>
    public void ClusterFlushAll()
    {
        foreach (var db in Dbs) db.Clear();
    }

    /// <summary>PUBLISH / SPUBLISH in cluster mode also go to the other nodes over the bus.</summary>
    public void ClusterPropagatePublish(ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message, bool shard)
    {
        var state = Cluster;
        if (state == null) return;
        lock (state.Sync) state.PropagatePublish(channel, message, shard);
        state.Bus.Wake();
    }

    /// <summary>INFO clients' cluster_connections: getClusterConnectionsCount, two descriptors per known peer.</summary>
    public int ClusterConnections()
    {
        var state = Cluster;
        if (state == null) return 0;
        lock (state.Sync) return (state.Nodes.Count - 1) * 2;
    }
}
