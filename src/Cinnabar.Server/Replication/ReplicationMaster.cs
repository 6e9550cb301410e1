using System.Globalization;
using System.Text;
using Cinnabar.Server.Network;

namespace Cinnabar.Server.Replication;

/// <summary>
/// The master side of replication (replication.c): the replicas attached to this server, the replication
/// stream fed to them and to the backlog (the <see cref="IPropagationSink"/> the propagator feeds), full
/// syncs through the snapshot job (to disk then sent, or diskless straight to the sockets), partial resyncs
/// from the backlog, acknowledgements, WAIT, min-replicas, and the once-a-second chores (PING into the
/// stream, keepalives, timeouts, the backlog's TTL).
/// </summary>
/// <remarks>
/// Each replica keeps its own output buffer (its client's reply buffer) instead of Redis's shared block list:
/// online replicas get the stream bytes appended directly, replicas still syncing accumulate them in
/// <see cref="ReplicaLink.Held"/>, which moves to the output once the RDB is through.
/// While no backlog exists the sink is not installed, so the command pipeline pays nothing.
/// </remarks>
public sealed class ReplicationMaster : IPropagationSink
{
    readonly CinnabarServer server;
    readonly ReplicationState repl;

    /// <summary>server.slaves.</summary>
    public readonly List<ReplicaLink> Replicas = new();
    /// <summary>server.slaveseldb: the db of the last SELECT in the stream (-1: none yet, emit one).</summary>
    public int SlaveSelDb = -1;
    public long StatSyncFull, StatSyncPartialOk, StatSyncPartialErr;
    /// <summary>server.repl_good_slaves_count.</summary>
    public int GoodReplicas;

    // Settings (CONFIG SET applies them through ApplyConfig).
    public long BacklogSize = 1 << 20;
    public long BacklogTtl = 3600;
    public bool DisklessSync = true;
    public int DisklessSyncDelay = 5;
    public int DisklessSyncMaxReplicas;
    public int PingReplicaPeriod = 10;
    public int ReplTimeout = 60;
    public int MinReplicasToWrite;
    public int MinReplicasMaxLag = 10;
    public bool DisableTcpNoDelay;
    public int ShutdownTimeout = 10;

    bool getAckFromReplicas;
    readonly List<Client> waitingAcks = new();
    long noReplicasSinceUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    long lastCronMs;
    long cronLoops;

    // The running diskless transfer.
    RdbPipe pipe;
    readonly List<ReplicaLink> targets = new();
    readonly Action pumpAction;
    byte[] fileChunk;

    const int PaceBytes = 1 << 20;          // a diskless target's unsent output above which the transfer waits for it
    const int FileChunkBytes = 256 << 10;   // a disk sync reads the RDB file this much at a time

    static readonly byte[] PingCommand = "*1\r\n$4\r\nping\r\n"u8.ToArray();
    static readonly byte[] GetAckCommand = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"u8.ToArray();
    readonly byte[][] selectCommands = new byte[16][];

    public ReplicationMaster(CinnabarServer server, ReplicationState repl)
    {
        this.server = server;
        this.repl = repl;
        pumpAction = PumpDiskless;
    }

    static long NowUnix => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    Log Log => server.Log;

    // ------------------------------------------------------------------ configuration

    /// <summary>The repl-* / min-replicas-* / shutdown-timeout directives (at startup and on CONFIG SET).</summary>
    public void ApplyConfig(string name, string v)
    {
        long L() => long.Parse(v, CultureInfo.InvariantCulture);
        switch (name)
        {
            case "repl-backlog-size":
                BacklogSize = Math.Max(16 * 1024, L());
                repl.Backlog?.Resize(BacklogSize);
                break;
            case "repl-backlog-ttl": BacklogTtl = L(); break;
            case "repl-diskless-sync": DisklessSync = v == "yes"; break;
            case "repl-diskless-sync-delay": DisklessSyncDelay = (int)L(); break;
            case "repl-diskless-sync-max-replicas": DisklessSyncMaxReplicas = (int)L(); break;
            case "repl-ping-replica-period": PingReplicaPeriod = (int)Math.Max(1, L()); break;
            case "repl-timeout": ReplTimeout = (int)L(); break;
            case "repl-disable-tcp-nodelay": DisableTcpNoDelay = v == "yes"; break;
            case "min-replicas-to-write": MinReplicasToWrite = (int)L(); RefreshGoodReplicas(); break;
            case "min-replicas-max-lag": MinReplicasMaxLag = (int)L(); RefreshGoodReplicas(); break;
            case "shutdown-timeout": ShutdownTimeout = (int)L(); break;
        }
    }

