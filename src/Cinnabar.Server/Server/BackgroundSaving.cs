using System.Diagnostics;
using System.Globalization;
using Cinnabar.Server.Config;
using Cinnabar.Server.Persistence;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>server.rdb_child_type.</summary>
public enum RdbChildType { None, Disk, Socket }

/// <summary>
/// BGSAVE and the save points (rdb.c's rdbSaveBackground and backgroundSaveDoneHandler, serverCron's save
/// rules), with a <see cref="SnapshotJob"/> where Redis forks a child.
/// </summary>
public sealed partial class CinnabarServer
{
    const int BgsaveRetryDelaySeconds = 5;   // CONFIG_BGSAVE_RETRY_DELAY

    SnapshotJob rdbJob;
    RdbChildType rdbJobType;
    string rdbJobTempPath;
    long rdbJobStartUnix = -1;
    long dirtyBeforeBgsave;
    long lastBgsaveTryUnix;
    bool bgsaveScheduled;

    public bool RdbBgsaveInProgress => rdbJob != null;
    /// <summary>server.rdb_child_type: what the running RDB job writes to (a diskless sync streams to replicas).</summary>
    public RdbChildType RdbChildKind => rdbJob == null ? RdbChildType.None : rdbJobType;
    /// <summary>server.in_exec: EXEC is running its queued commands (a BGSAVE there is scheduled instead).</summary>
    public bool InExec;
    public long RdbSaves;
    public long RdbLastBgsaveTimeSec = -1;
    public long RdbCurrentBgsaveTimeSec => rdbJob == null ? -1 : DateTimeOffset.UtcNow.ToUnixTimeSeconds() - rdbJobStartUnix;
    public long CurrentSaveKeysProcessed => rdbJob?.KeysProcessed ?? 0;
    public long CurrentSaveKeysTotal => rdbJob?.KeysTotal ?? 0;

    /// <summary>Whether the event loop should not sleep: a snapshot has keys left to encode.</summary>
    public bool BackgroundWorkPending => (rdbJob != null && rdbJob.NeedsLoopTime && !rdbJob.WriterBehind) || (aof != null && aof.RewriteNeedsLoopTime);

    static readonly Action NoOp = () => { };

    /// <summary>Another job owns the keyspace snapshot (an AOF rewrite will say so here too).</summary>
    public bool ChildActive => rdbJob != null || (aof != null && aof.RewriteInProgress);

    /// <summary>rdbSaveBackground: starts a BGSAVE; the error text when it cannot start.</summary>
    public string StartBackgroundSave()
    {
        if (rdbJob != null) return "ERR Background save already in progress";
        lastBgsaveTryUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string tmp = Path.Combine(Settings.Dir, $"temp-{Environment.ProcessId}.rdb");
        FileStream fs;
        try
        {
            fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Failed opening the temp RDB file {Path.GetFileName(tmp)} (in server root dir {Settings.Dir}) for saving: {ErrnoText(e)}");
            BackgroundSaveFailed();
            return null;   // Redis's child fails after the fork: BGSAVE itself was accepted
        }
        string final = RdbPath;
        rdbJob = CreateRdbJob(fs, output =>
        {
            var file = (FileStream)output;
            file.Flush(flushToDisk: true);
            file.Dispose();
            File.Move(tmp, final, overwrite: true);
        }, "bgsave");
        rdbJobType = RdbChildType.Disk;
        rdbJobTempPath = tmp;
        rdbJobStartUnix = lastBgsaveTryUnix;
        dirtyBeforeBgsave = DirtyCounter;
        bgsaveScheduled = false;
        Log.Notice($"Background saving started by pid {Environment.ProcessId}");
        return null;
    }

    /// <summary>
    /// The snapshot job behind BGSAVE and a diskless sync: the header (with the replication aux fields when this
    /// server has replication history, rdbPopulateSaveInfo), the function libraries, then the keys.
    /// </summary>
    SnapshotJob CreateRdbJob(Stream output, Action<Stream> complete, string threadName)
    {
        Clock.Update();
        var w = new RdbWriter(RdbCompression, RdbChecksum);
        w.WriteHeader(Version, UsedMemory(), aofBase: false, repl: Repl.PopulateSaveInfo());
        if (scripting != null)
            foreach (var lib in scripting.Functions.Libraries) w.WriteFunction(lib.Code);
        bool lru = Settings.MaxMemoryPolicy is EvictionPolicy.AllKeysLru or EvictionPolicy.VolatileLru;
        bool lfu = Settings.MaxMemoryPolicy is EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu;
        // A writer that fell behind (slow disk, or a diskless sync paced by its replicas) wakes the loop when it
        // caught up, so the loop sleeps meanwhile instead of spinning.
        return new SnapshotJob(Dbs, new RdbSnapshotEncoder(w, lru, lfu, Settings.LfuDecayTime), output, complete, threadName, RdbKeySaveDelayMicros)
        {
            WriterCaughtUp = () => Loop.Post(NoOp),
        };
    }

    /// <summary>
    /// rdbSaveToSlavesSockets: a diskless sync's RDB job, written into <paramref name="pipe"/> (which the
    /// replication master drains to the replicas); <paramref name="complete"/> runs on the job's thread after
    /// the last RDB byte. Null, or the error text when another job holds the keyspace.
    /// </summary>
    public string StartSocketSave(Stream pipe, Action<Stream> complete)
    {
        if (ChildActive) return "ERR Background save already in progress";
        rdbJobStartUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        rdbJob = CreateRdbJob(pipe, complete, "rdb-to-replicas");
        rdbJobType = RdbChildType.Socket;
        Log.Notice($"Background RDB transfer started by pid {Environment.ProcessId}");
        return null;
    }

