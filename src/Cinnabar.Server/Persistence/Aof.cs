using System.Diagnostics;
using System.Text;
using Cinnabar.Server.Config;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Persistence;

public enum AofState { Off, On, WaitRewrite }

/// <summary>
/// The multi-part append-only file (aof.c): the in-memory buffer propagated commands are appended to, its write
/// and fsync before replies go out (beforeSleep), the manifest with BASE and INCR files, BGREWRITEAOF, and
/// switching AOF on and off at runtime. Loading is in <see cref="AofLoader"/>, the BASE writers in
/// <see cref="IAofBaseWriter"/> implementations.
/// </summary>
public sealed partial class Aof : IPropagationSink
{
    readonly CinnabarServer server;
    ServerSettings S => server.Settings;
    Log Log => server.Log;

    public AofState State;
    public AofManifest Manifest = new();
    int fd = -1;
    readonly RespBuffer buf = new(16 * 1024);
    int selectedDb = -1;
    long curTimestamp;

    public long CurrentSize, FsyncOffset, LastIncrSize, RewriteBaseSize;
    long lastFsyncUnix;
    long flushPostponedStart;
    public long DelayedFsync;

    // Write errors (aof_last_write_status / aof_last_write_errno) and background fsync errors (aof_bio_fsync_status).
    public bool LastWriteOk = true;
    public int LastWriteErrno;
    readonly BackgroundFsync bio;

    /// <summary>The BASE writer: command form until an RDB writer is plugged in for aof-use-rdb-preamble yes.</summary>
    public IAofBaseWriter RdbBaseWriter;

    public Aof(CinnabarServer server)
    {
        this.server = server;
        bio = new BackgroundFsync();
    }

    public string DirPath => S.AppendDirname;
    string PathOf(string name) => Path.Combine(S.AppendDirname, name);
    static long UnixNow => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    // ------------------------------------------------------------------ feeding (feedAppendOnlyFile)

    public void Feed(int db, ReadOnlySpan<byte> command)
    {
        if (!(State == AofState.On || (State == AofState.WaitRewrite && RewriteInProgress))) return;
        if (S.AofTimestampEnabled)
        {
            long now = UnixNow;
            if (now > curTimestamp)
            {
                AppendTimestamp(buf, now);
                curTimestamp = now;
            }
        }
        if (db >= 0 && db != selectedDb)
        {
            buf.ArrayHeader(2);
            buf.Bulk("SELECT"u8);
            buf.Bulk(db);
            selectedDb = db;
        }
        buf.Raw(command);
    }

    static void AppendTimestamp(RespBuffer b, long unix) => b.Raw(Encoding.ASCII.GetBytes($"#TS:{unix}\r\n"));

    public bool HasPending => buf.Length > 0;
    public int BufferLength => buf.Length;

    // ------------------------------------------------------------------ write and fsync (flushAppendOnlyFile)