    // ------------------------------------------------------------------ the stream

    /// <summary>replicationFeedSlaves: a propagated command, preceded by SELECT when its db is not the stream's.</summary>
    public void Feed(int db, ReadOnlySpan<byte> command)
    {
        if (repl.IsReplica) return;   // a replica forwards its master's stream instead
        if (repl.Backlog == null) return;
        if (db >= 0 && db != SlaveSelDb)
        {
            FeedRaw(SelectCommand(db));
            SlaveSelDb = db;
        }
        FeedRaw(command);
    }

    byte[] SelectCommand(int db)
    {
        if (db < selectCommands.Length && selectCommands[db] != null) return selectCommands[db];
        string n = db.ToString(CultureInfo.InvariantCulture);
        var bytes = Encoding.ASCII.GetBytes($"*2\r\n$6\r\nSELECT\r\n${n.Length}\r\n{n}\r\n");
        if (db < selectCommands.Length) selectCommands[db] = bytes;
        return bytes;
    }

    /// <summary>Bytes of the stream: into the backlog (advancing master_repl_offset) and to every replica past WAIT_BGSAVE_START.</summary>
    void FeedRaw(ReadOnlySpan<byte> data)
    {
        repl.Backlog.Feed(data);
        repl.MasterReplOffset += data.Length;
        WriteToReplicas(data);
    }

    /// <summary>
    /// Stream bytes to every replica past WAIT_BGSAVE_START. A replica calls this directly with what it applied
    /// from its own master (replicationFeedStreamFromMasterStream), having fed its backlog itself.
    /// </summary>
    public void WriteToReplicas(ReadOnlySpan<byte> data)
    {
        var list = Replicas;
        for (int i = 0; i < list.Count; i++)
        {
            var r = list[i];
            if (r.State == ReplicaState.WaitBgsaveStart || r.RdbOnly) continue;
            var c = r.Client;
            if ((c.Flags & (ClientFlags.Closed | ClientFlags.CloseAsap)) != 0) continue;
            if (r.Streaming)
            {
                c.Reply.Raw(data);
                server.Loop.MarkPendingWrite(c);
            }
            else r.Held.Write(data);
            server.CheckOutputBufferLimits(c);
        }
    }

    /// <summary>createReplicationBacklog, with a new replid and no replid2: there is no history to continue.</summary>
    void CreateBacklog()
    {
        repl.ReplId = ReplicationState.NewReplId();
        repl.ClearReplicationId2();
        repl.Backlog = new ReplicationBacklog(BacklogSize, repl.MasterReplOffset);
        SyncSink();
        Log.Notice($"Replication backlog created, my new replication IDs are '{repl.ReplId}' and '{repl.ReplId2}'");
    }

    /// <summary>Installs the sink in the propagator while a backlog exists (the replica side calls this after changing it too).</summary>
    public void SyncSink()
    {
        server.Prop.Replication = repl.Backlog != null ? this : null;
        server.Prop.UpdateEnabled();
    }

    // ------------------------------------------------------------------ REPLCONF ACK, the replica list

