using System.Globalization;
using System.Text;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Replication;

/// <summary>server.repl_state: where the replica is on its way to a working link with its master.</summary>
public enum ReplState
{
    None, Connect, Connecting,
    ReceivePingReply, SendHandshake, ReceiveAuthReply, ReceivePortReply, ReceiveIpReply, ReceiveCapaReply,
    SendPsync, ReceivePsyncReply,
    Transfer, Connected,
}

/// <summary>
/// The replica side of Redis 7.0 replication (replication.c: connectWithMaster, syncWithMaster,
/// slaveTryPartialResynchronization, readSyncBulkPayload, replicationCreateMasterClient, replicationCacheMaster,
/// replicationCron's replica half). Everything runs on the event loop: the link is a non-blocking socket whose
/// handshake replies and RDB payload are read as they arrive; once synchronized the socket becomes the master
/// client, whose stream is parsed from its receive buffer like any client's (<see cref="ProcessMasterInput"/>).
/// </summary>
public sealed partial class ReplicationState
{
    const int RunIdSize = 40;
    const int SyncIoTimeoutMs = 5000;     // CONFIG_REPL_SYNCIO_TIMEOUT

    public ReplState State = ReplState.None;

    /// <summary>server.master: the client that runs my master's stream, null when the link is not up.</summary>
    public Client MasterClient;

    /// <summary>server.cached_master: what a PSYNC continues from (the master that went away, or my own history).</summary>
    sealed class CachedMaster
    {
        public string ReplId;
        public long ReplOff, ReadReplOff;
        public int Db;
    }
    CachedMaster cached;

    /// <summary>server.repl_down_since (unix seconds, 0 = the link never went down since I became a replica).</summary>
    public long DownSinceUnix;

    // The master client's offsets (c->reploff, c->read_reploff) and replid; kept here since there is one master.
    long masterReplOff, masterReadReplOff;
    string masterClientReplId;
    bool masterPrePsync;            // CLIENT_PRE_PSYNC: synchronized with SYNC, so no ACKs
    bool masterProtocolError;       // not cached when freed

    // server.master_replid / master_initial_offset as the PSYNC reply set them.
    string pendingMasterReplId = NullReplId;
    long masterInitialOffset = -1;

    // The link while connecting, in the handshake and during the transfer (repl_transfer_s).
    int linkFd = -1;
    long transferLastIoUnix;
    byte[] hsBuf = new byte[4096];
    int hsLen;
    long partialLineSinceMs;        // a reply line started arriving but is not complete yet

    // The RDB transfer.
    FileStream transferFile;
    string transferTmpPath;
    long transferSize = -1, transferRead;
    bool useMark;
    readonly byte[] eofMark = new byte[RunIdSize];
    readonly byte[] lastBytes = new byte[RunIdSize];
    byte[] ioBuf;
    long lastNewlineToMasterMs;
    long nextCronMs;

    // Settings the hot path reads (kept in sync by ConfigTable.Apply).
    public bool ReadOnlyReplica = true;          // replica-read-only
    public bool ServeStaleData = true;           // replica-serve-stale-data
    public bool IgnoreMaxmemory = true;          // replica-ignore-maxmemory
    public int ReplTimeoutSeconds => Master.ReplTimeout;   // repl-timeout, one setting for both sides

    // ------------------------------------------------------------------ the getters the cluster uses

    /// <summary>The link with my master is up (repl_state == REPL_STATE_CONNECTED).</summary>
    public bool LinkUp => State == ReplState.Connected;

    /// <summary>server.repl_down_since.</summary>
    public long LinkDownSinceUnix => DownSinceUnix;

    /// <summary>When my master last sent anything (master->lastinteraction, ms), -1 without a master client.</summary>
    public long MasterLastInteractionMs => MasterClient?.LastInteractionMs ?? -1;

    /// <summary>replicationGetSlaveOffset: the master stream bytes I processed (0 when unknown).</summary>
    public long ProcessedOffset
    {
        get
        {
            long offset = 0;
            if (MasterHost != null)
            {
                if (MasterClient != null) offset = masterReplOff;
                else if (cached != null) offset = cached.ReplOff;
            }
            return Math.Max(0, offset);
        }
    }

    /// <summary>A write from this client is refused with READONLY (a read-only replica; my master is obeyed).</summary>
    public bool DeniesWritesFrom(Client c) => MasterHost != null && ReadOnlyReplica && (c == null || (c.Flags & ClientFlags.Master) == 0);

    /// <summary>The link is down and replica-serve-stale-data is no: commands without the stale flag get MASTERDOWN.</summary>
    public bool RunningStale => MasterHost != null && State != ReplState.Connected && !ServeStaleData;

    public const string ReadOnlyError = "READONLY You can't write against a read only replica.";
    public const string MasterDownError = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

    // ------------------------------------------------------------------ hooks the master side implements

    /// <summary>replicationFeedStreamFromMasterStream's second half: the applied bytes go to my own replicas too.</summary>
    partial void FeedSubReplicas(ReadOnlySpan<byte> data);

    /// <summary>disconnectSlaves: my replicas must PSYNC again (new replication history).</summary>
    partial void DisconnectSubReplicas();

    /// <summary>server.slaveseldb = -1: the next command I propagate as a master starts with SELECT.</summary>
    partial void ForceSelectOnNextWrite();

    // ------------------------------------------------------------------ role changes

