using System.Diagnostics;
using System.Text;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>The server: settings, databases, clients and the command pipeline, all driven by one event loop.</summary>
public enum PausePurpose { ClientCommand, Failover }

public sealed partial class CinnabarServer : IKeyspaceEvents
{
    public const string Version = "7.0.15";

    public readonly ServerSettings Settings = new();
    public ConfigTable Config;
    public readonly Log Log = new();
    public readonly Stats Stats = new();
    public Db[] Dbs;
    public readonly Dictionary<long, Client> Clients = new();
    public readonly CommandTable Commands;
    public EventLoop Loop;
    public readonly long StartMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    public readonly string RunId = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();
    public string ConfigFile = "";
    public string Executable = "";
    public long LastSaveUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    public long DirtyCounter;
    public readonly List<Client> Monitors = new();
    public readonly SlowLog SlowLog = new();
    public long PeakMemory;
    public bool ShutdownAsap;
    public Client CurrentClient;
    long nextClientId = 1;
    long cronLoops;
    long pausedUntilMs;
    bool pauseWritesOnly;
    readonly List<Client> pausedClients = new();

    public readonly Propagator Prop;
    public readonly Replication.ReplicationState Repl;

    public CinnabarServer()
    {
        Commands = new CommandTable(this);
        Prop = new Propagator(this);
        Repl = new Replication.ReplicationState(this);
    }

    public void InitDatabases()
    {
        Dbs = new Db[Settings.Databases];
        for (int i = 0; i < Dbs.Length; i++) Dbs[i] = new Db(i, this);
        ApplyAccessPolicy();
    }

    /// <summary>Tells every db how to stamp accesses for the current maxmemory-policy (LRU clock or LFU word).</summary>
    public void ApplyAccessPolicy()
    {
        if (Dbs == null) return;
        bool lfu = Settings.MaxMemoryPolicy is EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu;
        foreach (var db in Dbs)
        {
            db.LfuMode = lfu;
            db.LfuLogFactor = Settings.LfuLogFactor;
            db.LfuDecayTime = Settings.LfuDecayTime;
        }
    }

    public Client CreateClient(int fd, string addr, string laddr)
    {
        var c = new Client(this, nextClientId++, fd, addr, laddr)
        {
            Db = Dbs[0],
            Authenticated = Settings.RequirePass.Length == 0,
        };
        Clients[c.Id] = c;
        Stats.ConnectionsReceived++;
        return c;
    }

    public void ClientClosed(Client c)
    {
        Clients.Remove(c.Id);
        if ((c.Flags & ClientFlags.Master) != 0) Repl.MasterClientClosed(c);
        if ((c.Flags & ClientFlags.Monitor) != 0) Monitors.Remove(c);
        pausedClients.Remove(c);
        Repl.Master.ClientClosed(c);
        ForgetBlockedClient(c);
        ForgetSubscriptions(c);
        Unwatch(c);
    }

    /// <summary>Parses and runs every complete request in the client's buffer.</summary>
    public void ProcessInput(Client c)
    {
        if ((c.Flags & ClientFlags.Master) != 0)
        {
            Repl.ProcessMasterInput(c);    // offsets, the backlog, no replies
            return;
        }
        var req = c.Request;
        while ((c.Flags & (ClientFlags.CloseAfterReply | ClientFlags.CloseAsap | ClientFlags.Closed | ClientFlags.Paused | ClientFlags.Blocked)) == 0)
        {
            if (IsPaused() && !pauseWritesOnly) { PauseClient(c, rewind: false); break; }
            var r = req.Next(Settings.ProtoMaxBulkLen, c.Authenticated);
            if (r == ParseResult.NeedMore) break;
            if (r == ParseResult.Empty) continue;
            if (r == ParseResult.Error)
            {
                c.Error("ERR " + req.ErrorText);
                Log.Verbose($"Protocol error ({req.ErrorText}) from client: {ClientInfoLine(c)}");
                c.Flags |= ClientFlags.CloseAfterReply;
                break;
            }
            ProcessCommand(c);
            // resetClient: ASKING lasts one command, or until EXEC/DISCARD inside MULTI.
            if ((c.Flags & ClientFlags.Asking) != 0 && !c.InMulti && c.LastCommand != "asking") c.Flags &= ~ClientFlags.Asking;
        }
        if (c.Reply.Pending > 0) Loop.MarkPendingWrite(c);
        if ((c.Flags & (ClientFlags.Closed | ClientFlags.Blocked)) == 0) req.TrimIfIdle();
    }