    /// <summary>REPLCONF ACK &lt;offset&gt; from a replica.</summary>
    public void Ack(ReplicaLink r, long offset)
    {
        if (offset > r.AckOffset) r.AckOffset = offset;
        r.AckTimeUnix = NowUnix;
        // The ACK after a diskless load may come before the loop noticed the job finished.
        if (r.State == ReplicaState.WaitBgsaveEnd && r.DisklessTarget) server.CheckRdbJobDone();
        if (r.StartStreamOnAck && r.State == ReplicaState.Online) StartCommandStream(r);
    }

    /// <summary>replicaStartCommandStream: what accumulated during the sync goes out, and the stream follows.</summary>
    void StartCommandStream(ReplicaLink r)
    {
        r.StartStreamOnAck = false;
        if (r.Held.Length > 0)
        {
            r.Client.Reply.Raw(r.Held.Span);
            r.Held.Clear();
            if (r.Held.Data.Length > 64 * 1024) r.Held.Data = new byte[256];
        }
        server.Loop.MarkPendingWrite(r.Client);
    }

    /// <summary>replicationPutSlaveOnline.</summary>
    void PutOnline(ReplicaLink r)
    {
        r.State = ReplicaState.Online;
        r.AckTimeUnix = NowUnix;
        RefreshGoodReplicas();
        Log.Notice($"Synchronization with replica {r.Name} succeeded");
    }

    /// <summary>disconnectSlaves: every replica must sync again (a new replication history).</summary>
    public void DisconnectReplicas()
    {
        foreach (var r in Replicas.ToArray()) server.Loop.FreeClient(r.Client);
    }

    /// <summary>freeClient's replica part: off the list, its transfer stopped.</summary>
    public void ClientClosed(Client c)
    {
        if (waitingAcks.Count > 0) waitingAcks.Remove(c);
        var r = c.ReplicaLink;
        if (r == null || !r.IsReplica) return;
        Log.Notice($"Connection with replica {r.Name} lost.");
        r.IsReplica = false;
        Replicas.Remove(r);
        r.CloseBulkFile();
        if (r.DisklessTarget)
        {
            r.DisklessTarget = false;
            targets.Remove(r);
            if (targets.Count == 0 && server.RdbChildKind == RdbChildType.Socket)
            {
                Log.Warning("Diskless rdb transfer, last replica dropped, killing fork child.");
                server.KillBackgroundSave();
            }
        }
        if (Replicas.Count == 0) noReplicasSinceUnix = NowUnix;
        RefreshGoodReplicas();
    }

    void Drop(ReplicaLink r) => server.Loop.FreeClient(r.Client);

    /// <summary>refreshGoodSlavesCount, and the pipeline's min-replicas flag with it.</summary>
    /// <summary>A role change restarts the backlog TTL (repl_no_slaves_since): a promoted replica keeps its history.</summary>
    public void RoleChanged()
    {
        noReplicasSinceUnix = NowUnix;
        RefreshGoodReplicas();
    }

    public void RefreshGoodReplicas()
    {
        bool active = MinReplicasToWrite > 0 && MinReplicasMaxLag > 0;
        int good = 0;
        if (active)
        {
            long now = NowUnix;
            foreach (var r in Replicas)
                if (r.State == ReplicaState.Online && now - r.AckTimeUnix <= MinReplicasMaxLag) good++;
        }
        GoodReplicas = good;
        repl.DenyWritesNoReplicas = active && !repl.IsReplica && good < MinReplicasToWrite;
    }

    public bool MinReplicasActive => MinReplicasToWrite > 0 && MinReplicasMaxLag > 0;

    // ------------------------------------------------------------------ SYNC / PSYNC