    /// <summary>
    /// replicationSetMaster: become (or stay) a replica of host:port and start connecting. A former master first
    /// builds a cached master from its own replid and offset so it can ask the new master for a partial resync.
    /// </summary>
    public void SetMaster(string host, int port)
    {
        bool wasMaster = MasterHost == null;
        MasterHost = null;
        if (MasterClient != null) server.Loop.FreeClient(MasterClient);
        server.DisconnectAllBlockedClients();
        MasterHost = host;
        MasterPort = port;
        ApplyRole();
        CancelHandshake(false);
        if (wasMaster)
        {
            DiscardCachedMaster();
            CacheMasterUsingMyself();
        }
        State = ReplState.Connect;
        Master.RoleChanged();
        server.Log.Notice($"Connecting to MASTER {MasterHost}:{MasterPort}");
        ConnectWithMaster();
    }

    /// <summary>
    /// replicationUnsetMaster: become a master. The history I had stays valid for PSYNC as replid2 up to my
    /// offset, under a new replid; my replicas reconnect; my next propagated write starts with SELECT.
    /// </summary>
    public void UnsetMaster()
    {
        if (MasterHost == null) return;
        MasterHost = null;
        ApplyRole();
        if (MasterClient != null) server.Loop.FreeClient(MasterClient);
        DiscardCachedMaster();
        CancelHandshake(false);
        ShiftReplicationId();
        DisconnectSubReplicas();
        State = ReplState.None;
        ForceSelectOnNextWrite();
        Master.RoleChanged();
        DownSinceUnix = 0;
        server.RestartAofAfterSync();
    }

    /// <summary>The replicaof directive at startup: the cron connects once the loop runs.</summary>
    public void ConfigureFromDirective(string host, int port)
    {
        MasterHost = host;
        MasterPort = port;
        State = host == null ? ReplState.None : ReplState.Connect;
    }

    /// <summary>What follows from the role: the log's role letter, expiry left to the master, CONFIG GET replicaof.</summary>
    public void ApplyRole()
    {
        bool replica = MasterHost != null;
        server.Log.Role = replica ? 'S' : 'M';
        if (server.Dbs != null)
            foreach (var db in server.Dbs)
            {
                db.ExpiryEnabled = !replica;
                db.HideExpired = replica;
            }
        var d = server.Config?.Find("replicaof");
        if (d != null) d.Value = replica ? $"{MasterHost} {MasterPort}" : "";
    }

    void CacheMasterUsingMyself()
    {
        masterInitialOffset = MasterReplOffset;
        cached = new CachedMaster { ReplId = ReplId, ReplOff = MasterReplOffset, ReadReplOff = MasterReplOffset, Db = -1 };
        server.Log.Notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
    }

    void DiscardCachedMaster()
    {
        if (cached == null) return;
        server.Log.Notice("Discarding previously cached master state.");
        cached = null;
    }

    // ------------------------------------------------------------------ connecting

    unsafe void ConnectWithMaster()
    {
        byte* sa = stackalloc byte[28];
        int len = Native.MakeSockaddr(MasterHost, MasterPort, sa);
        if (len == 0)
        {
            try
            {
                var addrs = System.Net.Dns.GetHostAddresses(MasterHost);
                var pick = addrs.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addrs.FirstOrDefault();
                if (pick != null) len = Native.MakeSockaddr(pick.ToString(), MasterPort, sa);
            }
            catch (System.Net.Sockets.SocketException) { }
            if (len == 0)
            {
                server.Log.Warning($"Unable to connect to MASTER: Name or service not known");
                return;
            }
        }
        int fd = Native.socket(len == 16 ? Native.AF_INET : Native.AF_INET6, Native.SOCK_STREAM | Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            server.Log.Warning($"Unable to connect to MASTER: {EventLoop.ErrnoText(Native.Errno)}");
            return;
        }
        if (Native.connect(fd, sa, len) < 0 && Native.Errno != Native.EINPROGRESS)
        {
            int err = Native.Errno;
            Native.close(fd);
            server.Log.Warning($"Unable to connect to MASTER: {EventLoop.ErrnoText(err)}");
            return;
        }
        linkFd = fd;
        hsLen = 0;
        partialLineSinceMs = 0;
        transferLastIoUnix = NowUnix;
        server.Loop.SetFileEvent(fd, Native.EPOLLIN | Native.EPOLLOUT, OnLinkEvent);
        State = ReplState.Connecting;
        server.Log.Notice("MASTER <-> REPLICA sync started");
    }

    /// <summary>undoConnectWithMaster.</summary>
    void UndoConnect()
    {
        if (linkFd < 0) return;
        server.Loop.RemoveFileEvent(linkFd);
        Native.close(linkFd);
        linkFd = -1;
        hsLen = 0;
        partialLineSinceMs = 0;
    }

    /// <summary>replicationAbortSyncTransfer.</summary>
    void AbortSyncTransfer()
    {
        UndoConnect();
        CloseTransferFile(delete: true);
    }

