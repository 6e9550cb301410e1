using System.Diagnostics;
using Cinnabar.Server.Config;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// BGREWRITEAOF (rewriteAppendOnlyFileBackground / backgroundRewriteDoneHandler). A new INCR file is opened at
/// the start, so the BASE needs only the dataset as it is at that instant. There is no fork: the BASE is
/// serialized on the event-loop thread in one pass (a consistent point-in-time image, the loop does not serve
/// commands meanwhile), and the bytes are written, fsynced and renamed by a background thread while the server
/// serves writes again, which go to the new INCR file. The done handler runs back on the loop.
/// </summary>
public sealed partial class Aof
{
    public bool RewriteInProgress, RewriteScheduled;
    public long LastRewriteTimeSec = -1, Rewrites, ConsecutiveFailures;
    public bool LastBgrewriteOk = true;
    long rewriteStartTicks;
    int rewriteGeneration;

    string TempIncrName => "temp-" + S.AppendFilename + ".incr";

    IAofBaseWriter BaseWriter => UseRdbPreamble ? RdbBaseWriter : CommandFormBaseWriter.Instance;

    /// <summary>rewriteAppendOnlyFile: the BASE written synchronously (startup with an empty dataset).</summary>
    public bool RewriteSync(string path)
    {
        string temp = $"temp-rewriteaof-{Environment.ProcessId}.aof";
        try
        {
            using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                BaseWriter.Write(fs, server);
                fs.Flush(true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Failed opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): {e.Message}");
            try { File.Delete(temp); } catch (IOException) { }
            return false;
        }
        Log.Notice("SYNC append only file rewrite performed");
        return true;
    }

    /// <summary>
    /// openNewIncrAofForAppend: with AOF on, a new INCR file (seq+1) listed in a persisted manifest; while AOF is
    /// being switched on, the temp INCR. The old descriptor is fsynced and closed in the background.
    /// </summary>
    bool OpenNewIncrForAppend()
    {
        if (State == AofState.Off) return true;
        AofManifest temp = null;
        string name;
        if (State == AofState.WaitRewrite) name = TempIncrName;
        else
        {
            temp = Manifest.Dup();
            name = temp.NewIncrName(S.AppendFilename);
        }
        int newFd = AofNative.Open(PathOf(name), AofNative.O_WRONLY | AofNative.O_TRUNC | AofNative.O_CREAT);
        if (newFd < 0)
        {
            Log.Warning($"Can't open the append-only file {name}: {AofNative.StrError(AofNative.Errno)}");
            return false;
        }
        if (temp != null && !PersistManifest(temp))
        {
            AofNative.close(newFd);
            return false;
        }
        Log.Notice($"Creating AOF incr file {name} on background rewrite");
        if (fd >= 0)
        {
            bio.FsyncAndClose(fd);
            FsyncOffset = CurrentSize;
            lastFsyncUnix = UnixNow;
        }
        fd = newFd;
        LastIncrSize = 0;
        if (temp != null) Manifest = temp;
        return true;
    }

    /// <summary>BGREWRITEAOF and the automatic/switch-on rewrites. False (logged) when it could not start.</summary>
    public bool StartRewrite(out string error)
    {
        error = null;
        if (RewriteInProgress)
        {
            error = "ERR Background append only file rewriting already in progress";
            return false;
        }
        if (!CreateDirIfMissing())
        {
            LastBgrewriteOk = false;
            ConsecutiveFailures++;
            return false;
        }
        // Every INCR file starts with a SELECT; what is buffered belongs to the old INCR.
        selectedDb = -1;
        curTimestamp = 0;
        Flush(true);
        if (!OpenNewIncrForAppend())
        {
            LastBgrewriteOk = false;
            ConsecutiveFailures++;
            return false;
        }
        RewriteScheduled = false;
        rewriteStartTicks = Environment.TickCount64;
        string tempName = $"temp-rewriteaof-bg-{Environment.ProcessId}.aof";
        return StartSnapshotRewrite(tempName);
    }

    SnapshotJob rdbJob;