    /// <summary>checkChildrenDone for the RDB job: processes its end now if it has finished.</summary>
    public void CheckRdbJobDone()
    {
        if (rdbJob != null && rdbJob.Finished) BackgroundSaveDone();
    }

    /// <summary>BGSAVE SCHEDULE while another job runs: start as soon as it ends.</summary>
    public void ScheduleBackgroundSave() => bgsaveScheduled = true;

    /// <summary>
    /// Called before the loop sleeps: encodes keys for a running snapshot (BGSAVE, an AOF rewrite) for a slice of
    /// time. <paramref name="clientTicks"/> is what this pass spent on clients (-1: an idle pass). Busy, the
    /// snapshot gets a third of that (between 50 µs and 1 ms), so clients keep about three quarters of the loop
    /// while a save runs — fork gives Redis's parent most of its core; idle, it takes 10 ms slices to finish soon.
    /// </summary>
    public void StepBackgroundJobs(long clientTicks)
    {
        long budget = clientTicks < 0
            ? Stopwatch.Frequency / 100
            : Math.Clamp(clientTicks / 3, Stopwatch.Frequency / 20_000, Stopwatch.Frequency / 1000);
        if (aof != null && aof.RewriteInProgress) aof.StepRewrite(Stopwatch.GetTimestamp() + budget);
        if (rdbJob == null) return;
        rdbJob.Step(Stopwatch.GetTimestamp() + budget);
        if (rdbJob.Failure != null) rdbJob.ReleaseAfterFailure();
        if (rdbJob.Finished) BackgroundSaveDone();
    }

    /// <summary>backgroundSaveDoneHandler.</summary>
    void BackgroundSaveDone()
    {
        var job = rdbJob;
        var type = rdbJobType;
        rdbJob = null;
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        RdbLastBgsaveTimeSec = now - rdbJobStartUnix;
        rdbJobStartUnix = -1;
        if (type == RdbChildType.Socket)
        {
            // backgroundSaveDoneHandlerSocket: nothing was saved, the status of the last save stays.
            if (job.Failure == null) Log.Notice("Background RDB transfer terminated with success");
            else Log.Warning("Background transfer error");
        }
        else if (job.Failure == null)
        {
            Log.Notice("DB saved on disk");
            Log.Notice("Background saving terminated with success");
            DirtyCounter -= dirtyBeforeBgsave;
            LastSaveUnix = now;
            LastBgsaveStatusOk = 1;
            RdbSaves++;
        }
        else
        {
            Log.Warning($"Write error saving DB on disk: {ErrnoText(job.Failure)}");
            try { File.Delete(rdbJobTempPath); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            Log.Warning("Background saving error");
            BackgroundSaveFailed();
        }
        Repl.Master.RdbJobDone(job.Failure == null, type);   // updateSlavesWaitingBgsave
    }

    void BackgroundSaveFailed()
    {
        LastBgsaveStatusOk = 0;
    }

    /// <summary>killRDBChild: SHUTDOWN, FLUSHALL and a SAVE that must not race the job stop it.</summary>
    public void KillBackgroundSave()
    {
        if (rdbJob == null) return;
        var type = rdbJobType;
        Repl.Master.RdbJobKilling(type);   // a diskless job's writer may wait on its replicas: let go first
        rdbJob.Cancel();
        if (type == RdbChildType.Disk)
            try { File.Delete(rdbJobTempPath); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        rdbJob = null;
        rdbJobStartUnix = -1;
        Repl.Master.RdbJobDone(false, type);
    }

    int RdbKeySaveDelayMicros => int.TryParse(Config.GetValue("rdb-key-save-delay"), out int d) ? d : 0;

    string cachedSaveText;
    (long seconds, long changes)[] cachedSavePoints = Array.Empty<(long, long)>();

    (long seconds, long changes)[] SavePoints()
    {
        string text = Config.GetValue("save") ?? "";
        if (!ReferenceEquals(text, cachedSaveText))
        {
            var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var points = new List<(long, long)>();
            for (int i = 0; i + 1 < parts.Length; i += 2)
                if (long.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out long s)
                    && long.TryParse(parts[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long n))
                    points.Add((s, n));
            cachedSavePoints = points.ToArray();
            cachedSaveText = text;
        }
        return cachedSavePoints;
    }

    /// <summary>serverCron's part: a finished job, a scheduled BGSAVE, and the save points.</summary>
    void BackgroundSaveCron()
    {
        if (rdbJob != null)
        {
            if (rdbJob.Finished) BackgroundSaveDone();
            return;
        }
        if (ChildActive) return;   // an AOF rewrite holds the keyspace snapshot
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (bgsaveScheduled && (now - lastBgsaveTryUnix > BgsaveRetryDelaySeconds || LastBgsaveStatusOk == 1))
        {
            StartBackgroundSave();
            return;
        }
        foreach (var (seconds, changes) in SavePoints())
        {
            // After a failed save, wait before trying again even if the save point still holds.
            if (DirtyCounter >= changes && now - LastSaveUnix > seconds
                && (now - lastBgsaveTryUnix > BgsaveRetryDelaySeconds || LastBgsaveStatusOk == 1))
            {
                Log.Notice($"{changes} changes in {seconds} seconds. Saving...");
                StartBackgroundSave();
                break;
            }
        }
    }

    /// <summary>writeCommandsDeniedByDiskError's RDB case: the MISCONF reply, or null.</summary>
    public string DiskErrorDeniesWrites() =>
        Settings.StopWritesOnBgsaveError && LastBgsaveStatusOk == 0 && SavePoints().Length > 0
            ? "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."
            : null;
}