    /// <summary>masterTryPartialResynchronization: +CONTINUE and the backlog from the offset, or false for a full sync.</summary>
    public bool TryPartialResync(ReplicaLink r, string replid, long offset)
    {
        bool isId1 = string.Equals(replid, repl.ReplId, StringComparison.OrdinalIgnoreCase);
        bool isId2 = string.Equals(replid, repl.ReplId2, StringComparison.OrdinalIgnoreCase);
        if (!isId1 && (!isId2 || offset > repl.SecondReplOffset))
        {
            if (replid.Length == 0 || replid[0] != '?')
            {
                if (!isId1 && !isId2)
                    Log.Notice($"Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{repl.ReplId}' and '{repl.ReplId2}')");
                else
                    Log.Notice($"Partial resynchronization not accepted: Requested offset for second ID was {offset}, but I can reply up to {repl.SecondReplOffset}");
            }
            else Log.Notice($"Full resync requested by replica {r.Name}");
            return false;
        }
        var backlog = repl.Backlog;
        if (backlog == null || !backlog.Covers(offset))
        {
            Log.Notice($"Unable to partial resync with replica {r.Name} for lack of backlog (Replica request was: {offset}).");
            if (offset > repl.MasterReplOffset)
                Log.Warning($"Warning: replica {r.Name} tried to PSYNC with an offset that is greater than the master replication offset.");
            return false;
        }
        r.IsReplica = true;
        r.State = ReplicaState.Online;
        r.AckTimeUnix = NowUnix;
        r.StartStreamOnAck = false;
        Replicas.Add(r);
        var reply = r.Client.Reply;
        reply.Raw(r.CapaPsync2 ? $"+CONTINUE {repl.ReplId}\r\n" : "+CONTINUE\r\n");
        long before = reply.Pending;
        backlog.CopyFrom(offset, span => reply.Raw(span));
        Log.Notice($"Partial resynchronization request from {r.Name} accepted. Sending {reply.Pending - before} bytes of backlog starting from offset {offset}.");
        RefreshGoodReplicas();
        return true;
    }

    /// <summary>syncCommand after the partial attempt failed: the client becomes a replica waiting for an RDB.</summary>
    public void StartFullResync(ReplicaLink r)
    {
        StatSyncFull++;
        r.State = ReplicaState.WaitBgsaveStart;
        r.WaitStartUnix = NowUnix;
        r.AckOffset = 0;
        r.Held.Clear();
        if (DisableTcpNoDelay) Native.SetIntOption(r.Client.Fd, Native.IPPROTO_TCP, Native.TCP_NODELAY, 0);
        r.IsReplica = true;
        Replicas.Add(r);
        if (Replicas.Count == 1 && repl.Backlog == null) CreateBacklog();

        var kind = server.RdbChildKind;
        if (kind == RdbChildType.Disk)
        {
            // CASE 1: a disk BGSAVE runs; usable if another replica already records the differences since it started.
            ReplicaLink other = null;
            foreach (var s in Replicas)
                if (s != r && s.State == ReplicaState.WaitBgsaveEnd && (!s.RdbOnly || r.RdbOnly)) { other = s; break; }
            if (other != null && (r.CapaEof || !other.CapaEof) && (r.CapaPsync2 || !other.CapaPsync2))
            {
                SetupForFullResync(r, other.PsyncInitialOffset);
                if (!r.RdbOnly) r.Held.Write(other.Held.Span);   // copyReplicaOutputBuffer
                Log.Notice("Waiting for end of BGSAVE for SYNC");
            }
            else Log.Notice("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC");
        }
        else if (kind == RdbChildType.Socket)
        {
            Log.Notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
        }
        else if (DisklessSync && r.CapaEof && DisklessSyncDelay > 0)
        {
            Log.Notice("Delay next BGSAVE for diskless SYNC");   // started by the cron once the delay has passed
        }
        else if (!server.ChildActive) StartBgsaveForReplication(r.CapaEof);
        else Log.Notice("No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed");
    }

    /// <summary>replicationSetupSlaveForFullResync: +FULLRESYNC with the offset the RDB matches; the stream is held from here.</summary>
    void SetupForFullResync(ReplicaLink r, long offset)
    {
        r.PsyncInitialOffset = offset;
        r.State = ReplicaState.WaitBgsaveEnd;
        r.Held.Clear();
        SlaveSelDb = -1;   // the next command is preceded by SELECT
        if (!r.PrePsync)
        {
            r.Client.Reply.Raw($"+FULLRESYNC {repl.ReplId} {offset}\r\n");
            server.Loop.MarkPendingWrite(r.Client);
        }
    }