    /// <summary>Redis's processCommand: lookup, arity, auth, memory checks, then the command itself.</summary>
    public void ProcessCommand(Client c)
    {
        Clock.Update();
        CurrentClient = c;
        int replyMark = c.Reply.Length;
        var cmd = Commands.Lookup(c, out string lookupError);
        if (cmd == null)
        {
            Reject(c, lookupError, replyMark);
            return;
        }
        c.LastCommand = cmd.FullName;
        if (cmd.Protected && !DebugCommands.Allowed(c))
        {
            cmd.RejectedCalls++;
            Reject(c, DebugCommands.NotAllowed, replyMark);
            return;
        }
        if (!c.Authenticated && (cmd.Flags & CommandFlags.NoAuth) == 0)
        {
            cmd.RejectedCalls++;
            Reject(c, "NOAUTH Authentication required.", replyMark);
            return;
        }
        // mustObeyClient: my master's stream is applied whatever my own state (read-only, OOM, cluster slots).
        bool obey = (c.Flags & ClientFlags.Master) != 0;
        c.ClusterSlot = -1;
        if (!obey && NeedsClusterRouting(c, cmd) && ClusterRedirect(c, cmd, out c.ClusterSlot) is string redirect)
        {
            if (cmd.FullName == "exec") DiscardTransaction(c);
            cmd.RejectedCalls++;
            Reject(c, redirect, replyMark);
            return;
        }
        if (Settings.MaxMemory > 0 && !obey && (cmd.Flags & CommandFlags.DenyOom) != 0 && !EnsureMemory())
        {
            cmd.RejectedCalls++;
            Reject(c, "OOM command not allowed when used memory > 'maxmemory'.", replyMark);
            return;
        }
        if ((LastBgsaveStatusOk == 0 || AofWriteError) && !obey
            && ((cmd.Flags & CommandFlags.Write) != 0 || cmd.FullName == "ping" || (cmd.FullName == "exec" && QueuedWrites(c)))
            && (DiskErrorDeniesWrites() ?? AofDiskError()) is string diskError)
        {
            cmd.RejectedCalls++;
            Reject(c, diskError, replyMark);
            return;
        }
        if (Repl.DenyWritesNoReplicas
            && ((cmd.Flags & CommandFlags.Write) != 0 || (cmd.FullName == "exec" && QueuedWrites(c))))
        {
            cmd.RejectedCalls++;
            Reject(c, "NOREPLICAS Not enough good replicas to write.", replyMark);
            return;
        }
        // A read-only replica refuses writes (EXEC of queued writes too) from everyone but its master.
        if (Repl.MasterHost != null && Repl.ReadOnlyReplica && !obey
            && ((cmd.Flags & CommandFlags.Write) != 0 || (cmd.FullName == "exec" && QueuedWrites(c))))
        {
            cmd.RejectedCalls++;
            Reject(c, Replication.ReplicationState.ReadOnlyError, replyMark);
            return;
        }
        if (c.InPubSub && !c.Reply.Resp3 && !AllowedInSubscribedContext(cmd))
        {
            cmd.RejectedCalls++;
            Reject(c, $"ERR Can't execute '{cmd.FullName}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", replyMark);
            return;
        }
        // replica-serve-stale-data no and the link down: only commands flagged stale (INFO, REPLICAOF, ...).
        if (Repl.RunningStale
            && ((cmd.Flags & CommandFlags.Stale) == 0 || (cmd.FullName == "exec" && QueuedCommandsLack(c, CommandFlags.Stale))))
        {
            cmd.RejectedCalls++;
            Reject(c, Replication.ReplicationState.MasterDownError, replyMark);
            return;
        }
        if (Loading && (cmd.Flags & CommandFlags.Loading) == 0)
        {
            cmd.RejectedCalls++;
            Reject(c, "LOADING Redis is loading the dataset in memory", replyMark);
            return;
        }
        // A script running past busy-reply-threshold: only allow-busy commands (SCRIPT KILL, SHUTDOWN ...).
        if (BusyScriptError != null && (cmd.Flags & CommandFlags.AllowBusy) == 0)
        {
            cmd.RejectedCalls++;
            Reject(c, BusyScriptError, replyMark);
            return;
        }
        if (c.InMulti && !RunsImmediatelyInMulti(cmd))
        {
            var args = new byte[c.ArgCount][];
            for (int i = 0; i < args.Length; i++) args[i] = c.Arg(i).ToArray();
            c.Queued.Add(args);
            c.Reply.Raw("+QUEUED\r\n"u8);
            FinishReply(c, replyMark);
            return;
        }
        if (IsPaused() && pauseWritesOnly && MayReplicate(c, cmd))
        {
            PauseClient(c, rewind: true);
            return;
        }
        c.ClearRedactions();
        long errorsBefore = Stats.TotalErrorReplies;
        bool propagate = Prop.Enabled;
        if (propagate) Prop.BeginCall();
        long start = Stopwatch.GetTimestamp();
        try
        {
            cmd.Handler(c);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug in one command must not take the server and everyone's data down with it.
            Log.Warning($"Internal error in command '{cmd.FullName}': {e}");
            c.Error("ERR internal error while executing '" + cmd.FullName + "'");
        }
        if (propagate)
        {
            Prop.EndCall(c, cmd);
            Prop.PropagatePending();
        }
        c.WOff = Repl.MasterReplOffset;   // what WAIT after this command waits for
        long elapsedTicks = Stopwatch.GetTimestamp() - start;
        long usec = elapsedTicks * 1_000_000 / Stopwatch.Frequency;
        FeedMonitorsAfterCall(c, cmd);
        if ((c.Flags & ClientFlags.Blocked) != 0)
        {
            // Redis counts a blocking command's call once it is answered (updateStatsOnUnblock).
            c.BlockedCommand = cmd;
        }
        else
        {
            cmd.Calls++;
            cmd.Microseconds += usec;
        }
        if (Stats.TotalErrorReplies != errorsBefore) cmd.FailedCalls++;
        Stats.CommandsProcessed++;
        if (usec >= Settings.SlowlogLogSlowerThan && Settings.SlowlogLogSlowerThan >= 0 && (cmd.Flags & CommandFlags.SkipSlowlog) == 0)
            SlowLog.Add(c, usec);
        FinishReply(c, replyMark);
        CheckOutputBufferLimits(c);
        CurrentClient = null;
        if (readyKeys.Count > 0) HandleClientsBlockedOnKeys();
    }

