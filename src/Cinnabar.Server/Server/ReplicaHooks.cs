using Cinnabar.Server.Network;
using Cinnabar.Server.Persistence;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>What the replica side of replication (Replication/ReplicationReplica.cs) needs from the rest of the server.</summary>
public sealed partial class CinnabarServer
{
    /// <summary>The repl-stream-db aux field of the last RDB loaded (-1 when absent): the master client's db after a full sync.</summary>
    public int LastRdbReplStreamDb = -1;

    /// <summary>
    /// disconnectAllBlockedClients: a master turning into a replica answers every blocked client with an error
    /// and closes it after the reply (its command can no longer be served here).
    /// </summary>
    public void DisconnectAllBlockedClients()
    {
        foreach (var c in BlockedClients.ToArray())
        {
            if ((c.Flags & ClientFlags.Blocked) == 0) continue;
            c.Flags |= ClientFlags.CloseAfterReply;
            UnblockWithError(c, "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
        }
    }

    /// <summary>CLIENT PAUSE ALL holds my master's stream too (Redis 7.0 pauses every client but replicas).</summary>
    public bool PauseIfAllPaused(Client c)
    {
        if (!IsPaused() || pauseWritesOnly) return false;
        PauseClient(c, rewind: false);
        return true;
    }

    /// <summary>Before a full sync replaces the dataset: stopAppendOnly and killRDBChild.</summary>
    public void StopPersistenceForSync()
    {
        if (aof != null && aof.State != AofState.Off) aof.Stop();
        KillBackgroundSave();
    }

    /// <summary>restartAOFAfterSYNC: with appendonly yes the AOF starts again from a rewrite of the new dataset.</summary>
    public void RestartAofAfterSync()
    {
        if (Settings.AppendOnly && Loop != null && Aof.State == AofState.Off && !Aof.Start())
            Log.Warning("Failed enabling the AOF after successful master synchronization! Trying it again in one second.");
    }

    /// <summary>
    /// expireIfNeeded on a replica: a key past its TTL is kept (only my master's DEL removes it) and shown to my
    /// master's commands, while my own clients see it as missing. A writable replica deletes it for them instead,
    /// so a write never meets a stale entry.
    /// </summary>
    public bool HideExpiredKey(Db db, int index)
    {
        var c = CurrentClient;
        if (c == null || Loading || (c.Flags & ClientFlags.Master) != 0) return false;
        if (!Repl.ReadOnlyReplica) db.ExpireAt(index);
        return true;
    }
}