    /// <summary>shouldStartChildReplication + replicationStartPendingFork: replicas wait and no job runs.</summary>
    void StartPendingFork()
    {
        if (server.ChildActive) return;
        int waiting = 0;
        long maxIdle = 0, now = NowUnix;
        bool mincapaEof = true;
        foreach (var r in Replicas)
        {
            if (r.State != ReplicaState.WaitBgsaveStart) continue;
            waiting++;
            maxIdle = Math.Max(maxIdle, now - r.Client.LastInteractionMs / 1000);
            mincapaEof &= r.CapaEof;
        }
        if (waiting == 0) return;
        if (!DisklessSync || (DisklessSyncMaxReplicas > 0 && waiting >= DisklessSyncMaxReplicas) || maxIdle >= DisklessSyncDelay)
            StartBgsaveForReplication(mincapaEof);
    }

    /// <summary>startBgsaveForReplication: an RDB for every replica waiting to start, to their sockets or to disk.</summary>
    void StartBgsaveForReplication(bool mincapaEof)
    {
        bool socket = DisklessSync && mincapaEof;
        Log.Notice($"Starting BGSAVE for SYNC with target: {(socket ? "replicas sockets" : "disk")}");
        bool started;
        if (socket) started = StartDisklessTransfer();
        else
        {
            server.StartBackgroundSave();
            started = server.RdbChildKind == RdbChildType.Disk;
            if (started)
                foreach (var r in Replicas)
                    if (r.State == ReplicaState.WaitBgsaveStart) SetupForFullResync(r, repl.MasterReplOffset);
        }
        if (started) return;
        Log.Warning("BGSAVE for replication failed");
        foreach (var r in Replicas.ToArray())
        {
            if (r.State != ReplicaState.WaitBgsaveStart) continue;
            Replicas.Remove(r);
            r.IsReplica = false;
            r.Client.Error("ERR BGSAVE failed, replication can't continue");
            r.Client.Flags |= ClientFlags.CloseAfterReply;
            server.Loop.MarkPendingWrite(r.Client);
        }
        if (Replicas.Count == 0) noReplicasSinceUnix = NowUnix;
    }

    // ------------------------------------------------------------------ diskless transfer

    /// <summary>rdbSaveToSlavesSockets: the RDB goes through a pipe to every waiting replica, framed by an EOF mark.</summary>
    bool StartDisklessTransfer()
    {
        string mark = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();
        var markBytes = Encoding.ASCII.GetBytes(mark);
        var p = new RdbPipe(() => server.Loop.Post(pumpAction));
        if (server.StartSocketSave(p, _ =>
            {
                p.Write(markBytes);
                p.Completed = true;
            }) != null) return false;
        pipe = p;
        foreach (var r in Replicas)
        {
            if (r.State != ReplicaState.WaitBgsaveStart) continue;
            SetupForFullResync(r, repl.MasterReplOffset);
            r.Client.Reply.Raw($"$EOF:{mark}\r\n");
            r.DisklessTarget = true;
            r.StalledSinceUnix = 0;
            targets.Add(r);
        }
        return true;
    }

    /// <summary>rdbPipeReadHandler: moves RDB chunks from the pipe to the targets while none of them lags behind.</summary>
    void PumpDiskless()
    {
        var p = pipe;
        if (p == null) return;
        while (true)
        {
            foreach (var t in targets)
            {
                if (t.Client.Reply.Pending >= PaceBytes)
                {
                    if (t.StalledSinceUnix == 0) t.StalledSinceUnix = NowUnix;
                    return;
                }
            }
            if (!p.TryTake(out var chunk, out int length)) return;
            foreach (var t in targets)
            {
                t.Client.Reply.Raw(chunk.AsSpan(0, length));
                server.Loop.MarkPendingWrite(t.Client);
            }
            p.Release(chunk, length);
        }
    }