    /// <summary>
    /// The BASE (RDB preamble, or commands with aof-use-rdb-preamble no), written like BGSAVE writes dump.rdb:
    /// the keyspace snapshot copies each key before a write can touch it, the loop encodes keys in ~1 ms slices
    /// between clients, a thread writes the file.
    /// </summary>
    bool StartSnapshotRewrite(string tempName)
    {
        FileStream fs;
        try { fs = new FileStream(tempName, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Failed opening the temp file for AOF rewrite: {e.Message}");
            LastBgrewriteOk = false;
            ConsecutiveFailures++;
            return false;
        }
        Clock.Update();
        ISnapshotEncoder encoder;
        if (UseRdbPreamble)
        {
            var w = new RdbWriter(server.RdbCompression, server.RdbChecksum);
            w.WriteHeader(CinnabarServer.Version, server.UsedMemory(), aofBase: true);
            foreach (var lib in server.Scripting.Functions.Libraries) w.WriteFunction(lib.Code);
            var policy = S.MaxMemoryPolicy;
            bool lru = policy is EvictionPolicy.AllKeysLru or EvictionPolicy.VolatileLru;
            bool lfu = policy is EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu;
            encoder = new RdbSnapshotEncoder(w, lru, lfu, S.LfuDecayTime);
        }
        else encoder = new CommandFormSnapshotEncoder(server);
        rdbJob = new SnapshotJob(server.Dbs, encoder, fs, output =>
        {
            var file = (FileStream)output;
            file.Flush(flushToDisk: true);
            file.Dispose();
        }, "aof_rewrite");
        RewriteInProgress = true;
        rdbJobGeneration = ++rewriteGeneration;
        rdbJobTemp = tempName;
        Log.Notice($"Background append only file rewriting started by pid {Environment.ProcessId}");
        return true;
    }

    int rdbJobGeneration;
    string rdbJobTemp;

    /// <summary>Whether the loop must not sleep: the rewrite's snapshot still has keys to encode.</summary>
    public bool RewriteNeedsLoopTime => rdbJob != null && rdbJob.NeedsLoopTime;

    /// <summary>The loop's slice for the rewrite's snapshot, and its completion.</summary>
    public void StepRewrite(long deadlineTicks)
    {
        if (rdbJob == null) return;
        rdbJob.Step(deadlineTicks);
        if (rdbJob.Failure != null) rdbJob.ReleaseAfterFailure();
        if (!rdbJob.Finished) return;
        var job = rdbJob;
        rdbJob = null;
        RewriteDone(rdbJobGeneration, rdbJobTemp, job.Failure?.Message);
    }

    /// <summary>backgroundRewriteDoneHandler, on the loop thread.</summary>
    void RewriteDone(int generation, string tempName, string writeError)
    {
        if (generation != rewriteGeneration || !RewriteInProgress)
        {
            try { File.Delete(tempName); } catch (IOException) { }
            return;
        }
        RewriteInProgress = false;
        LastRewriteTimeSec = (Environment.TickCount64 - rewriteStartTicks) / 1000;
        if (writeError != null)
        {
            Log.Warning($"Background AOF rewrite failed: {writeError}");
            RewriteFailed();
            return;
        }
        Log.Notice("Background AOF rewrite terminated with success");
        var temp = Manifest.Dup();
        string baseName = temp.NewBaseName(S.AppendFilename, UseRdbPreamble);
        try { File.Move(tempName, PathOf(baseName), overwrite: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Error trying to rename the temporary AOF base file {tempName} into {baseName}: {e.Message}");
            try { File.Delete(tempName); } catch (IOException) { }
            RewriteFailed();
            return;
        }
        Log.Notice($"Successfully renamed the temporary AOF base file {tempName} into {baseName}");
        string newIncr = null;
        if (State == AofState.WaitRewrite)
        {
            newIncr = temp.NewIncrName(S.AppendFilename);
            try { File.Move(PathOf(TempIncrName), PathOf(newIncr), overwrite: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Warning($"Error trying to rename the temporary AOF incr file {TempIncrName} into {newIncr}: {e.Message}");
                try { File.Delete(PathOf(baseName)); } catch (IOException) { }
                RewriteFailed();
                return;
            }
            Log.Notice($"Successfully renamed the temporary AOF incr file {TempIncrName} into {newIncr}");
        }
        temp.MarkRewrittenIncrsAsHistory(keepLast: fd >= 0);
        if (!PersistManifest(temp))
        {
            try { File.Delete(PathOf(baseName)); } catch (IOException) { }
            if (newIncr != null)
                try { File.Move(PathOf(newIncr), PathOf(TempIncrName), overwrite: true); } catch (IOException) { }
            RewriteFailed();
            return;
        }
        Manifest = temp;
        CurrentSize = FileSize(baseName) + LastIncrSize;
        RewriteBaseSize = CurrentSize;
        FsyncOffset = CurrentSize;
        Log.Notice("Background AOF rewrite finished successfully");
        if (State == AofState.WaitRewrite) State = AofState.On;
        DeleteHistoryFiles();
        LastBgrewriteOk = true;
        ConsecutiveFailures = 0;
        Rewrites++;
    }

    void RewriteFailed()
    {
        LastBgrewriteOk = false;
        ConsecutiveFailures++;
        Rewrites++;
        if (State == AofState.WaitRewrite) DeleteTempIncr();
    }

    /// <summary>Abandons a rewrite in flight (AOF switched off, shutdown): its result is discarded when it lands.</summary>
    void CancelRewrite()
    {
        if (!RewriteInProgress) return;
        RewriteInProgress = false;
        rewriteGeneration++;
        if (rdbJob != null)
        {
            rdbJob.Cancel();
            rdbJob = null;
            try { File.Delete(rdbJobTemp); } catch (IOException) { }
        }
    }

    void DeleteTempIncr()
    {
        Log.Notice($"Removing the temp incr aof file {TempIncrName} in the background");
        string path = PathOf(TempIncrName);
        ThreadPool.QueueUserWorkItem(_ => { try { File.Delete(path); } catch (IOException) { } });
    }
}