    /// <summary>
    /// client-output-buffer-limit: a client whose pending output passes the hard limit, or stays over the
    /// soft limit for soft-seconds, is closed (Redis counts what is beyond its 16 KiB static buffer).
    /// </summary>
    public void CheckOutputBufferLimits(Client c)
    {
        long[] limits;
        long used;
        if (c.ReplicaLink is { IsReplica: true } replica)
        {
            // A replica's limit covers the stream it has not received yet, held back during a sync or not.
            limits = Settings.ClientOutputBufferReplica;
            used = replica.PendingStreamBytes;
        }
        else
        {
            limits = c.InPubSub ? Settings.ClientOutputBufferPubsub : Settings.ClientOutputBufferNormal;
            used = Math.Max(0, c.Reply.Pending - 16 * 1024);
        }
        long hard = limits[0], soft = limits[1], seconds = limits[2];
        if (hard == 0 && soft == 0) return;
        bool overSoft = soft > 0 && used >= soft;
        bool close = hard > 0 && used >= hard;
        if (overSoft)
        {
            if (c.SoftLimitSinceMs == 0) c.SoftLimitSinceMs = Clock.NowMs;
            else if (Clock.NowMs - c.SoftLimitSinceMs > seconds * 1000) close = true;
        }
        else c.SoftLimitSinceMs = 0;
        if (!close || (c.Flags & ClientFlags.CloseAsap) != 0) return;
        Log.Warning($"Client {ClientInfoLine(c)} scheduled to be closed ASAP for overcoming of output buffer limits.");
        c.Reply.Length = c.Reply.Sent;
        c.Flags |= ClientFlags.CloseAsap;
        Loop.MarkPendingWrite(c);
    }