    /// <summary>
    /// The event loop wrote all of a replica's output and asks for more: the next piece of its RDB file (disk
    /// sync) or of the diskless transfer. True when something was added.
    /// </summary>
    public bool Refill(Client c)
    {
        var r = c.ReplicaLink;
        if (r.BulkFile != null)
        {
            fileChunk ??= new byte[FileChunkBytes];
            int n = 0;
            try { n = r.BulkFile.Read(fileChunk, 0, (int)Math.Min(fileChunk.Length, r.BulkLeft)); }
            catch (IOException e)
            {
                Log.Warning($"Read error sending DB to replica: {e.Message}");
                r.CloseBulkFile();
                Drop(r);
                return false;
            }
            if (n > 0)
            {
                c.Reply.Raw(fileChunk.AsSpan(0, n));
                r.BulkLeft -= n;
            }
            if (r.BulkLeft == 0 || n == 0)
            {
                // sendBulkToSlave's end: online, and the stream accumulated since the BGSAVE started follows.
                r.CloseBulkFile();
                PutOnline(r);
                StartCommandStream(r);
            }
            return c.Reply.Pending > 0;
        }
        if (r.DisklessTarget)
        {
            r.StalledSinceUnix = 0;
            PumpDiskless();
            return c.Reply.Pending > 0;
        }
        return false;
    }

    /// <summary>The diskless job is being killed: unblock its writer, which may wait on the pipe.</summary>
    public void RdbJobKilling(RdbChildType type)
    {
        if (type == RdbChildType.Socket) pipe?.Abort();
    }

