using System.Runtime.InteropServices;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>Startup and shutdown as redis-server logs and performs them.</summary>
public sealed partial class CinnabarServer
{
    public string ModeName => ClusterEnabled ? "cluster" : "standalone";

    PosixSignalRegistration sigterm, sigint;

    public int Run(bool noConfigFile)
    {
        Log.Role = 'C';
        if (Settings.LogFile.Length > 0)
        {
            string err = Log.SetFile(Settings.LogFile);
            if (err != null)
            {
                Console.Error.Write($"Can't open the log file: {err}\n");
                return 1;
            }
        }
        Log.Warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
        Log.Warning($"Redis version={Version}, bits=64, commit=00000000, modified=0, pid={Environment.ProcessId}, just started");
        if (noConfigFile)
            Log.Warning("Warning: no config file specified, using the default config. In order to specify a config file use cinnabar-server /path/to/redis.conf");
        else
            Log.Warning("Configuration loaded");
        Log.Role = Repl.IsReplica ? 'S' : 'M';
        Log.Notice("monotonic clock: POSIX clock_gettime");
        if (Config.GetValue("cluster-enabled") == "yes") EnableClusterRouting();
        InitDatabases();
        if (Repl.IsReplica) Repl.ApplyRole();     // the replicaof directive: expiry left to the master, 'S' in the log
        Loop = new EventLoop(this);
        if (!ListenOnBindAddresses(Loop.Listen, Settings.Port, "TCP")) return 1;
        if (Settings.ClusterEnabled && !StartCluster()) return 1;
        if (Config.GetValue("always-show-logo") == "yes" || !Console.IsOutputRedirected && Settings.LogFile.Length == 0)
            Log.WriteRaw(Logo.Render(Version, ModeName, Settings.Port, Environment.ProcessId));
        else
            Log.Notice($"Running mode={ModeName}, port={Settings.Port}.");
        Log.Warning("Server initialized");
        if (!LoadPersistedData()) return 1;
        if (Cluster != null && !VerifyClusterConfigWithData()) return 1;
        WritePidFile();
        sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; OnSignal("SIGTERM"); });
        sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; OnSignal("SIGINT"); });
        Scripting.WarnIfUnavailable();
        Log.Notice("Ready to accept connections");
        Loop.Run();
        return 0;
    }

    /// <summary>
    /// listenToPort: binds every `bind` address (a leading '-' marks one that may be unavailable) with Redis's
    /// log lines; false when none could be bound.
    /// </summary>
    bool ListenOnBindAddresses(Func<string, int, int, string> listen, int port, string kind)
    {
        int bound = 0;
        foreach (var addr in Settings.Bind)
        {
            bool optional = addr.StartsWith('-');
            string host = optional ? addr[1..] : addr;
            if (host == "*") host = "0.0.0.0";
            else if (host == "::*") host = "::";
            string err = listen(host, port, Settings.TcpBacklog);
            if (err == null) { bound++; continue; }
            if (optional && (err.Contains("Address family") || err.Contains("Cannot assign"))) continue;
            Log.Warning($"Warning: Could not create server TCP listening socket {(host.Contains(':') ? "[" + host + "]" : host)}:{port}: {err}");
            Log.Warning($"Failed listening on port {port} ({kind}), aborting.");
            return false;
        }
        if (bound == 0)
        {
            Log.Warning($"Failed listening on port {port} ({kind}), aborting.");
            return false;
        }
        return true;
    }

    void OnSignal(string name)
    {
        Loop.Post(() =>
        {
            if (ShutdownAsap)
            {
                Log.Warning("You insist... exiting now.");
                RemovePidFile();
                Environment.Exit(1);
            }
            Log.WriteRaw($"{Environment.ProcessId}:signal-handler ({DateTimeOffset.UtcNow.ToUnixTimeSeconds()}) Received {name} scheduling shutdown...\n");
            ShutdownAsap = true;
            Loop.NextCronTicks = 0;
        });
    }

    void WritePidFile()
    {
        string path = Settings.PidFile;
        if (path.Length == 0 && Settings.Daemonize) path = "/var/run/redis.pid";
        if (path.Length == 0) return;
        try { File.WriteAllText(path, Environment.ProcessId + "\n"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Failed to write PID file: {e.Message}");
        }
    }

    void RemovePidFile()
    {
        string path = Settings.PidFile;
        if (path.Length == 0 && Settings.Daemonize) path = "/var/run/redis.pid";
        if (path.Length == 0) return;
        Log.Notice("Removing the pid file.");
        try { File.Delete(path); } catch (IOException) { }
    }

    // A shutdown waiting for lagging replicas (Redis 7.0's shutdown-timeout): its flags, deadline and the
    // SHUTDOWN clients blocked until it ends.
    bool shutdownNoSave, shutdownSave, shutdownForce;
    long shutdownDeadlineMs;
    readonly List<Client> shutdownClients = new();

    /// <summary>isShutdownInitiated: a shutdown waits for replicas to catch up.</summary>
    public bool ShutdownInitiated => shutdownDeadlineMs != 0;

    /// <summary>
    /// prepareForShutdown: unless NOW, with replicas that have not acknowledged the whole stream yet, writes are
    /// paused, the replicas asked for an ACK, and the shutdown finishes (from the cron) once they caught up or
    /// shutdown-timeout passed; true then, and <paramref name="client"/> (SHUTDOWN's) waits blocked.
    /// Otherwise finishes at once: exits, or returns false when the final save failed and not forced.
    /// </summary>
    public bool PrepareForShutdownAndExit(bool nosave, bool save, bool force = false, bool now = false, Client client = null)
    {
        if (ShutdownInitiated)
        {
            if (client != null) BlockForShutdown(client);
            return true;
        }
        Log.Warning("User requested shutdown...");
        var master = Repl.Master;
        if (!now && master.ShutdownTimeout != 0 && !master.ReadyToShutdown())
        {
            shutdownNoSave = nosave;
            shutdownSave = save;
            shutdownForce = force;
            shutdownDeadlineMs = Clock.NowMs + master.ShutdownTimeout * 1000L;
            if (!IsPaused()) master.SendGetAck();
            Pause(long.MaxValue, writesOnly: true);
            Log.Notice("Waiting for replicas before shutting down.");
            if (client != null) BlockForShutdown(client);
            return true;
        }
        return FinishShutdown(nosave, save, force);
    }

    void BlockForShutdown(Client c)
    {
        BlockForKeys(c, Array.Empty<byte[]>(), 0, Storage.ValueType.None, null);
        shutdownClients.Add(c);
    }

    /// <summary>serverCron's part: a shutdown waiting for replicas finishes once they caught up or the time is up.</summary>
    void ShutdownCron()
    {
        if (Clock.NowMs < shutdownDeadlineMs && !Repl.Master.ReadyToShutdown()) return;
        if (!FinishShutdown(shutdownNoSave, shutdownSave, shutdownForce))
            Log.Warning("Errors trying to shut down the server. Check the logs for more information.");
    }

    /// <summary>SHUTDOWN ABORT (abortShutdown): false when no shutdown is in progress or requested.</summary>
    public bool AbortShutdown()
    {
        if (ShutdownInitiated) CancelShutdown();
        else if (ShutdownAsap) ShutdownAsap = false;
        else return false;
        Log.Notice("Shutdown manually aborted.");
        return true;
    }

    /// <summary>cancelShutdown: the waiting SHUTDOWN clients get an error and writes resume.</summary>
    void CancelShutdown()
    {
        ShutdownAsap = false;
        bool waited = ShutdownInitiated;
        shutdownDeadlineMs = 0;
        foreach (var c in shutdownClients.ToArray())
            if ((c.Flags & (ClientFlags.Blocked | ClientFlags.Closed)) == ClientFlags.Blocked) UnblockWithError(c, "ERR Errors trying to SHUTDOWN. Check logs.");
        shutdownClients.Clear();
        if (waited) Unpause();
    }

    /// <summary>
    /// finishShutdown + exit: logs replicas still behind, saves the final RDB snapshot when save points are
    /// configured (or SAVE was asked) unless NOSAVE. Returns false, without exiting, when that save fails and
    /// not forced.
    /// </summary>
    bool FinishShutdown(bool nosave, bool save, bool force)
    {
        Repl.Master.LogLaggingReplicasAtShutdown();
        if (RdbBgsaveInProgress)
        {
            Log.Warning("There is a child saving an .rdb. Killing it!");
            KillBackgroundSave();
        }
        aof?.OnShutdown();
        if (!nosave && (HasSavePoints || save))
        {
            Log.Notice("Saving the final RDB snapshot before exiting.");
            if (!SaveRdb())
            {
                if (!force)
                {
                    Log.Warning("Error trying to save the DB, can't exit.");
                    CancelShutdown();
                    return false;
                }
                Log.Warning("Error trying to save the DB. Exit anyway.");
            }
        }
        RemovePidFile();
        Loop.CloseListeners();
        Log.Warning("Redis is now ready to exit, bye bye...");
        Environment.Exit(0);
        return true;
    }

    /// <summary>flushAllDataAndResetRDB: a running BGSAVE is stopped and, with save points, the empty dataset saved.</summary>
    public void FlushedAll()
    {
        KillBackgroundSave();
        if (HasSavePoints)
        {
            SaveRdb();
            DirtyCounter++;
        }
    }
}