    /// <summary>rejectCommand: the error reply, and inside MULTI the transaction is doomed (EXECABORT).</summary>
    void Reject(Client c, string error, int replyMark)
    {
        if (c.InMulti) c.DirtyExec = true;
        c.Error(error);
        FinishReply(c, replyMark);
    }

    static bool AllowedInSubscribedContext(Command cmd) => cmd.FullName is "ping" or "subscribe" or "ssubscribe" or "unsubscribe"
        or "sunsubscribe" or "psubscribe" or "punsubscribe" or "quit" or "reset";

    /// <summary>CLIENT REPLY OFF/SKIP: drop what the command wrote.</summary>
    void FinishReply(Client c, int replyMark)
    {
        if ((c.Flags & (ClientFlags.ReplyOff | ClientFlags.ReplySkip)) != 0)
        {
            if (c.Reply.Length >= replyMark) c.Reply.Length = replyMark;
            c.Flags &= ~ClientFlags.ReplySkip;
        }
        if ((c.Flags & ClientFlags.ReplySkipNext) != 0)
        {
            c.Flags &= ~ClientFlags.ReplySkipNext;
            c.Flags |= ClientFlags.ReplySkip;
        }
    }

    /// <summary>
    /// call()'s MONITOR feed: after the command ran (so SELECT shows its new db and passwords are redacted),
    /// except for the commands Redis never shows. EVAL and FCALL are skip_monitor and show themselves before
    /// their script runs; commands a script calls show as "lua".
    /// </summary>
    public void FeedMonitorsAfterCall(Client c, Command cmd)
    {
        if (Monitors.Count > 0 && (cmd.Flags & (CommandFlags.SkipMonitor | CommandFlags.Admin)) == 0) FeedMonitors(c);
    }

    public void FeedMonitors(Client c)
    {
        var sb = new StringBuilder();
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000 + (Stopwatch.GetTimestamp() / 10 % 1000);
        sb.Append(now / 1_000_000).Append('.').Append((now % 1_000_000).ToString("000000"));
        sb.Append(" [").Append(c.Db.Id).Append(' ').Append(c.IsScriptClient ? "lua" : c.Addr).Append(']');
        for (int i = 0; i < c.ArgCount; i++)
        {
            if (c.IsRedacted(i)) sb.Append(" \"(redacted)\"");
            else sb.Append(" \"").Append(Repr.Escape(c.Arg(i))).Append('"');
        }
        string line = sb.ToString();
        foreach (var m in Monitors)
        {
            if (m == c) continue;
            m.Reply.Simple(line);
            Loop.MarkPendingWrite(m);
            CheckOutputBufferLimits(m);
        }
    }

    // ---- CLIENT PAUSE ----

    /// <summary>What CLIENT PAUSE WRITE holds back: writes, commands that may replicate, and EXEC of either.</summary>
    bool MayReplicate(Client c, Command cmd)
    {
        const CommandFlags mayReplicate = CommandFlags.Write | CommandFlags.MayReplicate;
        return (cmd.Flags & mayReplicate) != 0 || (cmd.FullName == "exec" && QueuedCommandsHave(c, mayReplicate));
    }

    bool QueuedWrites(Client c) => QueuedCommandsHave(c, CommandFlags.Write);

    /// <summary>Whether a command queued by MULTI has any of the flags (Redis keeps them in mstate.cmd_flags).</summary>
    bool QueuedCommandsHave(Client c, CommandFlags flags)
    {
        if (c.Queued == null) return false;
        foreach (var queued in c.Queued)
        {
            var q = LookupQueued(queued);
            if (q != null && (q.Flags & flags) != 0) return true;
        }
        return false;
    }

    /// <summary>Whether some command queued by MULTI lacks the flag (Redis's mstate.cmd_inv_flags).</summary>
    bool QueuedCommandsLack(Client c, CommandFlags flag)
    {
        if (c.Queued == null) return false;
        foreach (var queued in c.Queued)
        {
            var q = LookupQueued(queued);
            if (q != null && (q.Flags & flag) == 0) return true;
        }
        return false;
    }