    /// <summary>updateSlavesWaitingBgsave: an RDB job ended (or was killed).</summary>
    public void RdbJobDone(bool ok, RdbChildType type)
    {
        if (type == RdbChildType.Socket)
        {
            var p = pipe;
            pipe = null;
            var list = targets.ToArray();
            targets.Clear();
            foreach (var t in list) t.DisklessTarget = false;
            if (ok && p != null)
            {
                // Everything the job wrote is in the pipe: out to whoever is still there.
                while (p.TryTake(out var chunk, out int length))
                {
                    foreach (var t in list)
                        if (t.IsReplica) t.Client.Reply.Raw(chunk.AsSpan(0, length));
                    p.Release(chunk, length);
                }
            }
            else p?.Abort();
            foreach (var t in list)
            {
                if (!t.IsReplica || t.State != ReplicaState.WaitBgsaveEnd) continue;
                if (!ok)
                {
                    Log.Warning("SYNC failed. BGSAVE child returned an error");
                    Drop(t);
                    continue;
                }
                Log.Notice($"Streamed RDB transfer with replica {t.Name} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming");
                PutOnline(t);
                t.StartStreamOnAck = true;
                server.Loop.MarkPendingWrite(t.Client);
            }
            return;
        }
        foreach (var r in Replicas.ToArray())
        {
            if (r.State != ReplicaState.WaitBgsaveEnd) continue;
            if (!ok)
            {
                Log.Warning("SYNC failed. BGSAVE child returned an error");
                Drop(r);
                continue;
            }
            try
            {
                r.BulkFile = new FileStream(server.RdbPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
                r.BulkLeft = r.BulkFile.Length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Warning($"SYNC failed. Can't open/stat DB after BGSAVE: {e.Message}");
                r.CloseBulkFile();
                Drop(r);
                continue;
            }
            r.State = ReplicaState.SendBulk;
            r.Client.Reply.Raw($"${r.BulkLeft}\r\n");
            server.Loop.MarkPendingWrite(r.Client);
        }
    }

    // ------------------------------------------------------------------ WAIT

    /// <summary>replicationCountAcksByOffset.</summary>
    public int CountAcks(long offset)
    {
        int n = 0;
        foreach (var r in Replicas)
            if (r.State == ReplicaState.Online && r.AckOffset >= offset) n++;
        return n;
    }

    /// <summary>A client blocked in WAIT; a GETACK goes to the replicas before the loop sleeps.</summary>
    public void AddWaiting(Client c)
    {
        if (!waitingAcks.Contains(c)) waitingAcks.Add(c);
        getAckFromReplicas = true;
    }

    /// <summary>beforeSleep's replication part: WAIT clients served, GETACK sent, the diskless pipe drained.</summary>
    public void BeforeSleep()
    {
        if (waitingAcks.Count > 0) ProcessClientsWaitingReplicas();
        if (getAckFromReplicas)
        {
            getAckFromReplicas = false;
            if (!server.IsPaused()) Feed(-1, GetAckCommand);
        }
        if (pipe != null) PumpDiskless();
    }

    void ProcessClientsWaitingReplicas()
    {
        for (int i = waitingAcks.Count - 1; i >= 0; i--)
        {
            var c = waitingAcks[i];
            if ((c.Flags & ClientFlags.Blocked) == 0 || (c.Flags & ClientFlags.Closed) != 0) { waitingAcks.RemoveAt(i); continue; }
            if (CountAcks(c.WaitOffset) < c.WaitReplicas) continue;
            waitingAcks.RemoveAt(i);
            server.UnblockWithTimeout(c);   // replies with the count now, as the timeout would
        }
    }

    // ------------------------------------------------------------------ shutdown

    /// <summary>isReadyToShutdown: every replica acknowledged the whole stream.</summary>
    public bool ReadyToShutdown()
    {
        foreach (var r in Replicas)
            if (r.AckOffset != repl.MasterReplOffset) return false;
        return true;
    }

    /// <summary>sendGetackToReplicas.</summary>
    public void SendGetAck() => Feed(-1, GetAckCommand);

    /// <summary>finishShutdown's report of replicas still behind, and a last attempt to send them what is pending.</summary>
    public void LogLaggingReplicasAtShutdown()
    {
        if (Replicas.Count == 0) return;
        int lagging = 0;
        long now = NowUnix;
        foreach (var r in Replicas)
        {
            if (r.AckOffset == repl.MasterReplOffset) continue;
            lagging++;
            long lag = r.State == ReplicaState.Online ? now - r.AckTimeUnix : 0;
            Log.Warning($"Lagging replica {r.Name} reported offset {repl.MasterReplOffset - r.AckOffset} behind master, lag={lag}, state={r.StateName}.");
        }
        Log.Notice($"{Replicas.Count - lagging} of {Replicas.Count} replicas are in sync when shutting down.");
        server.Loop.FlushReplicas();   // flushSlavesOutputBuffers, best effort
    }

    // ------------------------------------------------------------------ cron

    /// <summary>
    /// Called by serverCron: starts a pending RDB for waiting replicas, and once a second replicationCron's
    /// master part (PING into the stream, keepalives, timeouts, the backlog's TTL, the good replicas count).
    /// </summary>
    public void Cron()
    {
        if (Replicas.Count > 0) StartPendingFork();
        long nowMs = Environment.TickCount64;
        if (nowMs - lastCronMs < 1000) return;
        lastCronMs = nowMs;
        long now = NowUnix;

        if (!repl.IsReplica && Replicas.Count > 0 && cronLoops % PingReplicaPeriod == 0 && !server.IsPausedFor(PausePurpose.Failover))
            Feed(-1, PingCommand);

        foreach (var r in Replicas.ToArray())
        {
            var c = r.Client;
            bool waitingDiskRdb = r.State == ReplicaState.WaitBgsaveStart
                || (r.State == ReplicaState.WaitBgsaveEnd && !r.DisklessTarget);
            if (waitingDiskRdb)
            {
                c.Reply.Raw("\n"u8);
                server.Loop.MarkPendingWrite(c);
            }
            if (r.State == ReplicaState.Online && !r.PrePsync && now - r.AckTimeUnix > ReplTimeout)
            {
                Log.Warning($"Disconnecting timedout replica (streaming sync): {r.Name}");
                Drop(r);
            }
            else if (r.DisklessTarget && r.StalledSinceUnix != 0 && now - r.StalledSinceUnix > ReplTimeout)
            {
                Log.Warning($"Disconnecting timedout replica (full sync): {r.Name}");
                Drop(r);
            }
        }

        if (!repl.IsReplica && Replicas.Count == 0 && BacklogTtl > 0 && repl.Backlog != null && now - noReplicasSinceUnix > BacklogTtl)
        {
            // A new replid: the history can no longer be continued.
            repl.ReplId = ReplicationState.NewReplId();
            repl.ClearReplicationId2();
            repl.Backlog = null;
            SyncSink();
            Log.Notice($"Replication backlog freed after {BacklogTtl} seconds without connected replicas.");
        }
        RefreshGoodReplicas();
        cronLoops++;
    }

    // ------------------------------------------------------------------ INFO, ROLE

    /// <summary>INFO replication from connected_slaves on.</summary>
    public void AppendInfo(StringBuilder sb)
    {
        sb.Append("connected_slaves:").Append(Replicas.Count).Append("\r\n");
        if (MinReplicasActive) sb.Append("min_slaves_good_slaves:").Append(GoodReplicas).Append("\r\n");
        int id = 0;
        long now = NowUnix;
        foreach (var r in Replicas)
        {
            string ip = r.IpAddress ?? ReplicaLink.PeerIp(r.Client.Addr);
            if (ip == null) continue;
            long lag = r.State == ReplicaState.Online ? now - r.AckTimeUnix : 0;
            sb.Append("slave").Append(id++).Append(":ip=").Append(ip).Append(",port=").Append(r.ListeningPort)
              .Append(",state=").Append(r.StateName).Append(",offset=").Append(r.AckOffset).Append(",lag=").Append(lag).Append("\r\n");
        }
        sb.Append("master_failover_state:no-failover\r\n");
        sb.Append("master_replid:").Append(repl.ReplId).Append("\r\n");
        sb.Append("master_replid2:").Append(repl.ReplId2).Append("\r\n");
        sb.Append("master_repl_offset:").Append(repl.MasterReplOffset).Append("\r\n");
        sb.Append("second_repl_offset:").Append(repl.SecondReplOffset).Append("\r\n");
        var b = repl.Backlog;
        sb.Append("repl_backlog_active:").Append(b != null ? 1 : 0).Append("\r\n");
        sb.Append("repl_backlog_size:").Append(BacklogSize).Append("\r\n");
        sb.Append("repl_backlog_first_byte_offset:").Append(b?.FirstByteOffset ?? 0).Append("\r\n");
        sb.Append("repl_backlog_histlen:").Append(b?.HistLen ?? 0).Append("\r\n");
    }

    /// <summary>ROLE on a master: [master, offset, [[ip, port, ack offset] ...]] for online replicas.</summary>
    public void ReplyRole(Client c)
    {
        var online = Replicas.Where(r => r.State == ReplicaState.Online && (r.IpAddress ?? ReplicaLink.PeerIp(r.Client.Addr)) != null).ToList();
        c.Reply.ArrayHeader(3);
        c.Reply.Bulk("master"u8);
        c.Reply.Integer(repl.MasterReplOffset);
        c.Reply.ArrayHeader(online.Count);
        foreach (var r in online)
        {
            c.Reply.ArrayHeader(3);
            c.Reply.Bulk(r.IpAddress ?? ReplicaLink.PeerIp(r.Client.Addr));
            c.Reply.Bulk(r.ListeningPort.ToString(CultureInfo.InvariantCulture));
            c.Reply.Bulk(r.AckOffset.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Memory held for replicas (mem_clients_slaves): their output and held stream.</summary>
    public long ReplicaBuffersBytes()
    {
        long sum = 0;
        foreach (var r in Replicas) sum += r.Held.Data.Length + (r.Client.Reply.Buffer?.Length ?? 0);
        return sum;
    }
}