    /// <summary>
    /// Writes the buffer to the INCR file before replies are sent (beforeSleep) and fsyncs by the policy:
    /// always here and now, everysec by the background thread at most once a second, no never.
    /// </summary>
    public void Flush(bool force)
    {
        if (fd < 0) { buf.Clear(); return; }
        long now = UnixNow;
        if (buf.Length == 0)
        {
            // Nothing new, but written bytes may still be unsynced: fsync them once a second.
            if (S.AppendFsync == AppendFsync.EverySec && FsyncOffset != CurrentSize && now > lastFsyncUnix && !bio.Pending)
            {
                bio.Fsync(fd);
                FsyncOffset = CurrentSize;
                lastFsyncUnix = now;
            }
            return;
        }
        bool syncInProgress = S.AppendFsync == AppendFsync.EverySec && bio.Pending;
        if (S.AppendFsync == AppendFsync.EverySec && !force && syncInProgress)
        {
            if (flushPostponedStart == 0)
            {
                flushPostponedStart = now;
                return;
            }
            if (now - flushPostponedStart < 2) return;
            DelayedFsync++;
            Log.Notice("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
        }
        flushPostponedStart = 0;

        long written = AofNative.WriteAll(fd, buf.Span, out int errno);
        if (written != buf.Length)
        {
            HandleWriteError(written, errno);
            return;
        }
        if (!LastWriteOk)
        {
            Log.Warning("AOF write error looks solved, Redis can write again.");
            LastWriteOk = true;
        }
        CurrentSize += written;
        LastIncrSize += written;
        buf.Clear();
        buf.Shrink(16 * 1024);

        if (S.NoAppendfsyncOnRewrite && RewriteInProgress) return;
        if (S.AppendFsync == AppendFsync.Always)
        {
            if (AofNative.fdatasync(fd) < 0)
            {
                Log.Warning($"Can't persist AOF for fsync error when the AOF fsync policy is 'always': {AofNative.StrError(AofNative.Errno)}. Exiting...");
                Environment.Exit(1);
            }
            FsyncOffset = CurrentSize;
            lastFsyncUnix = now;
        }
        else if (S.AppendFsync == AppendFsync.EverySec && now > lastFsyncUnix)
        {
            if (!syncInProgress) bio.Fsync(fd);
            FsyncOffset = CurrentSize;
            lastFsyncUnix = now;
        }
    }

    long lastWriteErrorLog;

    void HandleWriteError(long written, int errno)
    {
        long now = UnixNow;
        bool log = now - lastWriteErrorLog > 30;
        if (log) lastWriteErrorLog = now;
        if (written < 0)
        {
            if (log) Log.Warning($"Error writing to the AOF file: {AofNative.StrError(errno)}");
            LastWriteErrno = errno;
        }
        else
        {
            if (log) Log.Warning($"Short write while writing to the AOF file: (nwritten={written}, expected={buf.Length})");
            // Take the partial command back out, so the file ends on a command boundary.
            if (AofNative.ftruncate(fd, LastIncrSize) < 0)
            {
                if (log) Log.Warning($"Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: {AofNative.StrError(AofNative.Errno)}");
                CurrentSize += written;
                LastIncrSize += written;
                buf.Buffer.AsSpan((int)written, buf.Length - (int)written).CopyTo(buf.Buffer);
                buf.Length -= (int)written;
            }
            LastWriteErrno = AofNative.ENOSPC;
        }
        if (S.AppendFsync == AppendFsync.Always)
        {
            Log.Warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
            Environment.Exit(1);
        }
        LastWriteOk = false;
    }

    /// <summary>writeCommandsDeniedByDiskError for the AOF: the MISCONF text, or null when writes may go ahead.</summary>
    public string DiskErrorMessage()
    {
        if (State == AofState.Off) return null;
        if (!LastWriteOk) return "MISCONF Errors writing to the AOF file: " + AofNative.StrError(LastWriteErrno);
        int e = bio.LastErrno;
        if (e != 0) return "MISCONF Errors writing to the AOF file: " + AofNative.StrError(e);
        return null;
    }

    public bool WriteStatusOk => LastWriteOk && bio.LastErrno == 0;

    // ------------------------------------------------------------------ cron (serverCron's AOF part)

    public void Cron()
    {
        long now = UnixNow;
        if (State == AofState.On && S.AppendFsync != AppendFsync.No && flushPostponedStart != 0) Flush(false);
        // A failed write is retried once a second.
        if (State == AofState.On && !LastWriteOk && now != lastRetryUnix)
        {
            lastRetryUnix = now;
            Flush(false);
        }
        if (!RewriteInProgress && RewriteScheduled && !server.RdbBgsaveInProgress && !RewriteLimited())
        {
            StartRewrite(out _);
        }
        // Automatic rewrite once the AOF has grown enough past the size after the last rewrite.
        if (State == AofState.On && !RewriteInProgress && !server.RdbBgsaveInProgress && S.AutoAofRewritePercentage > 0 && CurrentSize > S.AutoAofRewriteMinSize)
        {
            long baseSize = RewriteBaseSize > 0 ? RewriteBaseSize : 1;
            long growth = CurrentSize * 100 / baseSize - 100;
            if (growth >= S.AutoAofRewritePercentage && !RewriteLimited())
            {
                Log.Notice($"Starting automatic rewriting of AOF on {growth}% growth");
                StartRewrite(out _);
            }
        }
    }

    long lastRetryUnix;
    int nextDelayMinutes;
    long nextRewriteUnix;

    /// <summary>aofRewriteLimited: after 3 consecutive failures automatic rewrites wait 1, 2, 4 ... 60 minutes.</summary>
    bool RewriteLimited()
    {
        if (ConsecutiveFailures < 3)
        {
            nextDelayMinutes = 0;
            nextRewriteUnix = 0;
            return false;
        }
        if (nextRewriteUnix != 0)
        {
            if (UnixNow < nextRewriteUnix) return true;
            nextRewriteUnix = 0;
            return false;
        }
        nextDelayMinutes = nextDelayMinutes == 0 ? 1 : Math.Min(60, nextDelayMinutes * 2);
        nextRewriteUnix = UnixNow + nextDelayMinutes * 60;
        Log.Warning($"Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {nextDelayMinutes} minutes");
        return true;
    }

    // ------------------------------------------------------------------ startup

    /// <summary>aofLoadManifestFromDisk: read the manifest if the directory and file exist; fatal on a bad one.</summary>
    public bool LoadManifestFromDisk()
    {
        Manifest = new AofManifest();
        if (!Directory.Exists(DirPath))
        {
            Log.Debug($"The AOF directory {DirPath} doesn't exist");
            return true;
        }
        string name = S.AppendFilename + ".manifest";
        string path = PathOf(name);
        if (!File.Exists(path))
        {
            Log.Debug($"The AOF manifest file {name} doesn't exist");
            return true;
        }
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Fatal error: can't open the AOF manifest file {path} for reading: {e.Message}");
            return false;
        }
        try
        {
            Manifest = AofManifest.Parse(data);
            return true;
        }
        catch (AofManifest.FormatError e)
        {
            Log.Warning("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
            if (e.LineText != null)
            {
                Log.Warning($"Reading the manifest file, at line {e.Line}\n");
                Log.Warning($">>> '{e.LineText}'\n");
            }
            Log.Warning(e.Message + "\n");
            return false;
        }
    }

    /// <summary>
    /// aofOpenIfNeededOnServerStart: with AOF on, make sure a BASE exists (an empty dataset gets one written now),
    /// open the last INCR for appending (or a new one) and persist the manifest. False means exit(1).
    /// </summary>
    public bool OpenOnServerStart()
    {
        if (State != AofState.On) return true;
        if (!CreateDirIfMissing()) return false;
        bool hadIncr = Manifest.Incrs.Count > 0;
        if (Manifest.Base == null && !hadIncr)
        {
            string baseName = Manifest.NewBaseName(S.AppendFilename, UseRdbPreamble);
            if (!RewriteSync(PathOf(baseName))) return false;
            Log.Notice($"Creating AOF base file {baseName} on server start");
        }
        string incr = Manifest.LastIncrName(S.AppendFilename);
        fd = AofNative.Open(PathOf(incr), AofNative.O_WRONLY | AofNative.O_APPEND | AofNative.O_CREAT);
        if (fd < 0)
        {
            Log.Warning($"Can't open the append-only file {incr}: {AofNative.StrError(AofNative.Errno)}");
            return false;
        }
        if (!PersistManifest(Manifest)) return false;
        LastIncrSize = FileSize(incr);
        if (CurrentSize == 0) CurrentSize = TotalSize();
        FsyncOffset = CurrentSize;
        Log.Notice(hadIncr ? $"Opening AOF incr file {incr} on server start" : $"Creating AOF incr file {incr} on server start");
        server.Prop.Aof = this;
        server.Prop.UpdateEnabled();
        return true;
    }

    bool CreateDirIfMissing()
    {
        try
        {
            Directory.CreateDirectory(DirPath);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open or create append-only dir {DirPath}: {e.Message}");
            return false;
        }
    }

    public bool UseRdbPreamble => S.AofUseRdbPreamble && RdbBaseWriter != null;

    long FileSize(string name)
    {
        try { return new FileInfo(PathOf(name)).Length; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    long TotalSize()
    {
        long total = 0;
        if (Manifest.Base != null) total += FileSize(Manifest.Base.FileName);
        foreach (var i in Manifest.Incrs) total += FileSize(i.FileName);
        return total;
    }

    public bool PersistManifest(AofManifest am)
    {
        if (!am.Dirty) return true;
        string name = S.AppendFilename + ".manifest";
        string err = AofNative.WriteFileAtomically(DirPath, "temp-" + name, name, Encoding.Latin1.GetBytes(am.Format()));
        if (err != null)
        {
            Log.Warning(err);
            return false;
        }
        am.Dirty = false;
        return true;
    }

    /// <summary>aofDelHistoryFiles: HISTORY files are deleted (unless aof-disable-auto-gc) and dropped from the manifest.</summary>
    public void DeleteHistoryFiles()
    {
        if (S.AofDisableAutoGc || Manifest.History.Count == 0) return;
        foreach (var h in Manifest.History)
        {
            Log.Notice($"Removing the history file {h.FileName} in the background");
            string path = PathOf(h.FileName);
            ThreadPool.QueueUserWorkItem(_ => { try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { } });
        }
        Manifest.History.Clear();
        Manifest.Dirty = true;
        PersistManifest(Manifest);
    }

    // ------------------------------------------------------------------ shutdown, switching on and off

    /// <summary>prepareForShutdown's AOF part: flush and fsync whatever is buffered.</summary>
    public void OnShutdown()
    {
        if (State == AofState.Off || fd < 0) return;
        if (RewriteInProgress) Log.Warning("There is a child rewriting the AOF. Killing it!");
        CancelRewrite();
        Log.Notice("Calling fsync() on the AOF file.");
        Flush(true);
        AofNative.fsync(fd);
    }

    /// <summary>stopAppendOnly (CONFIG SET appendonly no).</summary>
    public void Stop()
    {
        if (State == AofState.Off) return;
        Flush(true);
        if (fd >= 0)
        {
            if (AofNative.fsync(fd) < 0) Log.Warning($"Fail to fsync the AOF file: {AofNative.StrError(AofNative.Errno)}");
            else FsyncOffset = CurrentSize;
            AofNative.close(fd);
            fd = -1;
        }
        lastFsyncUnix = UnixNow;
        selectedDb = -1;
        State = AofState.Off;
        RewriteScheduled = false;
        if (RewriteInProgress)
        {
            Log.Notice("Killing running AOF rewrite child");
            CancelRewrite();
            DeleteTempIncr();
        }
        server.Prop.Aof = null;
        server.Prop.UpdateEnabled();
    }

    /// <summary>startAppendOnly (CONFIG SET appendonly yes): a rewrite writes the BASE; commands meanwhile go to a temp INCR.</summary>
    public bool Start()
    {
        if (State != AofState.Off) return true;
        State = AofState.WaitRewrite;
        server.Prop.Aof = this;
        server.Prop.UpdateEnabled();
        if (!StartRewrite(out _))
        {
            State = AofState.Off;
            server.Prop.Aof = null;
            server.Prop.UpdateEnabled();
            Log.Warning("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            return false;
        }
        lastFsyncUnix = UnixNow;
        LastWriteOk = true;
        bio.ClearError();
        return true;
    }

    public void SetFsyncPolicy(AppendFsync policy)
    {
        // Switching to always: sync what was written so far now (as Redis does from CONFIG SET appendfsync).
        if (policy == AppendFsync.Always && S.AppendFsync != AppendFsync.Always && fd >= 0)
        {
            Flush(true);
            AofNative.fsync(fd);
            FsyncOffset = CurrentSize;
        }
        S.AppendFsync = policy;
    }

    // ------------------------------------------------------------------ INFO persistence

    public IEnumerable<(string, object)> InfoFields()
    {
        yield return ("aof_enabled", State != AofState.Off ? 1 : 0);
        yield return ("aof_rewrite_in_progress", RewriteInProgress ? 1 : 0);
        yield return ("aof_rewrite_scheduled", RewriteScheduled ? 1 : 0);
        yield return ("aof_last_rewrite_time_sec", LastRewriteTimeSec);
        yield return ("aof_current_rewrite_time_sec", RewriteInProgress ? (Environment.TickCount64 - rewriteStartTicks) / 1000 : -1);
        yield return ("aof_last_bgrewrite_status", LastBgrewriteOk ? "ok" : "err");
        yield return ("aof_rewrites", Rewrites);
        yield return ("aof_rewrites_consecutive_failures", ConsecutiveFailures);
        yield return ("aof_last_write_status", WriteStatusOk ? "ok" : "err");
        yield return ("aof_last_cow_size", 0);
    }

    public IEnumerable<(string, object)> InfoFieldsWhenEnabled()
    {
        if (State == AofState.Off) yield break;
        yield return ("aof_current_size", CurrentSize);
        yield return ("aof_base_size", RewriteBaseSize);
        yield return ("aof_pending_rewrite", RewriteScheduled ? 1 : 0);
        yield return ("aof_buffer_length", buf.Length);
        yield return ("aof_pending_bio_fsync", bio.Pending ? 1 : 0);
        yield return ("aof_delayed_fsync", DelayedFsync);
    }
}

/// <summary>
/// bio.c's AOF fsync job: one background thread that fsyncs (and optionally closes) descriptors handed to it,
/// so appendfsync everysec never waits for the disk on the event loop.
/// </summary>
sealed class BackgroundFsync
{
    readonly object gate = new();
    readonly Queue<(int fd, bool close)> jobs = new();
    int pending;
    public volatile int LastErrno;
    Thread thread;

    public bool Pending => Volatile.Read(ref pending) > 0;

    public void ClearError() => LastErrno = 0;

    public void Fsync(int fd) => Enqueue(fd, false);
    public void FsyncAndClose(int fd) => Enqueue(fd, true);

    void Enqueue(int fd, bool close)
    {
        lock (gate)
        {
            jobs.Enqueue((fd, close));
            Interlocked.Increment(ref pending);
            if (thread == null)
            {
                thread = new Thread(Run) { IsBackground = true, Name = "bio_aof_fsync" };
                thread.Start();
            }
            Monitor.Pulse(gate);
        }
    }

    void Run()
    {
        while (true)
        {
            (int fd, bool close) job;
            lock (gate)
            {
                while (jobs.Count == 0) Monitor.Wait(gate);
                job = jobs.Dequeue();
            }
            if (AofNative.fdatasync(job.fd) < 0)
            {
                int e = AofNative.Errno;
                if (e != AofNative.EBADF && e != AofNative.EINVAL) LastErrno = e;
            }
            else LastErrno = 0;
            if (job.close) AofNative.close(job.fd);
            Interlocked.Decrement(ref pending);
        }
    }
}