    /// <summary>The command (or subcommand) of a request queued by MULTI.</summary>
    Command LookupQueued(byte[][] queued)
    {
        var q = Commands.Find(System.Text.Encoding.Latin1.GetString(queued[0]).ToLowerInvariant());
        if (q != null && q.Subcommands != null && queued.Length > 1)
            q = q.Subcommands.GetValueOrDefault(System.Text.Encoding.Latin1.GetString(queued[1]).ToLowerInvariant()) ?? q;
        return q;
    }

    public bool IsPaused() => pausedUntilMs != 0 && Clock.NowMs < pausedUntilMs;

    /// <summary>A pause for this purpose is in force (a manual failover suppresses the stream's PINGs; CLIENT PAUSE does not).</summary>
    public bool IsPausedFor(PausePurpose purpose) => pauseEnds[(int)purpose] != 0 && Clock.NowMs < pauseEnds[(int)purpose];

    /// <summary>
    /// pauseClients with a purpose, as Redis 7.0 keeps them: CLIENT PAUSE and a manual failover pause independently;
    /// the effective pause lasts until the latest end and blocks all commands if any purpose does.
    /// </summary>
    public void Pause(long untilMs, bool writesOnly, PausePurpose purpose = PausePurpose.ClientCommand)
    {
        pauseEnds[(int)purpose] = untilMs;
        pauseWritesOnlyBy[(int)purpose] = writesOnly;
        UpdatePausedActions();
    }

    public void Unpause(PausePurpose purpose = PausePurpose.ClientCommand)
    {
        pauseEnds[(int)purpose] = 0;
        UpdatePausedActions();
    }

    readonly long[] pauseEnds = new long[2];
    readonly bool[] pauseWritesOnlyBy = new bool[2];

    void UpdatePausedActions()
    {
        long end = 0;
        bool writesOnly = true;
        for (int i = 0; i < pauseEnds.Length; i++)
        {
            if (pauseEnds[i] == 0) continue;
            end = Math.Max(end, pauseEnds[i]);
            writesOnly &= pauseWritesOnlyBy[i];
        }
        bool loosened = pausedUntilMs != 0 && (end == 0 || (writesOnly && !pauseWritesOnly));
        pausedUntilMs = end;
        pauseWritesOnly = writesOnly;
        if (loosened) ResumePausedClients();
    }

    /// <summary>Ends the pauses whose time is up (from the cron).</summary>
    void ExpirePauses()
    {
        bool changed = false;
        for (int i = 0; i < pauseEnds.Length; i++)
            if (pauseEnds[i] != 0 && Clock.NowMs >= pauseEnds[i]) { pauseEnds[i] = 0; changed = true; }
        if (changed) UpdatePausedActions();
    }

    void PauseClient(Client c, bool rewind)
    {
        c.Flags |= ClientFlags.Paused;
        if (!pausedClients.Contains(c)) pausedClients.Add(c);
        // The command stays in the buffer to be parsed again once the pause ends.
        if (rewind) c.Request.Start = c.Request.CommandStart;
    }

    void ResumePausedClients()
    {
        var list = pausedClients.ToArray();
        pausedClients.Clear();
        foreach (var c in list)
        {
            c.Flags &= ~ClientFlags.Paused;
            if ((c.Flags & ClientFlags.Closed) == 0) ProcessInput(c);
        }
    }

    // ---- keyspace events ----

    public void KeyAdded(Db db, byte[] key)
    {
        if ((NotifyFlags & Cinnabar.Server.Config.KeyspaceEvents.New) != 0) Notify(Cinnabar.Server.Config.KeyspaceEvents.New, "new", key, db.Id);
    }

    public void KeyExpired(Db db, byte[] key)
    {
        Stats.ExpiredKeys++;
        if (Prop.Enabled) Prop.AlsoDelete(db.Id, key, Settings.LazyfreeLazyExpire);
        Notify(Cinnabar.Server.Config.KeyspaceEvents.Expired, "expired", key, db.Id);
        KeyModified(db, key);
    }