    void CloseTransferFile(bool delete)
    {
        transferFile?.Dispose();
        transferFile = null;
        if (delete && transferTmpPath != null)
        {
            try { File.Delete(transferTmpPath); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        transferTmpPath = null;
    }

    /// <summary>cancelReplicationHandshake: drops a connection attempt or transfer in progress; true if there was one.</summary>
    bool CancelHandshake(bool reconnect)
    {
        if (State == ReplState.Transfer)
        {
            AbortSyncTransfer();
            State = ReplState.Connect;
        }
        else if (State == ReplState.Connecting || InHandshake)
        {
            UndoConnect();
            State = ReplState.Connect;
        }
        else return false;
        if (!reconnect) return true;
        server.Log.Notice($"Reconnecting to MASTER {MasterHost}:{MasterPort} after failure");
        ConnectWithMaster();
        return true;
    }

    bool InHandshake => State >= ReplState.ReceivePingReply && State <= ReplState.ReceivePsyncReply;

    /// <summary>The error path of syncWithMaster: the attempt is dropped and the cron tries again.</summary>
    void HandshakeFailed()
    {
        if (State == ReplState.Transfer) AbortSyncTransfer();
        else UndoConnect();
        CloseTransferFile(delete: true);
        State = ReplState.Connect;
    }

    static long NowUnix => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    // ------------------------------------------------------------------ the handshake (syncWithMaster)

    unsafe void OnLinkEvent(uint flags)
    {
        if (MasterHost == null || State == ReplState.None)
        {
            UndoConnect();
            return;
        }
        if (State == ReplState.Connecting)
        {
            int err = 0, len = sizeof(int);
            Native.getsockopt(linkFd, Native.SOL_SOCKET, Native.SO_ERROR, &err, &len);
            if (err != 0)
            {
                server.Log.Warning($"Error condition on socket for SYNC: {EventLoop.ErrnoText(err)}");
                HandshakeFailed();
                return;
            }
            if ((flags & Native.EPOLLOUT) == 0 && (flags & (Native.EPOLLERR | Native.EPOLLHUP)) == 0) return;
            server.Log.Notice("Non blocking connect for SYNC fired the event.");
            server.Loop.SetFileEvent(linkFd, Native.EPOLLIN, OnLinkEvent);
            State = ReplState.ReceivePingReply;
            if (!SendCommand(out string werr, "PING"))
            {
                server.Log.Warning($"Sending command to master in replication handshake: {werr}");
                HandshakeFailed();
            }
            return;
        }
        if (State == ReplState.Transfer)
        {
            ReadTransfer();
            return;
        }
        if (!InHandshake) return;
        // Read what arrived, then act on every complete reply line.
        if (hsBuf.Length - hsLen < 1024) Array.Resize(ref hsBuf, hsBuf.Length * 2);
        nint n;
        fixed (byte* p = &hsBuf[hsLen]) n = Native.read(linkFd, p, hsBuf.Length - hsLen);
        if (n < 0)
        {
            int err = Native.Errno;
            if (err == Native.EAGAIN || err == Native.EINTR) return;
            server.Log.Warning("Master did not respond to command during SYNC handshake");
            HandshakeFailed();
            return;
        }
        if (n == 0)
        {
            server.Log.Warning("Master did not respond to command during SYNC handshake");
            HandshakeFailed();
            return;
        }
        hsLen += (int)n;
        transferLastIoUnix = NowUnix;
        server.Stats.NetInputBytes += n;
        ProcessHandshakeLines();
    }

    /// <summary>Takes one "\n"-terminated line out of the handshake buffer ("\r" stripped), or null.</summary>
    string TakeLine()
    {
        int nl = Array.IndexOf(hsBuf, (byte)'\n', 0, hsLen);
        if (nl < 0)
        {
            if (hsLen > 0 && partialLineSinceMs == 0) partialLineSinceMs = Environment.TickCount64;
            return null;
        }
        int end = nl > 0 && hsBuf[nl - 1] == '\r' ? nl - 1 : nl;
        string line = Encoding.Latin1.GetString(hsBuf, 0, end);
        Consume(nl + 1);
        return line;
    }

    void Consume(int count)
    {
        Buffer.BlockCopy(hsBuf, count, hsBuf, 0, hsLen - count);
        hsLen -= count;
        partialLineSinceMs = 0;
    }

    void ProcessHandshakeLines()
    {
        while (InHandshake)
        {
            string line = TakeLine();
            if (line == null) return;
            switch (State)
            {
                case ReplState.ReceivePingReply:
                    if (line.StartsWith('-') && !line.StartsWith("-NOAUTH", StringComparison.Ordinal)
                        && !line.StartsWith("-NOPERM", StringComparison.Ordinal) && !line.StartsWith("-ERR operation not permitted", StringComparison.Ordinal))
                    {
                        server.Log.Warning($"Error reply to PING from master: '{line}'");
                        HandshakeFailed();
                        return;
                    }
                    server.Log.Notice("Master replied to PING, replication can continue...");
                    State = ReplState.SendHandshake;
                    if (!SendHandshake()) return;
                    break;
                case ReplState.ReceiveAuthReply:
                    if (line.StartsWith('-'))
                    {
                        server.Log.Warning($"Unable to AUTH to MASTER: {line}");
                        HandshakeFailed();
                        return;
                    }
                    State = ReplState.ReceivePortReply;
                    break;
                case ReplState.ReceivePortReply:
                    if (line.StartsWith('-')) server.Log.Notice($"(Non critical) Master does not understand REPLCONF listening-port: {line}");
                    State = AnnounceIp.Length > 0 ? ReplState.ReceiveIpReply : ReplState.ReceiveCapaReply;
                    break;
                case ReplState.ReceiveIpReply:
                    if (line.StartsWith('-')) server.Log.Notice($"(Non critical) Master does not understand REPLCONF ip-address: {line}");
                    State = ReplState.ReceiveCapaReply;
                    break;
                case ReplState.ReceiveCapaReply:
                    if (line.StartsWith('-')) server.Log.Notice($"(Non critical) Master does not understand REPLCONF capa: {line}");
                    State = ReplState.SendPsync;
                    if (!SendPsync()) return;
                    State = ReplState.ReceivePsyncReply;
                    break;
                case ReplState.ReceivePsyncReply:
                    if (line.Length == 0)
                    {
                        transferLastIoUnix = NowUnix;    // a keepalive newline before the reply
                        break;
                    }
                    HandlePsyncReply(line);
                    return;
            }
        }
    }

    string AnnounceIp => server.Config.GetValue("replica-announce-ip") ?? "";

    bool SendHandshake()
    {
        var cmds = new List<string[]>();
        string auth = server.Config.GetValue("masterauth") ?? "";
        string user = server.Config.GetValue("masteruser") ?? "";
        if (auth.Length > 0) cmds.Add(user.Length > 0 ? new[] { "AUTH", user, auth } : new[] { "AUTH", auth });
        int announcePort = int.TryParse(server.Config.GetValue("replica-announce-port"), out int ap) ? ap : 0;
        int port = announcePort != 0 ? announcePort : server.Settings.Port;
        cmds.Add(new[] { "REPLCONF", "listening-port", port.ToString(CultureInfo.InvariantCulture) });
        if (AnnounceIp.Length > 0) cmds.Add(new[] { "REPLCONF", "ip-address", AnnounceIp });
        cmds.Add(new[] { "REPLCONF", "capa", "eof", "capa", "psync2" });
        if (!SendCommands(out string err, cmds.ToArray()))
        {
            server.Log.Warning($"Sending command to master in replication handshake: {err}");
            HandshakeFailed();
            return false;
        }
        State = auth.Length > 0 ? ReplState.ReceiveAuthReply : ReplState.ReceivePortReply;
        return true;
    }

    /// <summary>slaveTryPartialResynchronization, the write half.</summary>
    bool SendPsync()
    {
        string replid = "?", offset = "-1";
        masterInitialOffset = -1;
        if (cached != null)
        {
            replid = cached.ReplId;
            offset = (cached.ReplOff + 1).ToString(CultureInfo.InvariantCulture);
            server.Log.Notice($"Trying a partial resynchronization (request {replid}:{offset}).");
        }
        else server.Log.Notice("Partial resynchronization not possible (no cached master)");
        if (!SendCommand(out string err, "PSYNC", replid, offset))
        {
            server.Log.Warning($"Unable to send PSYNC to master: {err}");
            server.Log.Warning("Sending command to master in replication handshake: Write error sending the PSYNC command.");
            HandshakeFailed();
            return false;
        }
        return true;
    }

    /// <summary>slaveTryPartialResynchronization, the read half, and what syncWithMaster does with its result.</summary>
    void HandlePsyncReply(string reply)
    {
        if (reply.StartsWith("+FULLRESYNC", StringComparison.Ordinal))
        {
            var parts = reply.Split(' ');
            if (parts.Length < 3 || parts[1].Length != RunIdSize)
            {
                server.Log.Warning("Master replied with wrong +FULLRESYNC syntax.");
                pendingMasterReplId = NullReplId;
            }
            else
            {
                pendingMasterReplId = parts[1];
                long.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out masterInitialOffset);
                server.Log.Notice($"Full resync from master: {pendingMasterReplId}:{masterInitialOffset}");
            }
            BeginTransfer();
            return;
        }
        if (reply.StartsWith("+CONTINUE", StringComparison.Ordinal))
        {
            server.Log.Notice("Successful partial resynchronization with master.");
            string id = reply.Length > 10 ? reply[10..].Trim() : "";
            if (id.Length == RunIdSize && id != cached.ReplId)
            {
                server.Log.Warning($"Master replication ID changed to {id}");
                ReplId2 = cached.ReplId;
                SecondReplOffset = MasterReplOffset + 1;
                ReplId = id;
                cached.ReplId = id;
                DisconnectSubReplicas();
            }
            ResurrectCachedMaster();
            server.Log.Notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
            return;
        }
        if (reply.StartsWith("-NOMASTERLINK", StringComparison.Ordinal) || reply.StartsWith("-LOADING", StringComparison.Ordinal))
        {
            server.Log.Notice($"Master is currently unable to PSYNC but should be in the future: {reply}");
            HandshakeFailed();
            return;
        }
        if (reply.StartsWith("-ERR", StringComparison.Ordinal))
            server.Log.Notice($"Master does not support PSYNC or is in error state (reply: {reply})");
        else
            server.Log.Warning($"Unexpected reply to PSYNC from master: {reply}");
        DiscardCachedMaster();
        server.Log.Notice("Retrying with SYNC...");
        if (!SyncWrite("SYNC\r\n"u8, out string err))
        {
            server.Log.Warning($"I/O error writing to MASTER: {err}");
            HandshakeFailed();
            return;
        }
        masterInitialOffset = -1;
        BeginTransfer();
    }

    bool SendCommand(out string err, params string[] args) => SendCommands(out err, args);

    bool SendCommands(out string err, params string[][] commands)
    {
        var sb = new StringBuilder();
        foreach (var args in commands)
        {
            sb.Append('*').Append(args.Length).Append("\r\n");
            foreach (var a in args) sb.Append('$').Append(Encoding.Latin1.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        }
        return SyncWrite(Encoding.Latin1.GetBytes(sb.ToString()), out err);
    }

    /// <summary>connSyncWrite: writes everything, waiting for the socket at most 5 seconds.</summary>
    unsafe bool SyncWrite(ReadOnlySpan<byte> data, out string err)
    {
        err = null;
        long deadline = Environment.TickCount64 + SyncIoTimeoutMs;
        int off = 0;
        fixed (byte* p = data)
        {
            while (off < data.Length)
            {
                nint n = Native.send(linkFd, p + off, data.Length - off, Native.MSG_NOSIGNAL);
                if (n > 0)
                {
                    off += (int)n;
                    server.Stats.NetOutputBytes += n;
                    continue;
                }
                int e = Native.Errno;
                if (n < 0 && e == Native.EINTR) continue;
                if (n < 0 && e != Native.EAGAIN)
                {
                    err = EventLoop.ErrnoText(e);
                    return false;
                }
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    err = "Connection timed out";
                    return false;
                }
                var pfd = new Native.PollFd { Fd = linkFd, Events = Native.POLLOUT };
                Native.poll(&pfd, 1, (int)left);
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ the RDB transfer (readSyncBulkPayload)

    void BeginTransfer()
    {
        string dir = server.Settings.Dir;
        CloseTransferFile(delete: true);
        for (int attempt = 0; attempt < 5 && transferFile == null; attempt++)
        {
            string name = $"temp-{NowUnix}.{Environment.ProcessId}.rdb";
            try
            {
                transferTmpPath = Path.Combine(dir, name);
                transferFile = new FileStream(transferTmpPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                transferTmpPath = null;
                if (attempt == 4)
                {
                    server.Log.Warning($"Opening the temp file needed for MASTER <-> REPLICA synchronization: {e.Message}");
                    HandshakeFailed();
                    return;
                }
            }
        }
        State = ReplState.Transfer;
        transferSize = -1;
        transferRead = 0;
        useMark = false;
        transferLastIoUnix = NowUnix;
        if (hsLen > 0) TransferFromBuffer();
    }

    /// <summary>The transfer's data that arrived with the PSYNC reply (read into the handshake buffer).</summary>
    void TransferFromBuffer()
    {
        while (State == ReplState.Transfer && hsLen > 0)
        {
            if (transferSize == -1)
            {
                string line = TakeLine();
                if (line == null) return;
                if (!BulkHeader(line)) return;
                continue;
            }
            int take = hsLen;
            if (!useMark) take = (int)Math.Min(take, transferSize - transferRead);
            var chunk = hsBuf.AsSpan(0, take).ToArray();
            Consume(take);
            if (!TransferChunk(chunk)) return;
        }
    }

    /// <summary>The "$len" or "$EOF:mark" line; false when the attempt was dropped.</summary>
    bool BulkHeader(string line)
    {
        if (line.StartsWith('-'))
        {
            server.Log.Warning($"MASTER aborted replication with an error: {line[1..]}");
            CancelHandshake(true);
            return false;
        }
        if (line.Length == 0)
        {
            transferLastIoUnix = NowUnix;
            return true;
        }
        if (line[0] != '$')
        {
            server.Log.Warning($"Bad protocol from MASTER, the first byte is not '$' (we received '{line}'), are you sure the host and port are right?");
            CancelHandshake(true);
            return false;
        }
        if (line.StartsWith("$EOF:", StringComparison.Ordinal) && line.Length - 5 >= RunIdSize)
        {
            useMark = true;
            Encoding.Latin1.GetBytes(line.AsSpan(5, RunIdSize), eofMark);
            Array.Clear(lastBytes);
            transferSize = 0;
            server.Log.Notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk");
        }
        else
        {
            useMark = false;
            long.TryParse(line.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out transferSize);
            server.Log.Notice($"MASTER <-> REPLICA sync: receiving {transferSize} bytes from master to disk");
        }
        return true;
    }

    unsafe void ReadTransfer()
    {
        if (transferSize == -1)
        {
            if (hsBuf.Length - hsLen < 1024) Array.Resize(ref hsBuf, hsBuf.Length * 2);
            nint r;
            fixed (byte* p = &hsBuf[hsLen]) r = Native.read(linkFd, p, hsBuf.Length - hsLen);
            if (r <= 0)
            {
                if (r < 0 && (Native.Errno == Native.EAGAIN || Native.Errno == Native.EINTR)) return;
                server.Log.Warning($"I/O error reading bulk count from MASTER: {(r == 0 ? "connection lost" : EventLoop.ErrnoText(Native.Errno))}");
                CancelHandshake(true);
                return;
            }
            hsLen += (int)r;
            server.Stats.NetInputBytes += r;
            TransferFromBuffer();
            return;
        }
        ioBuf ??= new byte[64 * 1024];
        int want = ioBuf.Length;
        if (!useMark) want = (int)Math.Min(want, transferSize - transferRead);
        if (want <= 0) return;
        nint n;
        fixed (byte* p = ioBuf) n = Native.read(linkFd, p, want);
        if (n <= 0)
        {
            if (n < 0 && (Native.Errno == Native.EAGAIN || Native.Errno == Native.EINTR)) return;
            server.Log.Warning($"I/O error trying to sync with MASTER: {(n == 0 ? "connection lost" : EventLoop.ErrnoText(Native.Errno))}");
            CancelHandshake(true);
            return;
        }
        server.Stats.NetInputBytes += n;
        TransferChunk(ioBuf.AsSpan(0, (int)n));
    }

    /// <summary>Writes RDB bytes to the temp file and finishes the sync at the end; false when the attempt ended.</summary>
    bool TransferChunk(ReadOnlySpan<byte> data)
    {
        bool eof = false;
        if (useMark)
        {
            if (data.Length >= RunIdSize) data[^RunIdSize..].CopyTo(lastBytes);
            else
            {
                int rem = RunIdSize - data.Length;
                Buffer.BlockCopy(lastBytes, data.Length, lastBytes, 0, rem);
                data.CopyTo(lastBytes.AsSpan(rem));
            }
            eof = lastBytes.AsSpan().SequenceEqual(eofMark);
        }
        transferLastIoUnix = NowUnix;
        try
        {
            transferFile.Write(data);
        }
        catch (IOException e)
        {
            server.Log.Warning($"Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {e.Message}");
            CancelHandshake(true);
            return false;
        }
        transferRead += data.Length;
        if (useMark && eof)
        {
            try
            {
                transferFile.SetLength(transferRead - RunIdSize);
            }
            catch (IOException e)
            {
                server.Log.Warning($"Error truncating the RDB file received from the master for SYNC: {e.Message}");
                CancelHandshake(true);
                return false;
            }
        }
        if (!useMark && transferRead == transferSize) eof = true;
        if (!eof) return true;
        FinishFullSync();
        return false;
    }

    /// <summary>The end of readSyncBulkPayload: flush, load the received file, and start serving the stream.</summary>
    void FinishFullSync()
    {
        server.StopPersistenceForSync();
        // replicationAttachToNewMaster: the history changes, so no PSYNC from my cached master or my replicas.
        DiscardCachedMaster();
        DisconnectSubReplicas();
        Backlog = null;
        server.Log.Notice("MASTER <-> REPLICA sync: Flushing old data");
        server.EmptyDataForReload();
        // Loading serves other clients meanwhile; the link must not be read until the master client exists.
        server.Loop.RemoveFileEvent(linkFd);
        server.Log.Notice("MASTER <-> REPLICA sync: Loading DB in memory");
        string tmp = transferTmpPath;
        try
        {
            transferFile.Flush(flushToDisk: true);
        }
        catch (IOException e)
        {
            server.Log.Warning($"Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {e.Message}");
            CancelHandshake(true);
            return;
        }
        transferFile.Dispose();
        transferFile = null;
        string final = server.RdbPath;
        try
        {
            File.Move(tmp, final, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            server.Log.Warning($"Failed trying to rename the temp DB into {Path.GetFileName(final)} in MASTER <-> REPLICA synchronization: {e.Message}");
            CancelHandshake(true);
            return;
        }
        transferTmpPath = null;
        lastNewlineToMasterMs = 0;
        server.LastRdbReplStreamDb = -1;
        if (server.LoadRdb(final, false, out _) != CinnabarServer.RdbLoadResult.Ok)
        {
            server.Log.Warning("Failed trying to load the MASTER synchronization DB from disk, check server logs.");
            CancelHandshake(true);
            return;
        }
        if (MasterHost == null || linkFd < 0) return;     // given up meanwhile
        CreateMasterClient(pendingMasterReplId, masterInitialOffset, server.LastRdbReplStreamDb);
        State = ReplState.Connected;
        DownSinceUnix = 0;
        ReplId = pendingMasterReplId;
        MasterReplOffset = masterReplOff;
        ClearReplicationId2();
        Backlog ??= new ReplicationBacklog(BacklogSizeSetting, MasterReplOffset);
        Master.SyncSink();
        server.Log.Notice("MASTER <-> REPLICA sync: Finished with success");
        if (useMark) SendAck();
        server.RestartAofAfterSync();
        StartMasterClient();
    }

    long BacklogSizeSetting => Master.BacklogSize;

    /// <summary>rdbLoadProgressCallback's replicationSendNewlineToMaster: at most once a second while loading.</summary>
    public unsafe void LoadingProgress()
    {
        if (MasterHost == null || State != ReplState.Transfer || linkFd < 0) return;
        long now = Environment.TickCount64;
        if (now - lastNewlineToMasterMs < 1000) return;
        lastNewlineToMasterMs = now;
        byte nl = (byte)'\n';
        Native.send(linkFd, &nl, 1, Native.MSG_NOSIGNAL);
    }

    // ------------------------------------------------------------------ the master client

    unsafe void CreateMasterClient(string replid, long offset, int dbId)
    {
        byte* sa = stackalloc byte[128];
        int len = 128;
        Native.getpeername(linkFd, sa, &len);
        string addr = Native.FormatSockaddr(sa);
        len = 128;
        Native.getsockname(linkFd, sa, &len);
        string laddr = Native.FormatSockaddr(sa);
        var c = server.CreateClient(linkFd, addr, laddr);
        c.Flags |= ClientFlags.Master;
        c.Authenticated = true;
        c.User = "(superuser)";
        if (dbId >= 0 && dbId < server.Dbs.Length) c.Db = server.Dbs[dbId];
        c.LastInteractionMs = Clock.NowMs;
        MasterClient = c;
        masterClientReplId = replid;
        masterReplOff = masterReadReplOff = offset;
        accountedOff = offset;
        unconsumedSeen = 0;
        pendingApplied.Clear();
        masterPrePsync = offset == -1;
        masterProtocolError = false;
        linkFd = -1;      // the client owns the socket now
    }

    /// <summary>Hands the socket to the loop as the master client and runs whatever already arrived.</summary>
    void StartMasterClient()
    {
        var c = MasterClient;
        server.Loop.AdoptClient(c);
        if (hsLen > 0)
        {
            var req = c.Request;
            hsBuf.AsSpan(0, hsLen).CopyTo(req.ReceiveSpace(hsLen));
            req.Committed(hsLen);
            hsLen = 0;
            server.ProcessInput(c);
        }
        hsLen = 0;
    }

    /// <summary>replicationResurrectCachedMaster: +CONTINUE, the cached master becomes the master again on the new socket.</summary>
    void ResurrectCachedMaster()
    {
        var cm = cached;
        cached = null;
        server.Loop.RemoveFileEvent(linkFd);
        CreateMasterClient(cm.ReplId, cm.ReplOff, cm.Db);
        State = ReplState.Connected;
        DownSinceUnix = 0;
        Backlog ??= new ReplicationBacklog(BacklogSizeSetting, MasterReplOffset);
        Master.SyncSink();
        StartMasterClient();
    }

    /// <summary>freeClient of the master client: cache it for a PSYNC (unless it broke the protocol) and reconnect.</summary>
    public void MasterClientClosed(Client c)
    {
        if (c != MasterClient) return;
        server.Log.Warning("Connection with master lost.");
        if (!masterProtocolError)
        {
            server.Log.Notice("Caching the disconnected master state.");
            // The stream bytes read but not applied (a MULTI that never got its EXEC) come again after PSYNC.
            cached = new CachedMaster { ReplId = masterClientReplId, ReplOff = masterReplOff, ReadReplOff = masterReplOff, Db = c.Db.Id };
        }
        pendingApplied.Clear();
        // replicationHandleMasterDisconnection.
        MasterClient = null;
        State = ReplState.Connect;
        DownSinceUnix = NowUnix;
        if (MasterHost != null)
        {
            server.Log.Notice($"Reconnecting to MASTER {MasterHost}:{MasterPort}");
            ConnectWithMaster();
        }
    }

    // Stream accounting: bytes before accountedOff were applied (or parked in pendingApplied inside a MULTI).
    long accountedOff;
    int unconsumedSeen;
    readonly RespBuffer pendingApplied = new(256);

    /// <summary>
    /// processInputBuffer for the master client: every complete command runs (its reply is dropped); after each
    /// one outside a MULTI the processed offset moves to the end of the bytes consumed so far, and those bytes go
    /// to my backlog (commandProcessed + replicationFeedStreamFromMasterStream). REPLCONF GETACK is answered
    /// with the offset before it.
    /// </summary>
    public void ProcessMasterInput(Client c)
    {
        var req = c.Request;
        masterReadReplOff += req.Unconsumed - unconsumedSeen;
        while ((c.Flags & (ClientFlags.CloseAfterReply | ClientFlags.CloseAsap | ClientFlags.Closed | ClientFlags.Paused | ClientFlags.Blocked)) == 0)
        {
            if (server.PauseIfAllPaused(c)) break;
            var r = req.Next(server.Settings.ProtoMaxBulkLen, true);
            if (r == ParseResult.NeedMore) break;
            if (r == ParseResult.Empty) continue;
            if (r == ParseResult.Error)
            {
                server.Log.Warning($"Protocol error ({req.ErrorText}) from client: {server.ClientInfoLine(c)}");
                masterProtocolError = true;
                unconsumedSeen = req.Unconsumed;
                server.Loop.FreeClient(c);
                return;
            }
            if (req.ArgCount == 3 && Ascii.EqualsIgnoreCase(req.Arg(0), "replconf") && Ascii.EqualsIgnoreCase(req.Arg(1), "getack"))
            {
                SendAck();
                Account(c, !c.InMulti);
                continue;
            }
            int mark = c.Reply.Length;
            server.ProcessCommand(c);
            if ((c.Flags & ClientFlags.Closed) != 0) return;
            if (c.Reply.Length > mark)
            {
                if (c.Reply.Buffer[mark] == (byte)'-') LogErrorToMaster(c, mark);
                c.Reply.Length = mark;      // a master never gets replies
            }
            if ((c.Flags & ClientFlags.Paused) != 0) break;          // rewound: it runs again after the pause
            Account(c, !c.InMulti);
        }
        if ((c.Flags & ClientFlags.Closed) != 0) return;
        Account(c, apply: false);
        unconsumedSeen = req.Unconsumed;
        if (c.Reply.Pending > 0) server.Loop.MarkPendingWrite(c);
        req.TrimIfIdle();
    }

    /// <summary>afterErrorReply: an error my master's stream caused here means the datasets may have diverged.</summary>
    void LogErrorToMaster(Client c, int mark)
    {
        var reply = c.Reply.Buffer.AsSpan(mark + 1, c.Reply.Length - mark - 1);
        int end = reply.IndexOf("\r\n"u8);
        string text = Encoding.Latin1.GetString(end < 0 ? reply : reply[..end]);
        server.Log.Warning($"== CRITICAL == This replica is sending an error to its master: '{text}' after processing the command '{c.LastCommand}'");
    }

    /// <summary>Bytes consumed since the last call: applied with everything parked (apply), or parked (inside MULTI).</summary>
    void Account(Client c, bool apply)
    {
        var req = c.Request;
        long cur = masterReadReplOff - req.Unconsumed;
        int n = (int)(cur - accountedOff);
        if (n > 0)
        {
            var span = req.Buffer.AsSpan(req.Start - n, n);
            if (!apply) pendingApplied.Raw(span);
            else
            {
                if (pendingApplied.Length > 0) FeedStreamFromMaster(pendingApplied.Span);
                FeedStreamFromMaster(span);
            }
        }
        else if (apply && pendingApplied.Length > 0) FeedStreamFromMaster(pendingApplied.Span);
        if (apply)
        {
            pendingApplied.Clear();
            if (pendingApplied.Buffer.Length > 64 * 1024) pendingApplied.Shrink(256);
            masterReplOff = cur;
        }
        accountedOff = cur;
    }

    /// <summary>replicationFeedStreamFromMasterStream: my backlog and my replicas get exactly what I applied.</summary>
    void FeedStreamFromMaster(ReadOnlySpan<byte> data)
    {
        if (Backlog == null) return;
        Backlog.Feed(data);
        MasterReplOffset += data.Length;
        FeedSubReplicas(data);
    }

    /// <summary>replicationSendAck: REPLCONF ACK &lt;processed offset&gt; on the master link.</summary>
    public void SendAck()
    {
        var c = MasterClient;
        if (c == null || (c.Flags & ClientFlags.Closed) != 0) return;
        c.Reply.ArrayHeader(3);
        c.Reply.Bulk("REPLCONF"u8);
        c.Reply.Bulk("ACK"u8);
        c.Reply.BulkInteger(masterReplOff);
        server.Loop.MarkPendingWrite(c);
    }

    // ------------------------------------------------------------------ replicationCron, the replica half

    /// <summary>Called from serverCron; does the work once a second.</summary>
    public void ReplicaCron()
    {
        // The 5 s bound on a reply line that started arriving (connSyncReadLine) is checked at every tick.
        if (InHandshake && partialLineSinceMs != 0 && Environment.TickCount64 - partialLineSinceMs > SyncIoTimeoutMs)
        {
            server.Log.Warning("Master did not respond to command during SYNC handshake");
            HandshakeFailed();
        }
        long now = Environment.TickCount64;
        if (now < nextCronMs) return;
        nextCronMs = now + 1000;
        if (MasterHost == null) return;
        long unix = NowUnix;
        if ((State == ReplState.Connecting || InHandshake) && unix - transferLastIoUnix > ReplTimeoutSeconds)
        {
            server.Log.Warning("Timeout connecting to the MASTER...");
            CancelHandshake(true);
        }
        if (State == ReplState.Transfer && unix - transferLastIoUnix > ReplTimeoutSeconds)
        {
            server.Log.Warning("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.");
            CancelHandshake(true);
        }
        if (State == ReplState.Connected && MasterClient != null && (Clock.NowMs - MasterClient.LastInteractionMs) / 1000 > ReplTimeoutSeconds)
        {
            server.Log.Warning("MASTER timeout: no data nor PING received...");
            server.Loop.FreeClient(MasterClient);
        }
        if (State == ReplState.Connect)
        {
            server.Log.Notice($"Connecting to MASTER {MasterHost}:{MasterPort}");
            ConnectWithMaster();
        }
        if (MasterClient != null && !masterPrePsync) SendAck();
    }

    // ------------------------------------------------------------------ INFO and ROLE

    /// <summary>INFO replication's replica lines (after role:slave), in genRedisInfoString's order.</summary>
    public void AppendReplicaInfo(StringBuilder sb)
    {
        var inv = CultureInfo.InvariantCulture;
        long slaveReplOffset = 1, slaveReadReplOffset = 1;
        if (MasterClient != null)
        {
            slaveReplOffset = masterReplOff;
            slaveReadReplOffset = masterReadReplOff;
        }
        else if (cached != null)
        {
            slaveReplOffset = cached.ReplOff;
            slaveReadReplOffset = cached.ReadReplOff;
        }
        long unix = NowUnix;
        void F(string name, string value) => sb.Append(name).Append(':').Append(value).Append("\r\n");
        F("master_host", MasterHost);
        F("master_port", MasterPort.ToString(inv));
        F("master_link_status", State == ReplState.Connected ? "up" : "down");
        F("master_last_io_seconds_ago", MasterClient != null ? ((Clock.NowMs - MasterClient.LastInteractionMs) / 1000).ToString(inv) : "-1");
        F("master_sync_in_progress", State == ReplState.Transfer ? "1" : "0");
        F("slave_read_repl_offset", slaveReadReplOffset.ToString(inv));
        F("slave_repl_offset", slaveReplOffset.ToString(inv));
        if (State == ReplState.Transfer)
        {
            double perc = transferSize > 0 ? (double)transferRead / transferSize * 100 : 0;
            F("master_sync_total_bytes", transferSize.ToString(inv));
            F("master_sync_read_bytes", transferRead.ToString(inv));
            F("master_sync_left_bytes", (transferSize - transferRead).ToString(inv));
            F("master_sync_perc", perc.ToString("0.00", inv));
            F("master_sync_last_io_seconds_ago", (unix - transferLastIoUnix).ToString(inv));
        }
        if (State != ReplState.Connected)
            F("master_link_down_since_seconds", DownSinceUnix != 0 ? (unix - DownSinceUnix).ToString(inv) : "-1");
        F("slave_priority", server.Config.GetValue("replica-priority") ?? "100");
        F("slave_read_only", ReadOnlyReplica ? "1" : "0");
        F("replica_announced", server.Config.GetValue("replica-announced") == "no" ? "0" : "1");
    }

    /// <summary>ROLE's replica state word.</summary>
    public string RoleStateName => State switch
    {
        ReplState.None => "none",
        ReplState.Connect => "connect",
        ReplState.Connecting => "connecting",
        ReplState.Transfer => "sync",
        ReplState.Connected => "connected",
        _ => InHandshake || State == ReplState.SendHandshake || State == ReplState.SendPsync ? "handshake" : "unknown",
    };

    /// <summary>ROLE's offset for a replica: the master client's processed offset, -1 without one.</summary>
    public long RoleOffset => MasterClient != null ? masterReplOff : -1;
}