    /// <summary>signalModifiedKey: wakes clients blocked on the key (and, with MULTI, invalidates WATCH).</summary>
    public void KeyModified(Db db, ReadOnlySpan<byte> key)
    {
        if (blockedOnKey.Count > 0) SignalKeyReady(db, key);
        if (watchedKeys.Count > 0) TouchWatchedKey(db, key);
    }

    /// <summary>signalModifiedKey without waking blocked clients: WATCH only (XDEL, XTRIM).</summary>
    public void TouchWatched(Db db, ReadOnlySpan<byte> key)
    {
        if (watchedKeys.Count > 0) TouchWatchedKey(db, key);
    }

    /// <summary>signalKeyAsReady without touching WATCH (XGROUP DESTROY wakes XREADGROUP clients).</summary>
    public void SignalReady(Db db, ReadOnlySpan<byte> key)
    {
        if (blockedOnKey.Count > 0) SignalKeyReady(db, key);
    }

    public void Dirty(long n = 1) => DirtyCounter += n;

    // ---- periodic work ----

    /// <summary>serverCron: runs Settings.Hz times a second.</summary>
    public void Cron()
    {
        cronLoops++;
        Clock.Update();
        Loop.NextCronTicks = Environment.TickCount64 + 1000 / Math.Max(1, Settings.Hz);
        Stats.Sample(Clock.NowMs);
        ExpirePauses();
        if (Settings.ActiveExpireEnabled && Repl.MasterHost == null)    // a replica's keys expire by its master's DEL
        {
            long start = Stopwatch.GetTimestamp();
            long deadline = Environment.TickCount64 + Math.Max(1, 250 / Math.Max(1, Settings.Hz));
            foreach (var db in Dbs)
            {
                db.ActiveExpire(deadline);
                if (Prop.Enabled) Prop.PropagatePending(noMulti: true);   // each expired key on its own, never wrapped
            }
            Stats.ExpireCycleCpuMs += (Stopwatch.GetTimestamp() - start) * 1000 / Stopwatch.Frequency;
        }
        if (aof != null) aof.Cron();
        Repl.ReplicaCron();
        Repl.Master.Cron();
        if (Settings.Timeout > 0) CloseIdleClients();
        long used = UsedMemory();
        if (used > PeakMemory) PeakMemory = used;
        BackgroundSaveCron();
        MigrateSockets.CloseIdle(Clock.NowMs);
        if (ShutdownInitiated) ShutdownCron();
        else if (ShutdownAsap && !PrepareForShutdownAndExit(false, false))
        {
            Log.Warning("SIGTERM received but errors trying to shut down the server, check the logs for more information");
            ShutdownAsap = false;
        }
    }

    void CloseIdleClients()
    {
        long limit = Settings.Timeout * 1000L;
        foreach (var c in Clients.Values.ToArray())
        {
            if ((c.Flags & (ClientFlags.Monitor | ClientFlags.Master)) != 0 || c.ReplicaLink is { IsReplica: true }) continue;
            if (Clock.NowMs - c.LastInteractionMs > limit)
            {
                Log.Verbose("Closing idle client");
                Loop.FreeClient(c);
            }
        }
    }

    public void BeforeSleep()
    {
        Repl.Master.BeforeSleep();
        long next = HandleBlockedTimeouts();
        if (next >= 0 && Environment.TickCount64 + next < Loop.NextCronTicks) Loop.NextWakeTicks = Environment.TickCount64 + next;
    }

    // ---- memory ----

    public long DatasetBytes()
    {
        long sum = 0;
        foreach (var db in Dbs) sum += db.DatasetBytes;
        return sum;
    }

    public long BaselineMemory = 900_000;

    public long ClientBuffersBytes()
    {
        long sum = 0;
        foreach (var c in Clients.Values) sum += (c.Request.Buffer?.Length ?? 0) + (c.Reply.Buffer?.Length ?? 0);
        return sum;
    }

    /// <summary>used_memory: what the keyspace and clients hold, counted by us (not the GC's garbage).</summary>
    public long UsedMemory() => BaselineMemory + DatasetBytes() + ClientBuffersBytes();

    public string ClientInfoLine(Client c) => Commands_Client.InfoLine(this, c);
}
